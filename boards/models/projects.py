"""A project and what it names once for all its images: label classes and tags."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Workspace


class Project(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    review_mode = models.BooleanField(
        default=True, help_text="Annotated batches go to Review first; off sends them to Dataset."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "slug"], name="project_slug_unique_in_workspace")]
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#3b82f6")
    hotkey = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_class_name_unique_in_project"),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                name="label_class_hotkey_unique_in_project",
                violation_error_message="Another class of this project already has this hotkey.",
            ),
        ]
        ordering = ["project", "name"]
        verbose_name_plural = "label classes"

    def __str__(self) -> str:
        return self.name

    @property
    def workspace_id(self) -> int:
        return self.project.workspace_id


class Tag(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="tag_name_unique_in_project")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
