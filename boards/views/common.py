"""Small helpers the screens share: why a card waits to be submitted, and refusals as JSON or a page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize

from boards.models import BatchStatus
from boards.selectors.cards import Card
from boards.services.moves import MoveRules
from core.error_pages import error_response
from core.http import json_error


def submit_waits(rules: MoveRules, card: Card) -> str:
    """Why "Submit" is not offered yet to someone who may submit this card in Annotating; "" when it is.

    ``services.submit`` checks again.
    """
    if card.status != BatchStatus.ANNOTATING or not card.image_count or not rules.may_submit(card):
        return ""
    return _waits(card.image_count - card.annotated_count, card.rework_count)


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
        return json_error(message, status, "forbidden" if status == 403 else "invalid")
    if template is None:
        return error_response(request, message, status)
    messages.error(request, message)
    return render(request, template, context or {}, status=status)
