"""Moving a card: the one entry point of the board and the API."""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import User
from boards.errors import ConcurrentChange, InvalidInput, WrongState
from boards.models import Batch, BatchStatus
from boards.services.catalog import restore_batch
from boards.services.common import STATUS_LABELS, _check_transition
from boards.services.review import approve, reject
from boards.services.workflow import archive, assign, move_to_unassigned, submit


class NeedsInput(InvalidInput):
    """The move needs a choice first (a labeler, or what to do with annotations)."""

    def __init__(self, message: str, *, dialog: str):
        super().__init__(message)
        self.dialog = dialog


def move_batch(
    *,
    batch: Batch,
    actor: User,
    to: str,
    labeler: User | None = None,
    reviewer: User | None = None,
    image_ids: Iterable[int] | None = None,
    first: int | None = None,
    keep_annotations: bool | None = None,
    comment: str = "",
    seen_in: str | None = None,
) -> Batch:
    """Move a card to another column: the one entry point of the board and the API.

    Runs the service for that pair of columns. Raises ``NeedsInput`` when the
    move needs a choice first: a labeler for Annotating, and whether to keep
    the annotations when going back to Unassigned. ``seen_in`` is the column the
    person saw the card in; if it has moved since, the move is refused.
    """
    here = batch.status
    if seen_in and seen_in != here:
        raise ConcurrentChange(f"Someone else moved this batch to {STATUS_LABELS.get(here, here)} meanwhile.")
    if to == here:
        return batch
    label_to = STATUS_LABELS.get(to)
    if label_to is None:
        raise InvalidInput(f"There is no column “{to}”.")
    if here == BatchStatus.UNASSIGNED and to == BatchStatus.ANNOTATING:
        _check_transition(batch, "assign", actor, verb="assign")
        if labeler is None:
            raise NeedsInput("Choose a labeler for this batch.", dialog="assign")
        return assign(
            batch=batch, actor=actor, labeler=labeler, reviewer=reviewer, image_ids=image_ids, first=first
        ).batch
    if here == BatchStatus.ANNOTATING and to in (BatchStatus.REVIEW, BatchStatus.DATASET):
        review_mode = batch.project.review_mode
        if to == BatchStatus.DATASET and review_mode:
            raise WrongState("This project reviews every batch: submit it to Review first.")
        if to == BatchStatus.REVIEW and not review_mode:
            raise WrongState("This project has no review step: submit goes straight to Dataset.")
        return submit(batch=batch, actor=actor)
    if here == BatchStatus.REVIEW and to == BatchStatus.DATASET:
        return approve(batch=batch, actor=actor).approved
    if here == BatchStatus.REVIEW and to == BatchStatus.ANNOTATING:
        return reject(batch=batch, actor=actor, comment=comment).rejected
    if to == BatchStatus.UNASSIGNED and here in (BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET):
        _check_transition(batch, "move_to_unassigned", actor, verb="move")
        if keep_annotations is None:
            raise NeedsInput("Remove the annotations, or keep them as pre-labels?", dialog="unassign")
        return move_to_unassigned(batch=batch, actor=actor, keep_annotations=keep_annotations)
    if here == BatchStatus.UNASSIGNED and to == BatchStatus.ARCHIVED:
        return archive(batch=batch, actor=actor)
    if here == BatchStatus.ARCHIVED and to == BatchStatus.UNASSIGNED:
        return restore_batch(batch=batch, actor=actor)
    raise WrongState(f"A batch cannot move from {STATUS_LABELS[here]} to {label_to}.")
