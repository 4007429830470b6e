"""Reads behind the archived-batches and merge pages."""

from __future__ import annotations

from django.db import models
from django.db.models import Count, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from boards.models import Batch, BatchEvent, BatchStatus, EventKind, Image, Project

# How many images an archive released, from its event (an integer in both databases).
_RELEASED = Cast(KeyTextTransform("images_released", "detail"), models.IntegerField())


def archived_batches(project: Project) -> QuerySet:
    """Archived batches, newest archive first, each with ``archived_at``, ``archived_images_n``
    (how many images left it when it was archived) and ``still_free`` (how many of those are free now)."""
    last_archive = BatchEvent.objects.filter(batch=OuterRef("pk"), kind=EventKind.ARCHIVED).order_by("-at", "-pk")
    return (
        Batch.objects.filter(project=project, status=BatchStatus.ARCHIVED)
        .annotate(
            still_free=Count("archived_images", filter=Q(archived_images__free__isnull=False)),
            archived_at=models.Subquery(last_archive.values("at")[:1]),
            archived_images_n=models.Subquery(last_archive.values(released=_RELEASED)[:1]),
        )
        .order_by("-archived_at", "-pk")
    )


def restorable(batch: Batch) -> tuple[int, int]:
    """(images it had when archived, how many of them are free now) for one archived batch."""
    free = Image.objects.filter(archived_from=batch, free__isnull=False).count()
    released = (
        BatchEvent.objects.filter(batch=batch, kind=EventKind.ARCHIVED)
        .order_by("-at", "-pk")
        .values_list(_RELEASED, flat=True)
        .first()
    )
    return (released if released is not None else free), free


def unassigned_batches(project: Project) -> QuerySet:
    """Unassigned batches in board order, with their image counts (the merge page)."""
    return (
        Batch.objects.filter(project=project, status=BatchStatus.UNASSIGNED)
        .annotate(image_count=Count("placements"))
        .order_by("priority", "uploaded_at", "pk")
    )
