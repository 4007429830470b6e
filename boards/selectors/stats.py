"""Counts: a batch's per-labeler review stats, and the API's per-project image and class counts. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    Image,
    LabelClass,
    ReviewState,
    Split,
)


@dataclass
class LabelerStats:
    """Counts for one labeler (or a whole batch): what was annotated and how review went."""

    label: str
    user_id: int | None = None
    in_project: LabelerStats | None = None  # the same labeler across the whole project
    images: int = 0
    annotated: int = 0
    approved: int = 0
    rejected: int = 0
    reviewed: int = 0
    first_pass: int = 0

    @property
    def acceptance(self) -> int | None:
        """First-pass acceptance: the share of reviewed images approved on their first review, in percent."""
        return round(100 * self.first_pass / self.reviewed) if self.reviewed else None

    def add(self, other: LabelerStats) -> None:
        for name in ("images", "annotated", "approved", "rejected", "reviewed", "first_pass"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Rejected: sent back by a finished review, or decided "reject" in the review
# under way. Reviewed: either of those, or approved.
_REJECTED = Q(rejections__gt=0) | Q(review_state=ReviewState.REJECTED)
_STAT_COUNTS = {
    "images": Count("pk"),
    "annotated": Count("pk", filter=~Q(annotation_state=AnnotationState.UNANNOTATED)),
    "approved": Count("pk", filter=Q(review_state=ReviewState.APPROVED)),
    "rejected": Count("pk", filter=_REJECTED),
    "reviewed": Count("pk", filter=_REJECTED | Q(review_state=ReviewState.APPROVED)),
    "first_pass": Count("pk", filter=Q(review_state=ReviewState.APPROVED, rejections=0)),
}


def _stats_by_labeler(images) -> list[LabelerStats]:
    rows = (
        images.order_by()
        .values("annotated_by", "annotated_by__email")
        .annotate(**_STAT_COUNTS)
        .order_by("annotated_by__email")
    )
    return [
        LabelerStats(
            label=row["annotated_by__email"] or ("Not recorded" if row["annotated"] else "Not annotated yet"),
            user_id=row["annotated_by"],
            **{name: row[name] for name in _STAT_COUNTS},
        )
        for row in rows
    ]


def batch_stats(batch: Batch) -> dict:
    """The batch page's counts: the batch as a whole, and each labeler in it, in
    this batch and across the project. Two queries."""
    in_batch = _stats_by_labeler(Image.objects.filter(placement__batch=batch))
    total = LabelerStats(label="This batch")
    for row in in_batch:
        total.add(row)
    user_ids = [row.user_id for row in in_batch if row.user_id is not None]
    if user_ids:
        in_project = _stats_by_labeler(Image.objects.filter(project_id=batch.project_id, annotated_by__in=user_ids))
        by_user = {row.user_id: row for row in in_project}
        for row in in_batch:
            row.in_project = by_user.get(row.user_id)
    return {"total": total, "labelers": in_batch}


# The API lists many rows: these read plain values (no model instances) in a
# fixed number of grouped queries, whatever the number of rows.


def api_project_stats(project_ids: list[int]) -> dict[int, dict]:
    """Per project: image counts by annotation state and split, class counts and colours."""
    stats = {
        pid: {"images": 0, "unannotated": 0, "splits": {s: 0 for s in Split.values if s}, "classes": {}, "colors": {}}
        for pid in project_ids
    }
    rows = (
        Image.objects.filter(project_id__in=project_ids)
        .order_by()
        .values("project_id", "split", "annotation_state")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        entry = stats[row["project_id"]]
        entry["images"] += row["n"]
        if row["annotation_state"] == AnnotationState.UNANNOTATED:
            entry["unannotated"] += row["n"]
        if row["split"]:
            entry["splits"][row["split"]] += row["n"]
    for pid, name, color in LabelClass.objects.filter(project_id__in=project_ids).values_list(
        "project_id", "name", "color"
    ):
        stats[pid]["classes"][name] = 0
        stats[pid]["colors"][name] = color
    counts = (
        Annotation.objects.filter(image__project_id__in=project_ids)
        .order_by()
        .values_list("image__project_id", "label__name")
        .annotate(n=Count("pk"))
    )
    for pid, name, n in counts:
        stats[pid]["classes"][name] = n
    return stats
