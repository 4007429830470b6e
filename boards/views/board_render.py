"""The board as HTML: each card rendered from its ``Card``, and the render cache beside it.

``board_context`` is the one call the board views make. Cards are kept in the
``boards`` cache under their batch's version and their viewer, boards under the
board's version (see "The board's caches" in the README); with nothing cached,
two hundred cards are loaded in three queries and rendered here.

The card is the one fragment rendered hundreds of times per page, so it is
written in Python (``card_html``) rather than as a template partial: about
25 µs a card against 250 µs through the template engine, which made a board
with nothing cached ten times slower than a cached one. Every value is escaped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape

from django.core.cache import caches
from django.http import HttpRequest
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.models import User
from boards import selectors
from boards.models import Project
from boards.selectors.cards import Card
from boards.services.moves import MoveRules
from boards.templatetags.board_tags import age

# Rendered cards (see "The board's caches" in the README). Keys name the
# version of what they hold, so entries never go stale; a day bounds how long
# an unused one lingers before the cache's own culling gets to it.
CARD_CACHE_SECONDS = 24 * 3600
# A rendered board is reused while nothing on it changed, for a minute at most:
# the cards' ages ("5m") move on with the clock.
BOARD_CACHE_SECONDS = 60


def _cache():
    return caches["boards"]


@dataclass(frozen=True)
class RenderedCard:
    pk: int
    status: str
    html: str
    movable: bool
    # A queue card names who holds its images: it is drawn again once the first hold may
    # have expired (a timestamp), since expiry changes nothing in the batch's version.
    fresh_until: float | None = None


class CardRenderer:
    """Renders one person's cards of one project: the links and the rules are worked out once."""

    def __init__(self, user: User, project: Project):
        self.rules = MoveRules(user, project)
        self.base = reverse("batch", args=[project.workspace.slug, project.slug, 0]).removesuffix("0/")
        self.thumb = reverse("image-file", args=[0, "thumb"]).removesuffix("0/thumb")
        self.now = timezone.now()
        self.zone = timezone.get_current_timezone()

    def url(self, card: Card) -> str:
        return f"{self.base}{card.pk}/"

    def render(self, cards: list[Card]) -> list[RenderedCard]:
        rendered = []
        for card in cards:
            moves = self.rules.moves(card)
            html = mark_safe(self.card_html(card, moves))  # noqa: S308 - every value in it is escaped
            until = card.workers_until.timestamp() if card.workers_until else None
            rendered.append(RenderedCard(card.pk, card.status, html, bool(moves), until))
        return rendered

    def card_html(self, card: Card, moves) -> str:
        url = self.url(card)
        name = escape(card.name)
        parts = [
            f'<li class="batch-card prio-{card.priority}{"" if moves else " locked"}" id="batch-{card.pk}"\n'
            f'    data-move-url="{url}move"\n'
            f'    data-moves="{"".join(f"{m.target} " for m in moves)}"\n'
            f'    data-name="{name}">\n'
            f'  <div class="card-top">\n'
            f'    <a href="{url}" class="batch-name">{name}</a>\n'
        ]
        if moves:
            # settle:0ms: htmx wires the fetched forms up at once, not 20 ms after they show
            # (a quick Space would post them plainly).
            parts.append(
                '    <details class="card-menu">\n'
                f'      <summary aria-label="Move “{name}”">⋯</summary>\n'
                f'      <ul class="menu" role="list" hx-get="{url}menu?from={card.status}" '
                'hx-trigger="toggle once from:closest details" hx-swap="innerHTML settle:0ms">\n'
                f'        <li><a href="{url}">Open the batch to move it…</a></li>\n'
                "      </ul>\n"
                "    </details>\n"
            )
        parts.append("  </div>\n")
        if card.thumb_ids:
            imgs = "".join(
                f'<img src="{self.thumb}{pk}/thumb" alt="" loading="lazy" width="56" height="42">'
                for pk in card.thumb_ids
            )
            parts.append(f'  <div class="strip" aria-hidden="true">\n    {imgs}\n  </div>\n')
        n = card.image_count
        parts.append(
            '  <div class="meta">\n'
            f'    <span class="prio" title="Priority {card.priority} (1 is highest)">P{card.priority}</span>\n'
            f"    <span>{n} image{_s(n)}</span>\n"
        )
        if card.prelabeled_count:
            parts.append(
                '    <span class="prelabeled" title="Images with boxes kept as pre-labels: a labeler confirms '
                f'them in the editor">{card.prelabeled_count} pre-labeled</span>\n'
            )
        if card.num_jobs:
            parts.append(
                '    <span class="muted" title="Jobs: assignments so far">'
                f"{card.num_jobs} job{_s(card.num_jobs)}</span>\n"
            )
        people = ""
        if card.queue:
            people = '<span class="avatar queue" title="Label queue: any labeler is served its images">Q</span>'
            for worker in card.workers[:3]:
                people += (
                    f'<span class="avatar" title="Labeling now: {escape(worker.email)}">'
                    f"{escape(worker.initials)}</span>"
                )
            if len(card.workers) > 3:
                more = len(card.workers) - 3
                people += f'<span class="avatar more" title="{more} more labeling now">+{more}</span>'
        elif card.labeler:
            people = (
                f'<span class="avatar" title="Labeler: {escape(card.labeler.email)}">'
                f"{escape(card.labeler.initials)}</span>"
            )
        if card.reviewer:  # without a labeler only for a queue batch
            people += (
                f'<span class="avatar reviewer" title="Reviewer: {escape(card.reviewer.email)}">'
                f"{escape(card.reviewer.initials)}</span>"
            )
        uploaded = card.uploaded_at.astimezone(self.zone)  # as ``timezone.localtime``, the zone looked up once
        parts.append(
            f'    <span class="people">{people}</span>\n'
            f'    <span class="age muted" title="Uploaded {uploaded:%b} {uploaded.day}, {uploaded:%Y %H:%M}">'
            f"{age(card.uploaded_at, self.now)}</span>\n"
            "  </div>\n"
        )
        if card.status != "unassigned":
            p = card.progress
            rework = ""
            if card.rework_count:
                rework = (
                    ' · <span class="rework-tag" title="Images sent back by the review that are neither changed '
                    f'nor checked yet">{card.rework_count} to rework</span>'
                )
            parts.append(
                f'  <div class="progress" role="progressbar" aria-label="{p.label}" aria-valuemin="0" '
                f'aria-valuemax="{p.total}" aria-valuenow="{p.done}">\n'
                '    <svg viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">'
                f'<rect width="{p.percent}" height="1"/></svg>\n'
                "  </div>\n"
                f'  <div class="progress-label muted">{p.done} / {p.total} {p.label}{rework}</div>\n'
            )
        parts.append("</li>\n")
        return "".join(parts)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def render_cards(user: User, project: Project, cards: list[Card]) -> list[RenderedCard]:
    """These cards as this user sees them (no cache): for "show more" and the cards a move changed."""
    return CardRenderer(user, project).render(cards)


def board_context(request: HttpRequest, project: Project) -> dict:
    """Everything the board page shows, its columns and cards rendered (or taken from the cache)."""
    board_filter = selectors.BoardFilter.from_query(request.GET)
    user = request.user
    return {
        "project": project,
        "filter": board_filter,
        "can_upload": user.has_perm("boards.upload_images", project),
        "can_label": user.has_perm("boards.annotate_batch", project),
        "can_manage": user.has_perm("boards.manage_project", project),
        "board_html": _board_html(request, project, board_filter),
    }


def _board_html(request: HttpRequest, project: Project, board_filter: selectors.BoardFilter) -> str:
    """The board's columns and cards as this user sees them, rendered once per change of the board."""
    user = request.user
    version = selectors.board_version(project)
    who = (user.pk, user.is_superuser, user.role_in(project.workspace_id))
    inputs = (
        project.pk,
        project.slug,
        project.workspace.slug,
        project.review_mode,
        project.updated_at.isoformat(),
        who,
    )
    key = "board-html:" + _digest((*inputs, version, board_filter.as_query()))
    cache = _cache()
    html = cache.get(key)
    if html is None:
        columns = selectors.board_columns(user, project, board_filter)
        cards = _board_cards(user, project, [ref for column in columns for ref in column.batches], _digest(inputs))
        for column in columns:
            column.batches = [cards[ref.pk] for ref in column.batches if ref.pk in cards]
            column.html = join_cards(column.batches)
        context = {
            "project": project,
            "columns": columns,
            "filter": board_filter,
            "can_drag": any(card.movable for column in columns for card in column.batches),
            "version": version,
        }
        html = get_template("boards/board.html#board").render(context)
        cache.set(key, html, timeout=BOARD_CACHE_SECONDS)
    return html


def _board_cards(user: User, project: Project, refs: list[selectors.CardRef], viewer: str) -> dict[int, RenderedCard]:
    """The board's cards for this user, by batch id: from the cache, or loaded and rendered.

    A card is kept under its batch's version (``updated_at``, which every
    change to the batch, its images or its jobs moves on), its age as shown,
    and the viewer (user, role, project settings). So after a change only the
    changed cards are loaded, counted and rendered again.
    """
    cache = _cache()
    now = timezone.now()
    keys = {
        ref.pk: f"board-card-5:{viewer}:{ref.pk}:{ref.updated_at.timestamp():.6f}:{age(ref.uploaded_at, now)}"
        for ref in refs
    }
    # Kept as plain tuples of five (the key says so: an older layout is never read). They
    # pickle (locmem, Redis) twenty times faster than objects.
    stamp = now.timestamp()
    found = {
        key: RenderedCard(pk, status, mark_safe(html), movable, until)  # noqa: S308 - rendered by card_html, escaped
        for key, (pk, status, html, movable, until) in cache.get_many(keys.values()).items()
        if until is None or until > stamp
    }
    missing = [ref.pk for ref in refs if keys[ref.pk] not in found]
    if missing:
        fresh = {
            keys[card.pk]: card
            for card in render_cards(user, project, selectors.cards_of(project, missing))
            if card.pk in keys
        }
        cache.set_many(
            {key: (c.pk, c.status, str(c.html), c.movable, c.fresh_until) for key, c in fresh.items()},
            timeout=CARD_CACHE_SECONDS,
        )
        found |= fresh
    return {ref.pk: found[keys[ref.pk]] for ref in refs if keys[ref.pk] in found}


def join_cards(cards: list[RenderedCard]) -> str:
    """A column's cards as one piece of HTML (one template variable, not a loop of two hundred)."""
    return mark_safe("".join(card.html for card in cards))  # noqa: S308 - each card is escaped HTML


def _digest(inputs) -> str:
    return hashlib.blake2b(repr(inputs).encode(), digest_size=16).hexdigest()
