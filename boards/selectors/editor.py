"""The annotation editor and the label classes: what to label next, boxes, the batch's progress. Nothing here writes."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, F, Q

from accounts.models import User
from boards.models import (
    COUNTS_FRESH,
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    Job,
    JobState,
    LabelClass,
    Project,
    ReviewState,
)

# An image still to label: no boxes yet (and not marked empty), or sent back by
# a review and not saved since.
TO_LABEL = Q(annotation_state=AnnotationState.UNANNOTATED) | Q(review_state=ReviewState.REJECTED)
STRIP_SIDE = 100  # thumbnails either side of the current image in the editor's strip


def label_classes(project: Project):
    """The project's classes, hotkeys first, as the editor and the settings page list them."""
    return LabelClass.objects.filter(project=project).order_by(F("hotkey").asc(nulls_last=True), "name", "pk")


def label_classes_with_counts(project: Project):
    return label_classes(project).annotate(
        n_boxes=Count("annotations"), n_images=Count("annotations__image", distinct=True)
    )


def next_to_label(user: User, *, project: Project | None = None) -> Image | None:
    """The next image for "Start labeling": across the batches assigned to the user
    and still in Annotating, by batch priority (1 first), then the oldest batch."""
    if not user.is_authenticated:
        return None
    # The user's batches first (a few rows, by the job's labeler index), then their images: never a
    # walk through every image of every batch in Annotating for someone with nothing assigned.
    # By hand: every "Start labeling" asks this first, and the ORM took longer to build it than the
    # database to answer it (as ``services.queue``'s statements of Start labeling).
    in_project = " AND b.project_id = %s" if project is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT j.batch_id FROM {Job._meta.db_table} j JOIN {Batch._meta.db_table} b ON b.id = j.batch_id "  # noqa: S608
            f"WHERE j.labeler_id = %s AND j.state = %s AND b.status = %s{in_project}",
            [user.pk, JobState.ANNOTATING, BatchStatus.ANNOTATING, *([project.pk] if project is not None else [])],
        )
        batch_ids = [batch_id for (batch_id,) in cursor.fetchall()]
    if not batch_ids:
        return None
    return (
        Image.objects.filter(TO_LABEL, placement__batch_id__in=batch_ids)
        .select_related("placement__batch__project__workspace")
        .order_by("placement__batch__priority", "placement__batch__uploaded_at", "placement__batch_id", "pk")
        .first()
    )


def first_to_label(batch: Batch) -> Image | None:
    """Where the editor opens on a batch: its first image still to label, else its first."""
    images = Image.objects.filter(placement__batch=batch).order_by("pk")
    return images.filter(TO_LABEL).first() or images.first()


def box_dicts(image: Image) -> list[dict]:
    """The image's boxes in the order they were drawn (``Annotation``'s ordering: by id), for the editor."""
    return [
        {"label": a.label_id, "x": a.x, "y": a.y, "width": a.width, "height": a.height} for a in image.annotations.all()
    ]


def label_dicts(project: Project) -> list[dict]:
    return [
        {"id": c.pk, "name": c.name, "color": c.color, "hotkey": c.hotkey}
        for c in label_classes(project).only("pk", "name", "color", "hotkey")
    ]


def batch_progress(batch: Batch, *, stored: bool = False) -> dict:
    """Images done (annotated or marked empty), in all, and sent back by a review still awaiting rework.

    Read from the counts stored on the batch while they hold (every change of its images stores
    them: ``services.mark_changed``), so that the editor's autosave, which answers with this at
    every change, reads one row and not the batch's images; the images awaiting rework are
    counted only when some were reviewed. Otherwise, all three are counted. ``stored``: ``batch``
    is the row the caller just stored (``mark_changed`` keeps it in step), which is not read again.
    """
    if stored:
        row = {
            "n_images": batch.n_images,
            "n_annotated": batch.n_annotated,
            "n_reviewed": batch.n_reviewed,
            "fresh": batch.counts_stored,
        }
    else:
        row = (
            Batch.objects.filter(pk=batch.pk)
            .annotate(fresh=COUNTS_FRESH)
            .values("n_images", "n_annotated", "n_reviewed", "fresh")
            .first()
        )
    if row is not None and row["fresh"]:
        rework = batch.images.filter(review_state=ReviewState.REJECTED).count() if row["n_reviewed"] else 0
        return {"done": row["n_annotated"], "total": row["n_images"], "rework": rework}
    row = Image.objects.filter(placement__batch=batch).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=~Q(annotation_state=AnnotationState.UNANNOTATED)),
        rework=Count("pk", filter=Q(review_state=ReviewState.REJECTED)),
    )
    return {"done": row["done"], "total": row["total"], "rework": row["rework"]}


REWORK_LIST_LIMIT = 50  # images awaiting rework listed in the editor; the strip marks every one


def rework_images(batch: Batch) -> list[Image]:
    """The batch's images sent back by a review that still await rework, with the reviewer's comments."""
    return list(
        Image.objects.filter(placement__batch=batch, review_state=ReviewState.REJECTED)
        .order_by("pk")
        .only("pk", "original_filename", "review_comment")[:REWORK_LIST_LIMIT]
    )


def editor_context(batch: Batch, image: Image) -> dict:
    """The editor screen for one image: its boxes, the classes, its neighbours, the batch's progress."""
    images = Image.objects.filter(placement__batch=batch).order_by("pk")
    progress = batch_progress(batch)
    previous_id = images.filter(pk__lt=image.pk).order_by("-pk").values_list("pk", flat=True).first()
    next_id = images.filter(pk__gt=image.pk).values_list("pk", flat=True).first()
    position = images.filter(pk__lte=image.pk).count()
    start = max(0, position - 1 - STRIP_SIDE)
    strip = [
        {"pk": pk, "state": ReviewState.REJECTED if review == ReviewState.REJECTED else state}
        for pk, state, review in images.values_list("pk", "annotation_state", "review_state")[
            start : start + 2 * STRIP_SIDE + 1
        ]
    ]
    return {
        "batch": batch,
        "image": image,
        "boxes": box_dicts(image),
        "labels": label_dicts(batch.project),
        "previous_id": previous_id,
        "next_id": next_id,
        "position": position,
        "strip": strip,
        "strip_start": start,
        "progress": progress,
        "rework": rework_images(batch) if progress["rework"] else [],
    }
