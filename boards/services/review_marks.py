"""Review marks: comments pinned to a box or a region."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import User
from boards import selectors
from boards.models import Annotation, Batch, BatchStatus, EventKind, Image, ReviewMark
from boards.services.common import STATUS_LABELS, _event, _locked_image, mark_changed
from core.errors import InvalidInput, NotFound, WrongState
from core.permissions import require

MARK_COMMENT_LIMIT = 1000


def _may_mark(actor: User, image: Image) -> Batch:
    """The image's batch, if the actor may review it now: reviewers and up, on a batch in Review."""
    batch = image.batch
    if batch is None:
        raise WrongState("This image is not in a batch.")
    require(
        actor,
        "boards.review_batch",
        batch,
        message="Only reviewers can mark boxes; you do not have permission to review this batch.",
    )
    if batch.status != BatchStatus.REVIEW:
        raise WrongState(f"Marks are added during a review; this batch is in {STATUS_LABELS[batch.status]}.")
    return batch


def _mark_region(region, image: Image) -> tuple[float, float, float, float]:
    if not isinstance(region, list | tuple) or len(region) != 4:
        raise InvalidInput("A region is x, y, width and height in pixels of the image.")
    for value in region:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise InvalidInput("A region's x, y, width and height must be numbers.")
    x, y, w, h = (float(v) for v in region)
    if w < 1 or h < 1:
        raise InvalidInput("Draw a region at least one pixel wide and high.")
    if x < 0 or y < 0 or x + w > image.width or y + h > image.height:
        raise InvalidInput(f"The region reaches outside the {image.width}×{image.height} image.")
    return x, y, w, h


def add_review_mark(
    *,
    image: Image,
    actor: User,
    comment: str,
    annotation: Annotation | int | None = None,
    region: Sequence[float] | None = None,
) -> ReviewMark:
    """Pin a reviewer's comment to one of the image's boxes (``annotation``) or to a ``region``
    (x, y, width, height in pixels of the image) while its batch is in Review."""
    if not isinstance(comment, str) or "\x00" in comment:
        raise InvalidInput("A mark's comment is text without NUL characters.")
    comment = comment.strip()
    if not comment:
        raise InvalidInput("Write a comment for the mark: what should the labeler change?")
    if len(comment) > MARK_COMMENT_LIMIT:
        raise InvalidInput(
            f"A mark's comment is at most {MARK_COMMENT_LIMIT:,} characters; this one has {len(comment):,}."
        )
    if (annotation is None) == (region is None):
        raise InvalidInput("Point at a box or draw a region: one of the two.")
    with transaction.atomic():
        image = _locked_image(image)
        batch = _may_mark(actor, image)
        if annotation is not None:
            box_id = annotation.pk if isinstance(annotation, Annotation) else annotation
            box = Annotation.objects.filter(pk=box_id, image=image).first()
            if box is None:
                raise InvalidInput("That box is not on this image; reload it to see its boxes.")
            x, y, w, h = box.x, box.y, box.width, box.height
        else:
            box = None
            x, y, w, h = _mark_region(region, image)
        mark = ReviewMark.objects.create(
            image=image, annotation=box, x=x, y=y, width=w, height=h, comment=comment, author=actor
        )
        _event(batch, EventKind.MARKED, actor, image=image.pk, mark=mark.pk, box=box.pk if box else None)
        mark_changed(batch)
    return mark


def delete_review_mark(*, mark: ReviewMark, actor: User) -> None:
    """Remove a mark of the review under way; those of earlier reviews are history and stay."""
    with transaction.atomic():
        image = _locked_image(mark.image)
        batch = _may_mark(actor, image)
        fresh = ReviewMark.objects.filter(pk=mark.pk, image=image).first()
        if fresh is None:
            raise NotFound("This mark no longer exists; someone removed it.")
        start = selectors.review_round_start(batch)
        if start is not None and fresh.created_at < start:
            raise WrongState("This mark was left by an earlier review: it is history and stays.")
        fresh.delete()
        _event(batch, EventKind.UNMARKED, actor, image=image.pk, mark=mark.pk)
        mark_changed(batch)
