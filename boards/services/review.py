"""Reviewing a batch: decisions per image, then approve, reject or split."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import User
from boards.models import Batch, BatchStatus, EventKind, Image, Job, JobState, ReviewMark, ReviewState
from boards.services.common import (
    STATUS_LABELS,
    Transition,
    _drop_stale_suffix,
    _event,
    _image_ids_in,
    _locked_image,
    _split_off,
    card_terms,
    counts_after_one,
    mark_changed,
    transition,
)
from boards.services.queue import enqueue
from core.errors import InvalidInput, WrongState
from core.permissions import require


@dataclass
class ReviewResult:
    approved: Batch | None
    rejected: Batch | None


APPROVE = "approve"
REJECT = "reject"


def record_decision(*, image: Image, actor: User, decision: str, comment: str = "") -> Image:
    """One reviewer decision on one image of a batch in Review."""
    if decision not in (APPROVE, REJECT):
        raise InvalidInput("A decision is either approve or reject.")
    with transaction.atomic():
        image = _locked_image(image)
        batch = image.batch
        if batch is None:
            raise WrongState("This image is not in a batch.")
        require(actor, "boards.review_batch", batch, verb="review this batch")
        if batch.status != BatchStatus.REVIEW:
            raise WrongState(f"A batch in {STATUS_LABELS[batch.status]} cannot be reviewed.")
        counted_before = card_terms(image, boxes=False)  # the boxes stay: their term is the same either way
        image.review_state = ReviewState.APPROVED if decision == APPROVE else ReviewState.REJECTED
        image.review_comment = comment.strip() if decision == REJECT else ""
        image.save(update_fields=["review_state", "review_comment"])
        mark_changed(batch, counted=counts_after_one(batch, counted_before, card_terms(image, boxes=False)))
    return image


def review(
    *,
    batch: Batch,
    actor: User,
    approved: Iterable[int] = (),
    rejected: Iterable[int] = (),
    comments: Mapping[int, str] | None = None,
    all: str | None = None,  # noqa: A002 - reads best at the call site: review(all=APPROVE)
    comment: str = "",
) -> ReviewResult:
    """Finish the review of a batch.

    Decisions come from ``approved``/``rejected`` (or ``all``) plus any recorded
    earlier with ``record_decision``; every image needs one. Approved images go
    to Dataset; rejected ones go back to Annotating, to the same labeler, split
    off as their own batch when the decisions are mixed.
    """
    comments = dict(comments or {})
    # Checked as an approval: approve and reject have the same source and permission.
    with transition(batch, "approve", actor, verb="review", event=EventKind.APPROVED) as change:
        batch = change.batch
        images = batch.images
        if all is not None:
            if all not in (APPROVE, REJECT):
                raise InvalidInput("'all' is either approve or reject.")
            images.update(
                review_state=ReviewState.APPROVED if all == APPROVE else ReviewState.REJECTED,
                review_comment=comment.strip() if all == REJECT else "",
            )
        else:
            approved_ids = _image_ids_in(batch, approved, what="approve") if approved else set()
            rejected_ids = _image_ids_in(batch, rejected, what="reject") if rejected else set()
            if approved_ids & rejected_ids:
                raise InvalidInput(
                    f"{len(approved_ids & rejected_ids)} images are both approved and rejected; choose one for each."
                )
            if approved_ids:
                images.filter(pk__one_of=approved_ids).update(review_state=ReviewState.APPROVED, review_comment="")
            if rejected_ids:
                images.filter(pk__one_of=rejected_ids).update(
                    review_state=ReviewState.REJECTED, review_comment=comment.strip()
                )
            commented = [
                Image(pk=pk, review_comment=text.strip()) for pk, text in comments.items() if int(pk) in rejected_ids
            ]
            if commented:
                Image.objects.bulk_update(commented, ["review_comment"], batch_size=500)
        counts = dict(images.order_by().values("review_state").annotate(n=Count("pk")).values_list("review_state", "n"))
        pending = counts.get(ReviewState.PENDING, 0)
        if pending:
            raise InvalidInput(
                f"{pending} image{'s' if pending != 1 else ''} still need{'s' if pending == 1 else ''} "
                "a decision: approve or reject every image."
            )
        n_approved = counts.get(ReviewState.APPROVED, 0)
        n_rejected = counts.get(ReviewState.REJECTED, 0)
        if n_rejected:
            images.filter(review_state=ReviewState.REJECTED).update(rejections=F("rejections") + 1)
            _keep_review_comments(images.filter(review_state=ReviewState.REJECTED), actor)
        job = batch.current_job
        if n_rejected == 0:
            _approve(change, n_approved)
            if job:
                Job.objects.filter(pk=job.pk).update(state=JobState.COMPLETE, updated_at=timezone.now())
            result = ReviewResult(approved=batch, rejected=None)
        elif n_approved == 0:
            batch.reject()
            change.kind = EventKind.REJECTED
            change.detail.update(rejected=n_rejected)
            if job:
                Job.objects.filter(pk=job.pk).update(state=JobState.ANNOTATING, updated_at=timezone.now())
                if job.is_queue:  # each image back to the labeler who labeled it
                    enqueue(batch)
            result = ReviewResult(approved=None, rejected=batch)
        else:
            rejected_ids = set(images.filter(review_state=ReviewState.REJECTED).values_list("pk", flat=True))
            back, _moved = _split_off(batch, rejected_ids, keep=False, status=BatchStatus.ANNOTATING, actor=actor)
            if job:
                Job.objects.create(
                    batch=back,
                    name=back.name,
                    labeler_id=job.labeler_id,
                    reviewer_id=job.reviewer_id,
                    created_by=actor,
                )
                Job.objects.filter(pk=job.pk).update(state=JobState.COMPLETE, updated_at=timezone.now())
                if job.is_queue:
                    enqueue(back)
            _event(
                back,
                EventKind.REJECTED,
                actor,
                from_status=BatchStatus.REVIEW,
                to_status=BatchStatus.ANNOTATING,
                rejected=n_rejected,
                labeler=job.labeler.email if job and job.labeler else None,
            )
            _approve(change, n_approved)
            change.also.append(back)  # its counts are stored with the batch's
            result = ReviewResult(approved=batch, rejected=back)
    return result


def _approve(change: Transition, approved: int) -> None:
    """The review's approval: the batch goes to Dataset and sheds a stale split suffix."""
    change.batch.approve()
    change.detail.update(approved=approved, **_drop_stale_suffix(change.batch))


def _keep_review_comments(images, actor: User) -> None:
    """Keep each rejected image's comment as a mark on the whole image: the history a later review shows."""
    now = timezone.now()
    rows = [
        ReviewMark(
            image_id=pk, x=0, y=0, width=w, height=h, comment=text, from_comment=True, author=actor, created_at=now
        )
        for pk, w, h, text in images.exclude(review_comment="").values_list("pk", "width", "height", "review_comment")
    ]
    ReviewMark.objects.bulk_create(rows, batch_size=1000)


def approve(*, batch: Batch, actor: User) -> ReviewResult:
    return review(batch=batch, actor=actor, all=APPROVE)


def reject(*, batch: Batch, actor: User, comment: str = "") -> ReviewResult:
    return review(batch=batch, actor=actor, all=REJECT, comment=comment)
