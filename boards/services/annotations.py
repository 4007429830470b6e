"""An image's boxes: saving, importing one image's boxes, confirming rework."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django.db import transaction

from accounts.models import User
from accounts.roles import Role, role_at_least
from boards import selectors
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, EventKind, Image, LabelClass, ReviewState
from boards.services import queue
from boards.services.common import (
    STATUS_LABELS,
    _event,
    _locked_image,
    card_terms,
    counts_after_one,
    mark_changed,
)
from boards.services.label_classes import _new_label_from_import
from boards.services.workflow import submit
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, ServiceError, WrongState
from core.permissions import require


def _may_edit_annotations(actor: User, image: Image) -> None:
    batch = image.batch
    if batch is not None and batch.status == BatchStatus.ANNOTATING:
        require(actor, "boards.annotate_batch", batch, verb="annotate this batch")
        if not role_at_least(actor.role_in(batch.workspace_id), Role.REVIEWER):
            job = batch.current_job
            if job is not None and job.is_queue:
                refusal = selectors.queue_refusal(image, actor)
                if refusal:
                    raise NotAllowed(refusal)
            elif job is None or job.labeler_id != actor.pk:
                raise NotAllowed("This batch is assigned to someone else.")
        return
    if batch is None or batch.status == BatchStatus.UNASSIGNED:
        # Importing annotations (pre-labels) is a manager's job.
        require(actor, "boards.upload_images", image.project, verb="import annotations into this project")
        return
    raise WrongState(
        f"Annotations can change only while the batch is in Annotating; this one is in {STATUS_LABELS[batch.status]}."
    )


def _clip(box: Box, image: Image) -> tuple[float, float, float, float] | None:
    x0, y0 = max(0.0, box.x), max(0.0, box.y)
    x1, y1 = min(float(image.width), box.x + box.width), min(float(image.height), box.y + box.height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def save_annotations(
    *,
    image: Image,
    actor: User,
    boxes: Sequence[Box],
    expected_version: int | None = None,
    empty: bool = False,
    create_labels: bool = False,
    clip: bool = True,
) -> Image:
    """Replace an image's boxes in one go.

    ``expected_version`` guards against two editors overwriting each other: a
    save based on an older version is refused with ``ConcurrentChange``. An
    image with no boxes is ``empty`` when the labeler says so, else unannotated.
    Boxes reaching outside the image are clipped (or refused when ``clip`` is
    off); boxes wholly outside it are refused with a reason.
    """
    with transaction.atomic():
        image = _locked_image(image)
        _may_edit_annotations(actor, image)
        if expected_version is not None and expected_version != image.annotation_version:
            raise ConcurrentChange(
                f"This image was saved elsewhere meanwhile (now version {image.annotation_version}); "
                "reload it to see the latest boxes."
            )
        if boxes and empty:
            raise InvalidInput("An image with boxes cannot also be marked empty.")
        labels = {c.name: c for c in LabelClass.objects.filter(project=image.project)} if boxes else {}
        by_id = {c.pk: c for c in labels.values()}
        rows = []
        for n, box in enumerate(boxes, start=1):
            for value in (box.x, box.y, box.width, box.height):
                if not isinstance(value, int | float) or value != value:  # NaN is not a number here
                    raise InvalidInput(f"Box {n}: x, y, width and height must be numbers.")
            if box.width <= 0 or box.height <= 0:
                raise InvalidInput(f"Box {n}: width and height must be greater than zero.")
            label = by_id.get(box.label) if isinstance(box.label, int) else labels.get(str(box.label).strip())
            if label is None:
                name = str(box.label).strip()
                if not create_labels or isinstance(box.label, int) or not name:
                    raise InvalidInput(f"Box {n}: there is no class “{str(box.label)[:100]}” in this project.")
                label = labels[name] = _new_label_from_import(image.project, name, n)
            clipped = _clip(box, image)
            if clipped is None:
                raise InvalidInput(f"Box {n} lies wholly outside the {image.width}×{image.height} image.")
            if not clip and clipped != (box.x, box.y, box.width, box.height):
                raise InvalidInput(f"Box {n} reaches outside the {image.width}×{image.height} image.")
            x, y, w, h = clipped
            rows.append(Annotation(image=image, label=label, x=x, y=y, width=w, height=h))
        before = _box_set(image.annotations.values_list("label_id", "x", "y", "width", "height"))
        before_state, counted_before = image.annotation_state, card_terms(image, boxes=bool(before))
        if before:  # read once more to be deleted: a review mark loses the box it named
            image.annotations.all().delete()
        Annotation.objects.bulk_create(rows)
        _known_boxes(image, rows)
        if rows:
            image.annotation_state = AnnotationState.ANNOTATED
        else:
            image.annotation_state = AnnotationState.EMPTY if empty else AnnotationState.UNANNOTATED
        image.annotation_version += 1
        image.annotated_by = None if image.annotation_state == AnnotationState.UNANNOTATED else actor
        unchanged = before_state == image.annotation_state and before == _box_set(
            (r.label_id, r.x, r.y, r.width, r.height) for r in rows
        )
        if (
            image.review_state == ReviewState.REJECTED
            and not unchanged
            and image.batch
            and image.batch.status == BatchStatus.ANNOTATING
        ):
            # Fixed since the review; the reviewer's comment stays until the next decision.
            # The same boxes saved again are no fix: ``confirm_rework`` says so explicitly.
            image.review_state = ReviewState.PENDING
        image.save(update_fields=["annotation_state", "annotation_version", "annotated_by", "review_state"])
        _in_queue(image, actor)
        mark_changed(
            image.batch, counted=counts_after_one(image.batch, counted_before, card_terms(image, boxes=bool(rows)))
        )
    return image


def _known_boxes(image: Image, rows: list[Annotation]) -> None:
    """Let ``image.annotations.all()`` answer the boxes just written (``selectors.box_dicts`` answers
    the editor with them) without reading them again: stored as ``prefetch_related`` stores them,
    a queryset already evaluated, so that any other use of the manager still queries."""
    boxes = image.annotations.all()
    boxes._result_cache, boxes._prefetch_done = rows, True
    image._prefetched_objects_cache = {**getattr(image, "_prefetched_objects_cache", {}), "annotations": boxes}


def _in_queue(image: Image, actor: User) -> None:
    """Keep the label queue in step with a saved image of a queue batch (``queue.after_save``)."""
    if image.batch is not None and image.batch.in_queue:
        queue.after_save(image, actor)


def finish_queued(*, actor: User, image_id: int | None = None) -> list[int]:
    """The labeler moves on: the queue images they hold that are done leave the queue (``image_id``
    only, if given), and a queue batch goes on once its last image is finished.

    The submit runs after the entries' removal has committed, as the labeler
    who finished it. Someone may have moved the batch meanwhile, or a cleared
    image may have joined the queue again: then it stays where it is. Returns
    the batches that were finished.
    """
    emptied = queue.finish(user=actor, image_id=image_id)
    for batch in Batch.objects.filter(pk__in=emptied) if emptied else ():
        with contextlib.suppress(ServiceError):
            submit(batch=batch, actor=actor)
    return emptied


def _box_set(boxes) -> list[tuple]:
    """Boxes as a sorted list of (class, x, y, width, height), to compare two saves of an image."""
    return sorted((label, round(x, 3), round(y, 3), round(w, 3), round(h, 3)) for label, x, y, w, h in boxes)


def confirm_rework(*, image: Image, actor: User) -> Image:
    """The labeler checked an image sent back by a review and it needs no change.

    The image no longer awaits rework (as if it had been changed), so the
    batch may be submitted again; the reviewer's comment stays until the next
    decision. Who may edit the image's boxes may confirm it.
    """
    with transaction.atomic():
        image = _locked_image(image)
        batch = image.batch
        if batch is None or batch.status != BatchStatus.ANNOTATING:
            where = STATUS_LABELS[batch.status] if batch is not None else "no batch"
            raise WrongState(f"Only images of a batch in Annotating await rework; this one is in {where}.")
        _may_edit_annotations(actor, image)
        if image.review_state != ReviewState.REJECTED:
            raise WrongState("This image does not await rework: it was not sent back, or it was changed since.")
        counted_before = card_terms(image, boxes=False)  # the boxes stay: their term is the same either way
        image.review_state = ReviewState.PENDING
        image.save(update_fields=["review_state"])
        _in_queue(image, actor)
        _event(
            batch,
            EventKind.CHECKED,
            actor,
            from_status=batch.status,
            to_status=batch.status,
            image=image.pk,
            image_name=image.original_filename,
        )
        mark_changed(batch, counted=counts_after_one(batch, counted_before, card_terms(image, boxes=False)))
    return image


def import_annotation(*, image: Image, actor: User, boxes: Sequence[Box], overwrite: bool = False) -> Image:
    """Replace an image's boxes with imported ones (an annotation file sent by the API).

    An image that is already annotated (or marked empty) keeps its boxes
    unless ``overwrite``. New class names become classes of the project when
    the actor may manage it; otherwise every label must already exist.
    """
    with transaction.atomic():
        image = _locked_image(image)
        _may_edit_annotations(actor, image)
        if image.annotation_state != AnnotationState.UNANNOTATED and not overwrite:
            raise WrongState("This image is already annotated; send overwrite=true to replace its boxes.")
        return save_annotations(
            image=image,
            actor=actor,
            boxes=boxes,
            empty=not boxes,
            create_labels=actor.has_perm("boards.manage_project", image.project),
        )
