"""The workspace catalog: every image file of a workspace once (an ``Asset``), grouped into datasets.

A project uses an asset through its own ``Image`` row, which holds the
per-project state (batch, annotations, review, tags) and a copy of the asset's
fixed facts (file names, size, name, upload time): those never change after
the upload, and the copy keeps every page of a project — board, catalog,
editor, exports — reading one table with its own indexes. The same asset may
be in any number of projects, at most once in each.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Workspace


class Dataset(models.Model):
    """A named group of a workspace's images; each upload creates or extends one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="dataset_name_unique_in_workspace")]
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    """One stored image file of a workspace's catalog, whatever projects use it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="assets", db_index=False)
    # RESTRICT: a dataset with images cannot be deleted on its own; its workspace can, with them.
    dataset = models.ForeignKey(Dataset, on_delete=models.RESTRICT, related_name="assets", db_index=False)
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "sha256"], name="asset_sha256_unique_in_workspace")]
        # The workspace catalog pages newest first, by (uploaded_at, id), in all or in one dataset.
        indexes = [
            models.Index(fields=["workspace", "uploaded_at", "id"]),
            models.Index(fields=["dataset", "uploaded_at", "id"]),
        ]
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.original_filename

    # The fields a project's Image copies from its asset when it joins the project: ``SHARED`` always
    # equal the asset's; the name is the one the picture was uploaded under in that project.
    SHARED = ("file", "thumbnail", "width", "height", "sha256", "uploaded_at")
    COPIED = (*SHARED, "original_filename")
