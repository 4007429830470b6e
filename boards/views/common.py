"""Small helpers the screens share: the moves a card offers, and refusals as JSON or a page."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import (
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.template.defaultfilters import pluralize

from accounts.models import User
from boards.models import (
    Batch,
    BatchStatus,
    can_submit,
)
from core.error_pages import error_response


@dataclass(frozen=True)
class Move:
    to: str
    label: str
    dialog: str | None = None


def card_moves(user: User, batch: Batch) -> list[Move]:
    """The moves this user may make on this card now: the menu and the drop targets.

    Uses what ``selectors.decorate_cards`` attached and the cached roles: no query.
    The services check everything again when the move is posted.
    """
    moves: list[Move] = []
    status, project = batch.status, batch.project
    if status == BatchStatus.UNASSIGNED:
        if user.has_perm("boards.assign_batch", batch) and batch.image_count:
            moves.append(Move(BatchStatus.ANNOTATING, "Assign…", "assign"))
        if user.has_perm("boards.archive_batch", batch):
            moves.append(Move(BatchStatus.ARCHIVED, "Archive…", "archive"))
        if user.has_perm("boards.delete_batch", batch):
            moves.append(Move("delete", "Delete…", "delete"))
        return moves
    if status == BatchStatus.ANNOTATING:
        done = batch.image_count and batch.annotated_count == batch.image_count and not batch.rework_count
        if done and can_submit(batch, user):
            target = BatchStatus.REVIEW if project.review_mode else BatchStatus.DATASET
            moves.append(Move(target, "Submit for review" if project.review_mode else "Submit to Dataset"))
    if status == BatchStatus.REVIEW and user.has_perm("boards.review_batch", batch):
        moves.append(Move(BatchStatus.DATASET, "Approve all"))
        moves.append(Move(BatchStatus.ANNOTATING, "Reject all"))
    if status != BatchStatus.ARCHIVED and user.has_perm("boards.unassign_batch", batch):
        moves.append(Move(BatchStatus.UNASSIGNED, "Move to Unassigned…", "unassign"))
    return moves


def submit_waits(user: User, batch: Batch) -> str:
    """Why "Submit" is not offered yet to someone who may submit this batch in Annotating; "" when it is.

    Uses the counts ``selectors.decorate_cards`` attached; ``services.submit`` checks again.
    """
    if batch.status != BatchStatus.ANNOTATING or not batch.image_count or not can_submit(batch, user):
        return ""
    return _waits(batch.image_count - batch.annotated_count, batch.rework_count)


def _waits(to_do: int, rework: int) -> str:
    parts = []
    if to_do:
        parts.append(f"{to_do} image{pluralize(to_do)} still to annotate or mark empty")
    if rework:
        n = rework
        parts.append(
            f"{n} image{pluralize(n)} sent back by the review still await{pluralize(n, 's,')} rework "
            "(change {0} or mark {0} “checked, no change needed”)".format(pluralize(n, "it,them"))
        )
    return f"Submit waits: {' and '.join(parts)}." if parts else ""


def _refuse(request, message, status, wants_json, template=None, context=None) -> HttpResponse:
    if wants_json:
        return JsonResponse(
            {"error": {"message": message, "type": "forbidden" if status == 403 else "invalid"}}, status=status
        )
    if template is None:
        return error_response(request, message, status)
    messages.error(request, message)
    return render(request, template, context or {}, status=status)


def _json_error(message: str, status: int, kind: str = "invalid") -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind}}, status=status)
