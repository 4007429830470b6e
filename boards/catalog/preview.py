"""What "Add batch" would take: the selected images and their counts, before anyone confirms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from boards.catalog.filters import CatalogFilter, filtered_images, project_images
from boards.catalog.sampling import Sample
from boards.models import MAX_BATCH_IMAGES, Batch, BatchStatus, Project
from core import params
from core.errors import InvalidInput

STATUS_LABELS = dict(BatchStatus.choices)


@dataclass(frozen=True)
class BatchPreview:
    """What "Add batch" would do, counted before anyone confirms."""

    matching: int  # images selected by the filter or the ids
    in_batches: dict[str, int]  # left out: already in a batch, by that batch's status
    free: int  # not in a batch, so they may join
    would_take: int
    sample: Sample | None = None

    @property
    def left_out(self) -> int:
        return sum(self.in_batches.values())

    @property
    def over_limit(self) -> bool:
        return self.would_take > MAX_BATCH_IMAGES

    def left_out_reason(self) -> str:
        if not self.left_out:
            return ""
        parts = ", ".join(
            f"{n:,} in {STATUS_LABELS[status]}" for status, n in sorted(self.in_batches.items(), key=_column_order)
        )
        noun = "image is" if self.left_out == 1 else "images are"
        return (
            f"{self.left_out:,} {noun} already in a batch ({parts}) and will be left out: "
            "an image is never in two batches."
        )

    def limit_error(self) -> str:
        return (
            f"That would put {self.would_take:,} images in one batch; a batch holds at most "
            f"{MAX_BATCH_IMAGES:,}. Narrow the filter, or sample at most {MAX_BATCH_IMAGES:,} images."
        )

    def to_dict(self) -> dict:
        return {
            "matching": self.matching,
            "left_out": self.left_out,
            "left_out_by_status": dict(self.in_batches),
            "free": self.free,
            "would_take": self.would_take,
            "limit": MAX_BATCH_IMAGES,
            "sample": None if self.sample is None else self.sample.__dict__,
        }


def _column_order(item: tuple[str, int]) -> int:
    return BatchStatus.values.index(item[0])


def selected_images(
    project: Project, *, filters: CatalogFilter | None = None, image_ids: Iterable | None = None
) -> QuerySet:
    """The images a request means: the ones matching ``filters``, or the listed ids (all in the project)."""
    if (filters is None) == (image_ids is None):
        raise InvalidInput("Choose images either by a filter or by a list of ids, not both.")
    if filters is not None:
        if filters.errors:
            raise InvalidInput("Fix the filter first: " + " ".join(filters.errors.values()))
        return filtered_images(project, filters)
    ids = _ids(image_ids)
    images = project_images(project).filter(pk__one_of=ids)
    found = images.count()
    if found != len(ids):
        raise InvalidInput(f"{len(ids) - found} of the {len(ids)} selected images are not in this project.")
    return images


def _ids(image_ids: Iterable) -> set[int]:
    ids = set(params.idents({"images": image_ids}, "images", label="A selected image"))
    if not ids:
        raise InvalidInput("Select at least one image, or choose “all matching”.")
    return ids


def preview_batch(
    project: Project,
    *,
    filters: CatalogFilter | None = None,
    image_ids: Iterable | None = None,
    sample: Sample | Mapping | None = None,
) -> BatchPreview:
    """Count what a batch from these images would take (nothing is written)."""
    sample = Sample.parse(sample)
    images = selected_images(project, filters=filters, image_ids=image_ids)
    return preview_of(images, sample, free_only=filters is not None and filters.free_only)


def preview_of(images: QuerySet, sample: Sample | None, *, free_only: bool = False) -> BatchPreview:
    """The counts for these images (already narrowed to one project): one query grouped by batch,
    one for the statuses of those batches. ``free_only``: ``images`` are free images, counted from
    their free rows (their placements, of which there are none, are not looked for)."""
    by_batch = (
        {None: images.order_by().count()}
        if free_only
        else dict(
            images.order_by()
            .values_list("placement__batch_id")
            .annotate(n=Count("pk"))
            .values_list("placement__batch_id", "n")
        )
    )
    free = by_batch.pop(None, 0)
    in_batches: dict[str, int] = {}
    if by_batch:
        statuses = dict(Batch.objects.filter(pk__in=list(by_batch)).values_list("pk", "status"))
        for batch_id, n in by_batch.items():
            status = statuses.get(batch_id, BatchStatus.UNASSIGNED)
            in_batches[status] = in_batches.get(status, 0) + n
    would_take = min(sample.n, free) if sample else free
    return BatchPreview(
        matching=free + sum(in_batches.values()),
        in_batches=in_batches,
        free=free,
        would_take=would_take,
        sample=sample,
    )
