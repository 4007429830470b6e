"""Buckets a project imports images from, and the objects it has taken from each.

A ``BucketSource`` is an S3-compatible bucket (and prefix) a manager connected, with credentials
stored encrypted (``core.encryption``) and never shown again: the page shows the access key's last
four characters only. A ``BucketObject`` records each object an import has handled, by key and
ETag, with what came of it: an object once handled is never imported again (an object rewritten
since has a new ETag, and is new).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from boards.models.images import Image
from boards.models.projects import Project


class BucketSource(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bucket_sources")
    name = models.CharField(max_length=100)
    endpoint_url = models.CharField(max_length=300, blank=True, help_text="Empty for AWS S3.")
    region = models.CharField(max_length=50, blank=True)
    bucket = models.CharField(max_length=63)
    prefix = models.CharField(max_length=500, blank=True)
    access_key = models.TextField(help_text="Encrypted.")
    secret_key = models.TextField(help_text="Encrypted.")
    key_hint = models.CharField(max_length=8, help_text="The access key's last characters, to tell keys apart.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="bucket_source_name_once")]

    def __str__(self) -> str:
        return f"{self.name} (s3://{self.bucket}/{self.prefix})"


class BucketObject(models.Model):
    source = models.ForeignKey(BucketSource, on_delete=models.CASCADE, related_name="handled")
    key = models.CharField(max_length=1024)
    etag = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=12, help_text="landed, duplicate or rejected (as an upload's files)")
    reason = models.TextField(blank=True)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key", "etag"], name="bucket_object_once")]

    def __str__(self) -> str:
        return f"{self.key} ({self.outcome})"
