"""The board's render cache: rendered cards and boards, keyed on the version of what they show."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import caches
from django.http import (
    HttpRequest,
)
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from boards import selectors
from boards.models import (
    Batch,
    Project,
)
from boards.templatetags.board_tags import age
from boards.views.common import card_moves

# Rendered cards and boards (see "The board's caches" in the README). Keys name
# the version of what they hold, so entries never go stale; a day bounds how
# long an unused one lingers before the cache's own culling gets to it.
CARD_CACHE_SECONDS = 24 * 3600


def _cache():
    return caches["boards"]


def _prepare_cards(user: User, project: Project, batches: list[Batch]) -> None:
    """Moves, links and HTML for each card."""
    _card_links(user, project, batches)
    _render_cards(batches)


def _card_links(user: User, project: Project, batches: list[Batch]) -> None:
    """Moves and links for each card: built once here rather than ten {% url %} calls a card."""
    base = reverse("batch", args=[project.workspace.slug, project.slug, 0]).removesuffix("0/")
    thumb = reverse("image-file", args=[0, "thumb"]).removesuffix("0/thumb")
    for batch in batches:
        batch.moves = card_moves(user, batch)
        batch.url = f"{base}{batch.pk}/"
        batch.thumb_urls = [f"{thumb}{image_id}/thumb" for image_id in batch.thumb_ids]
        # As the date filter's "M j, Y H:i", at a tenth of its cost (a third of a card's rendering).
        uploaded = timezone.localtime(batch.uploaded_at)
        batch.uploaded_label = f"{uploaded:%b} {uploaded.day}, {uploaded:%Y %H:%M}"


def _render_cards(batches: list[Batch]) -> None:
    """Each card's HTML, memoised on everything the card shows.

    The key is a digest of the card's inputs (counts, people, moves, age...),
    so a cached card is the card the template would render now. Cards hold no
    CSRF token: their menu is fetched when opened (``card_menu``).
    """
    cache = _cache()
    keys = {batch.pk: _card_key(batch) for batch in batches}
    cached = cache.get_many(keys.values())
    fresh: dict[str, str] = {}
    template = get_template("boards/board.html#card")
    for batch in batches:
        key = keys[batch.pk]
        batch.html = cached.get(key) or fresh.get(key)
        if batch.html is None:
            batch.html = fresh[key] = template.render({"batch": batch})
    if fresh:
        cache.set_many(fresh, timeout=CARD_CACHE_SECONDS)


def _card_key(batch: Batch) -> str:
    job = batch.current_job
    people = [(u.email, u.initials) for u in (job.labeler, job.reviewer) if u] if job else []
    inputs = (
        batch.pk,
        batch.name,
        batch.priority,
        batch.status,
        batch.url,
        batch.uploaded_at.isoformat(),
        age(batch.uploaded_at),
        batch.image_count,
        batch.annotated_count,
        batch.reviewed_count,
        batch.prelabeled_count,
        batch.thumb_urls,
        batch.num_jobs,
        people,
        [m.to for m in batch.moves],
    )
    return "card-html:" + _digest(inputs)


def _board_context(request: HttpRequest, project: Project) -> dict:
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


# A rendered board is reused while nothing on it changed, for a minute at most:
# the cards' ages ("5m") move on with the clock.
BOARD_CACHE_SECONDS = 60


def _board_html(request: HttpRequest, project: Project, board_filter: selectors.BoardFilter) -> str:
    """The board's columns and cards as this user sees them, rendered once per change of the board."""
    user = request.user
    version = selectors.board_version(project)
    who = (user.pk, user.is_superuser, user.role_in(project.workspace_id))
    inputs = (project.pk, project.slug, project.workspace.slug, project.updated_at.isoformat(), who)
    key = "board-html:" + _digest((*inputs, version, board_filter.as_query()))
    cache = _cache()
    html = cache.get(key)
    if html is None:
        columns = selectors.board_columns(user, project, board_filter)
        cards = _board_cards(user, project, [ref for column in columns for ref in column.batches], _digest(inputs))
        for column in columns:
            column.batches = [cards[ref.pk] for ref in column.batches if ref.pk in cards]
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


@dataclass(frozen=True)
class _Card:
    pk: int
    html: str
    movable: bool


def _board_cards(user: User, project: Project, refs: list[selectors.CardRef], viewer: str) -> dict[int, _Card]:
    """The board's cards for this user, by batch id: from the cache, or loaded and rendered.

    A card is kept under its batch's version (``updated_at``, which every
    change to the batch, its images or its jobs moves on), its age as shown,
    and the viewer (user, role, project settings). So after a change only the
    changed cards are loaded, counted and rendered again.
    """
    cache = _cache()
    keys = {
        ref.pk: f"board-card:{viewer}:{ref.pk}:{ref.updated_at.timestamp():.6f}:{age(ref.uploaded_at)}" for ref in refs
    }
    found = cache.get_many(keys.values())
    missing = [ref.pk for ref in refs if keys[ref.pk] not in found]
    if missing:
        batches = selectors.cards(project, missing)
        _prepare_cards(user, project, batches)
        fresh = {keys[b.pk]: _Card(b.pk, b.html, bool(b.moves)) for b in batches if b.pk in keys}
        cache.set_many(fresh, timeout=CARD_CACHE_SECONDS)
        found |= fresh
    return {ref.pk: found[keys[ref.pk]] for ref in refs if keys[ref.pk] in found}


def _digest(inputs) -> str:
    return hashlib.blake2b(repr(inputs).encode(), digest_size=16).hexdigest()
