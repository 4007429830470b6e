"""Card moves: the one table of them, and ``move_batch``, the entry point of the board and the API.

``MOVES`` lists every move a card can make: from which column to which, the
service that makes it, the permission the role table must grant, the menu's
words, the dialog that asks what it needs first, and the API key scope it
takes. The board's card menu and drop targets (``allowed_moves``), the move
URL and the API (``move_batch``, ``api_scope``) all read it; nothing else
lists moves. The services check everything again when a move is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from accounts.models import ApiScope, User
from accounts.roles import Role, role_at_least
from boards.models import Batch, BatchStatus
from boards.services.catalog import restore_batch
from boards.services.common import STATUS_LABELS, _check_transition
from boards.services.review import approve, reject
from boards.services.workflow import archive, assign, delete_batch, move_to_unassigned, submit
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState

DELETE = "delete"  # not a column: the batch and its images go for good


class NeedsInput(InvalidInput):
    """The move needs a choice first (a labeler, what to do with annotations, a confirmation)."""

    def __init__(self, message: str, *, dialog: str):
        super().__init__(message)
        self.dialog = dialog


@dataclass(frozen=True)
class Choice:
    """What the person chose for a move; each move reads what it needs."""

    labeler: User | None = None
    queue: bool = False  # assign to the project's label queue instead of a labeler
    reviewer: User | None = None
    image_ids: Iterable[int] | None = None
    first: int | None = None
    keep_annotations: bool | None = None
    comment: str = ""
    # None: the caller does not ask (the API); False: ask first (the board's dialogs); True: confirmed.
    confirm: bool | None = None


def _assign(batch: Batch, actor: User, choice: Choice) -> Batch:
    _check_transition(batch, "assign", actor, verb="assign")
    if choice.labeler is None and not choice.queue:
        raise NeedsInput("Choose a labeler, or the label queue, for this batch.", dialog="assign")
    return assign(
        batch=batch,
        actor=actor,
        labeler=None if choice.queue else choice.labeler,
        queue=choice.queue,
        reviewer=choice.reviewer,
        image_ids=choice.image_ids,
        first=choice.first,
    ).batch


def _submit(batch: Batch, actor: User, choice: Choice) -> Batch:
    return submit(batch=batch, actor=actor)


def _approve(batch: Batch, actor: User, choice: Choice) -> Batch:
    return approve(batch=batch, actor=actor).approved


def _reject(batch: Batch, actor: User, choice: Choice) -> Batch:
    return reject(batch=batch, actor=actor, comment=choice.comment).rejected


def _unassign(batch: Batch, actor: User, choice: Choice) -> Batch:
    _check_transition(batch, "move_to_unassigned", actor, verb="move")
    if choice.keep_annotations is None:
        raise NeedsInput("Remove the annotations, or keep them as pre-labels?", dialog="unassign")
    return move_to_unassigned(batch=batch, actor=actor, keep_annotations=choice.keep_annotations)


def _archive(batch: Batch, actor: User, choice: Choice) -> Batch:
    if choice.confirm is False:
        _check_transition(batch, "archive", actor, verb="archive")
        raise NeedsInput("Archive this batch? Confirm first.", dialog="archive")
    return archive(batch=batch, actor=actor)


def _restore(batch: Batch, actor: User, choice: Choice) -> Batch:
    return restore_batch(batch=batch, actor=actor)


def _delete(batch: Batch, actor: User, choice: Choice) -> Batch:
    if not choice.confirm:
        raise NeedsInput("Deleting is permanent: confirm first.", dialog="delete")
    # The instance outlives its row: it says how many images went with it.
    batch.n_images = delete_batch(batch=batch, actor=actor)
    return batch


def _has_images(card) -> bool:
    return bool(card.image_count)


def _all_done(card) -> bool:
    """Every image annotated or marked empty, none awaiting rework: what ``services.submit`` requires."""
    return bool(card.image_count) and card.annotated_count == card.image_count and not card.rework_count


@dataclass(frozen=True)
class CardMove:
    source: str  # the column the card is in
    target: str  # the column it goes to, or DELETE
    label: str  # the card menu's words
    run: Callable[[Batch, User, Choice], Batch]  # the service
    permission: str  # what the role table must grant (the service checks it again)
    api_scope: str | None  # the API key scope it takes; None: not offered by the API
    dialog: str | None = None  # the dialog that asks what the move needs; None: it moves at once
    transition: str | None = None  # the ``Batch`` transition it runs
    review_mode: bool | None = None  # offered only when the project's review mode is this
    offered: Callable | None = None  # when the menu offers it, from the card's counts
    own_batch: bool = False  # a labeler makes it only on a batch assigned to them
    wrong_mode: str = ""  # why it is refused in a project of the other review mode


MANAGE, ANNOTATE = ApiScope.MANAGE.value, ApiScope.ANNOTATE.value
U, A, R, D, X = (
    BatchStatus.UNASSIGNED.value,
    BatchStatus.ANNOTATING.value,
    BatchStatus.REVIEW.value,
    BatchStatus.DATASET.value,
    BatchStatus.ARCHIVED.value,
)

MOVES: tuple[CardMove, ...] = (
    CardMove(U, A, "Assign…", _assign, "boards.assign_batch", MANAGE, "assign", "assign", offered=_has_images),
    CardMove(U, X, "Archive…", _archive, "boards.archive_batch", MANAGE, "archive", "archive"),
    CardMove(U, DELETE, "Delete…", _delete, "boards.delete_batch", None, "delete"),
    CardMove(
        A,
        R,
        "Submit for review",
        _submit,
        "boards.annotate_batch",
        ANNOTATE,
        transition="submit",
        review_mode=True,
        offered=_all_done,
        own_batch=True,
        wrong_mode="This project has no review step: submit goes straight to Dataset.",
    ),
    CardMove(
        A,
        D,
        "Submit to Dataset",
        _submit,
        "boards.annotate_batch",
        ANNOTATE,
        transition="submit",
        review_mode=False,
        offered=_all_done,
        own_batch=True,
        wrong_mode="This project reviews every batch: submit it to Review first.",
    ),
    CardMove(R, D, "Approve all", _approve, "boards.review_batch", ANNOTATE, transition="approve"),
    CardMove(R, A, "Reject all", _reject, "boards.review_batch", ANNOTATE, transition="reject"),
    *(
        CardMove(
            source,
            U,
            "Move to Unassigned…",
            _unassign,
            "boards.unassign_batch",
            MANAGE,
            "unassign",
            "move_to_unassigned",
        )
        for source in (A, R, D)
    ),
    # Archived batches are not on the board: the Archived list restores them, and the API.
    CardMove(X, U, "Restore to Unassigned", _restore, "boards.archive_batch", MANAGE, transition="restore"),
)

BOARD_MENU_SOURCES = (U, A, R, D)  # the board's columns: cards there have a menu


def find_move(source: str, target: str) -> CardMove | None:
    """The move from this column to that one, whatever the project's review mode; None if there is none."""
    return next((m for m in MOVES if m.source == source and m.target == target), None)


def api_scope(source: str, target: str) -> str | None:
    """The API key scope a move from ``source`` to ``target`` takes; None when the API does not offer it.

    A move that is not in the table (it goes nowhere, or nowhere possible) is refused by
    ``move_batch``; first the key must hold the scope such a request would need: manage
    for anything in or into the manager's columns (Unassigned, Archived), annotate otherwise.
    """
    move = find_move(source, target)
    if move is not None:
        return move.api_scope
    return MANAGE if target in (U, X) or source == U else ANNOTATE


class MoveRules:
    """Which moves one person may make on the cards of one project: the menu and the drop targets.

    The role is read once (``has_perm`` on the project: roles are per workspace), so
    deciding a board's two hundred cards costs no query. The services check again.
    """

    def __init__(self, user: User, project) -> None:
        self.user_id = user.pk
        self.review_mode = project.review_mode
        self.granted = {m.permission for m in MOVES if user.has_perm(m.permission, project)}
        role = user.role_in(project.workspace_id) if user.is_authenticated else None
        self.any_batch = role_at_least(role, Role.REVIEWER)  # as ``models.can_annotate``
        # The moves out of each column this person's role may make: a board asks for two hundred cards.
        self._from = {
            source: [m for m in MOVES if m.source == source and m.permission in self.granted]
            for source in BOARD_MENU_SOURCES
        }

    def allows(self, move: CardMove, card, *, whatever_the_counts: bool = False) -> bool:
        """Whether the menu offers this move on this card (or would, once its images are done)."""
        if move.source != card.status or move.permission not in self.granted:
            return False
        if move.review_mode is not None and move.review_mode != self.review_mode:
            return False
        if move.own_batch and not self.any_batch and card.labeler_id != self.user_id:
            return False
        return whatever_the_counts or move.offered is None or move.offered(card)

    def moves(self, card) -> list[CardMove]:
        """The moves the card menu offers on this card now, in the table's order (none off the board)."""
        if card.status not in BOARD_MENU_SOURCES:
            return []
        return [m for m in self._from[card.status] if self.allows(m, card)]

    def may_submit(self, card) -> bool:
        """Whether this person submits this card once its images are done."""
        return any(self.allows(m, card, whatever_the_counts=True) for m in MOVES if m.run is _submit)


def move_batch(
    *,
    batch: Batch,
    actor: User,
    to: str,
    labeler: User | None = None,
    queue: bool = False,
    reviewer: User | None = None,
    image_ids: Iterable[int] | None = None,
    first: int | None = None,
    keep_annotations: bool | None = None,
    comment: str = "",
    confirm: bool | None = None,
    seen_in: str | None = None,
) -> Batch:
    """Move a card as ``MOVES`` says: the one entry point of the board and the API.

    Runs the service of the move from the batch's column to ``to``. Raises
    ``NeedsInput`` when the move needs a choice first: a labeler (or the
    label ``queue``) for Annotating, whether to keep the annotations when going back to Unassigned,
    a confirmation to archive (when ``confirm`` is False) or delete. ``seen_in``
    is the column the person saw the card in; if it has moved since, the move
    is refused. A delete returns the deleted batch, its ``n_images`` the
    images that went.
    """
    here = batch.status
    if seen_in and seen_in != here:
        raise ConcurrentChange(f"Someone else moved this batch to {STATUS_LABELS.get(here, here)} meanwhile.")
    if to == here:
        _stay(batch, actor, labeler=labeler, queue=queue, reviewer=reviewer)
        return batch
    label_to = STATUS_LABELS.get(to, "deleted" if to == DELETE else None)
    if label_to is None:
        raise InvalidInput(f"There is no column “{to}”.")
    # A delete from elsewhere goes to its service, which says why not (permission first).
    move = find_move(U if to == DELETE else here, to)
    if move is None:
        raise WrongState(f"A batch cannot move from {STATUS_LABELS[here]} to {label_to}.")
    if move.review_mode is not None and move.review_mode != batch.project.review_mode:
        raise WrongState(move.wrong_mode)
    choice = Choice(
        labeler=labeler,
        queue=queue,
        reviewer=reviewer,
        image_ids=image_ids,
        first=first,
        keep_annotations=keep_annotations,
        comment=comment,
        confirm=confirm,
    )
    return move.run(batch, actor, choice)


def _stay(batch: Batch, actor: User, *, labeler: User | None, queue: bool, reviewer: User | None) -> None:
    """A move to the column the batch is in changes nothing, so that a retried move answers as the
    first one did; but only for someone who may move batches in the project at all, and never
    silently in place of a change it asks for (another labeler, reviewer or the queue)."""
    if not MoveRules(actor, batch.project).granted:
        raise NotAllowed("You do not have permission to move batches in this project.")
    job = batch.current_job if batch.status == BatchStatus.ANNOTATING else None
    if job is None or (labeler is None and not queue and reviewer is None):
        return
    other_labeler = (labeler is not None and job.labeler_id != labeler.pk) or (queue and job.labeler_id is not None)
    if other_labeler or (reviewer is not None and job.reviewer_id != reviewer.pk):
        raise WrongState(
            "This batch is already in Annotating: to give it to someone else, move it back to Unassigned "
            "and assign it again."
        )
