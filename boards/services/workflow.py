"""A batch's way across the board: assign, submit, back to Unassigned, archive, delete, priority."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role, role_at_least
from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchStatus,
    EventKind,
    Job,
    JobState,
    Placement,
    QueueEntry,
    ReviewState,
    free,
)
from boards.services.common import (
    STATUS_LABELS,
    _check_all_in,
    _drop_stale_suffix,
    _event,
    _locked,
    _parse_image_ids,
    _split_off,
    _validate_priority,
    mark_changed,
    split_counts,
    transition,
)
from boards.services.files import _delete_unreferenced, _drop_orphan_assets, lock_catalog
from boards.services.queue import dequeue, enqueue
from core.errors import InvalidInput, WrongState
from core.permissions import require


@dataclass
class AssignResult:
    batch: Batch
    job: Job
    remainder: Batch | None


@transaction.atomic
def assign(
    *,
    batch: Batch,
    actor: User,
    labeler: User | None,
    reviewer: User | None = None,
    image_ids: Iterable[int] | None = None,
    first: int | None = None,
    job_name: str = "",
    queue: bool = False,
) -> AssignResult:
    """Assign a batch, or a selection of its images, to a labeler or (``queue``) to the project's label queue.

    With a selection (``image_ids``, or the ``first`` N images in upload
    order), the images not selected split off into a new Unassigned batch of
    the same priority. A ``first`` larger than the batch is refused. A queue
    batch's images are served one by one to whoever presses "Start labeling"
    (``services.queue``); one whose images are all labeled already goes on at
    once (to Review, or Dataset), as a queue batch does when its last image is done.
    """
    if (labeler is None) is not queue:
        raise InvalidInput("Choose a labeler, or the label queue, for this batch.")
    if first is not None and (not isinstance(first, int) or isinstance(first, bool) or first < 1):
        raise InvalidInput("“The first N” is a whole number of at least 1.")
    if first is not None and image_ids is not None:
        raise InvalidInput("Choose images either by id or as “the first N”, not both.")
    # To the queue: the project first, as ``submit`` takes it (the batch may go on at once, below).
    with transition(batch, "assign", actor, verb="assign", event=EventKind.ASSIGNED, lock_project=queue) as change:
        batch = change.batch
        workspace_id = batch.project.workspace_id
        if labeler is not None and not role_at_least(labeler.role_in(workspace_id), Role.LABELER):
            raise InvalidInput(f"{labeler} cannot label in this workspace (needs the labeler role or above).")
        if reviewer is not None and not role_at_least(reviewer.role_in(workspace_id), Role.REVIEWER):
            raise InvalidInput(f"{reviewer} cannot review in this workspace (needs the reviewer role or above).")
        total = Placement.objects.filter(batch=batch).count()
        if total == 0:
            raise InvalidInput("This batch has no images to assign.")
        remainder = None
        assigned = total
        if first is not None:
            if first > total:
                raise InvalidInput(
                    f"This batch has only {total} image{'s' if total != 1 else ''}: "
                    f"there are no first {first} to assign; choose at most {total}."
                )
            if first < total:
                # The first N stay: every image after the N-th (by id, which is upload order) moves.
                last = (
                    Placement.objects.filter(batch=batch)
                    .order_by("image_id")
                    .values_list("image_id", flat=True)[first - 1]
                )
                remainder, moved = _split_off(
                    batch, None, keep=True, status=BatchStatus.UNASSIGNED, actor=actor, after=last
                )
                change.also.append(remainder)
                change.counted = split_counts(batch, remainder, total=total, moved=moved)
                assigned = first
        elif image_ids is not None:
            ids = _parse_image_ids(image_ids, what="assign")
            if len(ids) < total:
                remainder, moved = _split_off(batch, ids, keep=True, status=BatchStatus.UNASSIGNED, actor=actor)
                change.also.append(remainder)
                # What stayed is what was selected, unless some ids were not this batch's:
                # one count fewer than checking the selection first (it rolls back).
                _check_all_in(ids, total - moved)
                change.counted = split_counts(batch, remainder, total=total, moved=moved)
                assigned = len(ids)
            else:
                _check_all_in(ids, Placement.objects.filter(batch=batch, image_id__one_of=ids).count())
        batch.assign()
        job = Job.objects.create(
            batch=batch, name=job_name or batch.name, labeler=labeler, reviewer=reviewer, created_by=actor
        )
        if queue:
            enqueue(batch)
        change.detail.update(
            labeler=labeler.email if labeler is not None else None,
            queue=queue,
            reviewer=reviewer.email if reviewer else None,
            job=job.pk,
            images=assigned,
        )
    if queue and not QueueEntry.objects.filter(batch=batch).exists():
        # Nobody would ever be served an image of it, nor finish its last one.
        batch = submit(batch=batch, actor=actor)
        job.refresh_from_db()
    return AssignResult(batch=batch, job=job, remainder=remainder)


def create_job(
    *,
    batch: Batch,
    actor: User,
    labeler: User,
    reviewer: User | None = None,
    num_images: int | None = None,
    name: str = "",
) -> AssignResult:
    """Assign the first ``num_images`` images of a batch (all when None) as a job: the API's ``assign``.

    The rest split off into a new Unassigned batch, as on the board. A reviewer
    who is the labeler and lacks the reviewer role means no separate review,
    which is what Roboflow asks of workspaces without review roles.
    """
    if num_images is not None and (not isinstance(num_images, int) or isinstance(num_images, bool) or num_images < 1):
        raise InvalidInput("num_images is a whole number of at least 1.")
    if (
        reviewer is not None
        and reviewer.pk == labeler.pk
        and not role_at_least(reviewer.role_in(batch.project.workspace_id), Role.REVIEWER)
    ):
        reviewer = None
    return assign(
        batch=batch,
        actor=actor,
        labeler=labeler,
        reviewer=reviewer,
        first=num_images,
        job_name=name.strip()[:200],
    )


def rework_message(n: int) -> str:
    """Why a batch with images sent back by a review cannot be submitted yet."""
    return (
        f"{n} image{'s' if n != 1 else ''} sent back by the review still await{'' if n != 1 else 's'} rework: "
        "change {0} or mark {0} “checked, no change needed” in the editor before submitting.".format(
            "them" if n != 1 else "it"
        )
    )


def submit(*, batch: Batch, actor: User) -> Batch:
    """Annotating → Review (review mode) or → Dataset, once every image is done.

    Images sent back by a review (``ReviewState.REJECTED``) must first be
    changed (``save_annotations``) or confirmed unchanged (``confirm_rework``).
    """
    # The project first, so that review cannot be turned off between reading review_mode and the move.
    with transition(batch, "submit", actor, verb="submit", event=EventKind.SUBMITTED, lock_project=True) as change:
        batch = change.batch
        counts = batch.images.aggregate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(annotation_state=AnnotationState.UNANNOTATED)),
            rework=Count("pk", filter=Q(review_state=ReviewState.REJECTED)),
        )
        pending = counts["pending"]
        if pending:
            raise WrongState(
                f"{pending} image{'s are' if pending != 1 else ' is'} not annotated yet; "
                "annotate or mark them empty before submitting."
            )
        if not counts["total"]:
            raise WrongState("This batch has no images to submit.")
        if counts["rework"]:
            raise WrongState(rework_message(counts["rework"]))
        batch.images.update(review_state=ReviewState.PENDING)
        dequeue(batch)
        batch.submit()
        if batch.status == BatchStatus.DATASET:
            change.detail.update(_drop_stale_suffix(batch))
        Job.objects.filter(batch=batch, state=JobState.ANNOTATING).update(
            state=JobState.IN_REVIEW if batch.status == BatchStatus.REVIEW else JobState.COMPLETE,
            updated_at=timezone.now(),
        )
    return batch


def move_to_unassigned(*, batch: Batch, actor: User, keep_annotations: bool = False) -> Batch:
    """Back to Unassigned: annotations are removed, or kept as pre-labels."""
    with transition(batch, "move_to_unassigned", actor, verb="move", event=EventKind.UNASSIGNED) as change:
        batch = change.batch
        removed = prelabeled = 0
        if keep_annotations:
            prelabeled = Annotation.objects.filter(image__placement__batch=batch).values("image_id").distinct().count()
        else:
            removed, _ = Annotation.objects.filter(image__placement__batch=batch).delete()
        batch.images.update(
            annotation_state=AnnotationState.UNANNOTATED,
            review_state=ReviewState.PENDING,
            review_comment="",
            annotated_by=None,
            rejections=0,
        )
        dequeue(batch)
        # Every job ends, a finished one too: the batch waits for a new assignment and its card names nobody.
        Job.objects.filter(batch=batch).exclude(state=JobState.CANCELLED).exclude(state=JobState.COMPLETE).update(
            state=JobState.CANCELLED, updated_at=timezone.now()
        )
        batch.move_to_unassigned()
        change.detail.update(
            kept_annotations=keep_annotations,
            annotations_removed=removed,
            prelabeled_images=prelabeled,
        )
    return batch


def archive(*, batch: Batch, actor: User) -> Batch:
    """Unassigned → Archived: the images leave the batch and are free again."""
    with transition(batch, "archive", actor, verb="archive", event=EventKind.ARCHIVED) as change:
        batch = change.batch
        released = batch.images.update(archived_from=batch)
        free(batch.images)
        Placement.objects.filter(batch=batch).delete()
        batch.archive()
        change.detail.update(images_released=released)
    return batch


def delete_batch(*, batch: Batch, actor: User) -> int:
    """Delete an Unassigned batch with its images and their files, for good.

    The images leave the project; a picture another project also uses stays
    in the workspace catalog with its files. Returns how many images went.
    """
    # Not a ``transition``: the batch is deleted, not moved, so there is no FSM
    # method to check or save, and its event is written before its rows go.
    with transaction.atomic():
        # Before any row lock, as every holder of this lock takes it: its pictures may leave the catalog.
        lock_catalog(batch.project.workspace_id, exclusive=True)
        batch = _locked(batch)
        require(actor, "boards.delete_batch", batch, verb="delete this batch")
        if batch.status != BatchStatus.UNASSIGNED:
            raise WrongState(
                f"Only batches in Unassigned can be deleted; this one is in "
                f"{STATUS_LABELS[batch.status]}. Move it to Unassigned first."
            )
        rows = list(batch.images.values_list("file", "thumbnail", "asset_id"))
        files = [name for file, thumbnail, _asset in rows for name in (file, thumbnail)]
        count = len(rows)
        _event(
            batch,
            EventKind.DELETED,
            actor,
            from_status=batch.status,
            images_deleted=count,
            batch_id=batch.pk,
        )
        dequeue(batch)
        Annotation.objects.filter(image__placement__batch=batch).delete()
        batch.images.delete()
        _drop_orphan_assets(asset for _f, _t, asset in rows)  # what other projects use stays in the catalog
        batch.delete()
        transaction.on_commit(lambda: _delete_unreferenced(files))
    return count


def set_priority(*, batch: Batch, actor: User, priority: int) -> Batch:
    """Set a batch's priority, whatever its column; no event when it is unchanged.

    Not a ``transition``: the status stays, so a move meanwhile does not refuse it (a delete does).
    """
    _validate_priority(priority)
    with transaction.atomic():
        batch = _locked(batch, same_status=False)  # deleted meanwhile: 409, as for a move
        require(actor, "boards.change_batch_priority", batch, verb="change this batch's priority")
        old = batch.priority
        if old != priority:
            Batch.objects.filter(pk=batch.pk).update(priority=priority)
            QueueEntry.objects.filter(batch=batch).update(priority=priority)
            mark_changed(batch)
            batch.priority = priority
            _event(batch, EventKind.PRIORITY, actor, old=old, new=priority)
    return batch
