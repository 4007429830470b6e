"""HTML views: translate HTTP into a service call and back. No logic lives here."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from accounts.models import User
from accounts.roles import DIALOG_PERMISSIONS
from boards import selectors, services, upload_requests
from boards.errors import ConcurrentChange, InvalidInput, ServiceError
from boards.formats import AnnotationFormatError, export
from boards.models import (
    MAX_BATCH_IMAGES,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    LabelClass,
    Project,
    ReviewMark,
    ReviewState,
    can_annotate,
    can_submit,
)
from boards.templatetags.board_tags import age
from core import params
from core.error_pages import error_response

IMAGES_PER_PAGE = 120


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.member_projects(request.user)
    workspaces: dict = {}
    for project in projects:
        workspaces.setdefault(project.workspace, []).append(project)
    key_workspaces = {w.pk for w in workspaces if request.user.has_perm("accounts.manage_api_keys", w)}
    return render(request, "boards/home.html", {"workspaces": workspaces, "key_workspaces": key_workspaces})


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


def _board_page(request: HttpRequest, project: Project, *, status: int = 200) -> HttpResponse:
    context = _board_context(request, project)
    if request.htmx:
        return HttpResponse(context["board_html"], status=status)
    return render(request, "boards/board.html", context, status=status)


@login_required
@vary_on_headers("HX-Request")
def board(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    return _board_page(request, selectors.project_for(request.user, ws, project))


@login_required
def card_menu(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """A card's "⋯" menu, fetched when it opens: only the moves this user may make on it now."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.card(project_obj, batch_id)
    if not request.htmx:
        return redirect("batch", ws, project, batch_id)
    seen = params.text(request.GET, "from", limit=20)
    if seen and seen != batch.status:
        moved = f"Someone else moved this batch to {batch.get_status_display()} meanwhile."
        return _refused(request, project_obj, ConcurrentChange(moved))
    _card_links(request.user, project_obj, [batch])
    context = {
        "batch": batch,
        "moves": batch.moves,
        "submit_waits": submit_waits(request.user, batch),
        "can_review": request.user.has_perm("boards.review_batch", batch),
        "can_prioritize": request.user.has_perm("boards.change_batch_priority", batch),
        "priorities": range(1, 6),
    }
    return render(request, "boards/board.html#card-menu", context)


def _board_etag(project: Project) -> str:
    return f'"{selectors.board_version(project)}"'


@login_required
def board_version(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """A cheap check the board polls: 304 while nothing on it changed."""
    project_obj = selectors.project_for(request.user, ws, project)
    etag = _board_etag(project_obj)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(status=204)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


MAX_COLUMN_OFFSET = 10**9


@login_required
def column_more(request: HttpRequest, ws: str, project: str, status: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    offset = params.integer(request.GET, "offset", default=0, low=0, high=MAX_COLUMN_OFFSET)
    column = selectors.column_page(
        request.user, project_obj, status, offset=offset, board_filter=selectors.BoardFilter.from_query(request.GET)
    )
    _prepare_cards(request.user, project_obj, column.batches)
    return render(
        request,
        "boards/board.html#more-cards",
        {"project": project_obj, "column": column, "filter": selectors.BoardFilter.from_query(request.GET)},
    )


@login_required
@require_POST
def move(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Move a card to another column: drag-and-drop, the card menu and plain forms all post here."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    data = request.POST
    started = timezone.now()
    try:
        to = params.text(data, "to", label="The column to move to", limit=20)
        seen_in = params.text(data, "from", label="The column the card was in", limit=20) or None
        if to == "delete":
            if seen_in and seen_in != batch.status:
                raise services.ConcurrentChange(
                    f"Someone else moved this batch to {batch.get_status_display()} meanwhile."
                )
            if data.get("confirm") != "yes":
                raise services.NeedsInput("Deleting is permanent: confirm first.", dialog="delete")
            name = batch.name
            count = services.delete_batch(batch=batch, actor=request.user)
            message = f"Deleted “{name}” and its {count} image{pluralize(count)} for good."
        else:
            unconfirmed = to == BatchStatus.ARCHIVED and data.get("confirm") != "yes"
            if unconfirmed and _would_archive(request.user, batch, seen_in):
                raise services.NeedsInput("Archive this batch? Confirm first.", dialog="archive")
            ids = params.idents(data, "images", label="A selected image") or None
            selection = params.choice(data, "selection", ("first", "all", "chosen"), label="The selection")
            first = None
            if selection == "first":
                # Checked against the batch's size by the service: more than it holds is refused.
                first = params.integer(
                    data, "first", label="How many images", low=1, high=MAX_BATCH_IMAGES, required=True
                )
                ids = None
            elif selection == "all":
                ids = None
            moved = services.move_batch(
                batch=batch,
                actor=request.user,
                to=to,
                labeler=_member(batch, data, "labeler"),
                reviewer=_member(batch, data, "reviewer"),
                image_ids=ids,
                first=first,
                keep_annotations=params.boolean(data, "keep_annotations", label="Keep annotations", default=None),
                comment=params.text(data, "comment", label="The comment", limit=5000),
                seen_in=seen_in,
            )
            message = _moved_message(batch, moved, to, split=ids is not None or first is not None)
    except services.NeedsInput as needs:
        return _dialog(request, project_obj, batch, needs.dialog, needs.message)
    except ServiceError as exc:
        if data.get("from_page") == "batch" and not request.htmx:
            messages.error(request, exc.message)
            return _render_batch(request, selectors.batch_in(project_obj, batch_id), status=exc.status)
        return _refused(request, project_obj, exc)
    from_batch_page = data.get("from_page") == "batch"
    if request.htmx and not from_batch_page:
        response = render(request, "boards/board.html#moved", _moved_context(request, project_obj, batch_id, started))
        return trigger_client_event(response, "toast", {"message": message, "level": "success"})
    messages.success(request, message)
    target = reverse("board", args=[ws, project])
    if from_batch_page and to != "delete":
        target = reverse("batch", args=[ws, project, batch_id])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def _would_archive(user: User, batch: Batch, seen_in: str | None) -> bool:
    """Whether archiving would go ahead now: only then is a confirmation asked; otherwise the service says why not."""
    here = batch.status
    return here == BatchStatus.UNASSIGNED and seen_in in (None, here) and user.has_perm("boards.archive_batch", batch)


def _moved_context(request: HttpRequest, project: Project, batch_id: int, since) -> dict:
    """What a successful move changes on the board: out-of-band swaps, not a redraw.

    The moved card leaves its old place and enters its new column where the
    sort order puts it (with any batch split off it), and every count updates.
    """
    user = request.user
    statuses = selectors.visible_statuses(user, project)
    changed = selectors.decorate_cards(
        project, list(Batch.objects.filter(project=project, updated_at__gte=since, status__in=statuses))
    )
    _prepare_cards(user, project, changed)
    placed = [(batch, selectors.card_after(batch)) for batch in changed]
    # A batch split off by this move has no card on the page yet: deleting its
    # card out of band would name a missing element (htmx:oobErrorNoTarget).
    created = set(
        BatchEvent.objects.filter(
            batch__in=[b.pk for b in changed], kind=EventKind.CREATED, at__gte=since
        ).values_list("batch_id", flat=True)
    )
    return {
        "project": project,
        "removed": [batch_id, *(b.pk for b in changed if b.pk != batch_id and b.pk not in created)],
        "placed": placed,
        "columns": selectors.column_counts(user, project),
    }


def _moved_message(batch: Batch, moved: Batch | None, to: str, *, split: bool = False) -> str:
    labels = dict(BatchStatus.choices)
    if to == BatchStatus.ANNOTATING and batch.status == BatchStatus.UNASSIGNED and moved is not None:
        labeler = moved.current_job.labeler.get_full_name()
        rest = Batch.objects.filter(split_from=batch, status=BatchStatus.UNASSIGNED).order_by("-pk").first()
        if not split or rest is None:
            return f"Assigned “{batch.name}” to {labeler}."
        assigned = f"Assigned {moved.images.count()} images of “{batch.name}” to {labeler}."
        return f"{assigned} The other {rest.images.count()} wait in Unassigned as “{rest.name}”."
    if to == BatchStatus.ARCHIVED:
        return f"Archived “{batch.name}”; its images are free to join another batch."
    if moved is None or moved.status == to:
        return f"Moved “{batch.name}” to {labels.get(to, to)}."
    return f"“{batch.name}” is now in {labels[moved.status]}."


def _refused(request: HttpRequest, project: Project, exc: ServiceError) -> HttpResponse:
    """A refused move: the status says why to scripts, the message to people."""
    if request.htmx:
        response = HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
        response["HX-Reswap"] = "none"
        return response
    messages.error(request, exc.message)
    return _board_page(request, project, status=exc.status)


DIALOG_VERBS = {"assign": "assign", "unassign": "move to Unassigned", "delete": "delete", "archive": "archive"}


@login_required
def dialog(request: HttpRequest, ws: str, project: str, batch_id: int, name: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    if name not in DIALOG_PERMISSIONS:
        raise Http404("No such dialog.")
    if not request.user.has_perm(DIALOG_PERMISSIONS[name], batch):
        # The same refusal the move would get: no form that only fails when sent.
        raise PermissionDenied(f"You do not have permission to {DIALOG_VERBS[name]} this batch.")
    return _dialog(request, project_obj, batch, name, "", from_page=params.text(request.GET, "from_page", limit=20))


def _dialog(
    request: HttpRequest, project: Project, batch: Batch, name: str, message: str, *, from_page: str = ""
) -> HttpResponse:
    batch = selectors.decorate_cards(project, [batch])[0]
    from_page = from_page or params.text(request.POST, "from_page", limit=20)
    context = {"project": project, "batch": batch, "message": message, "from_page": from_page}
    if name == "assign":
        context |= {
            "labelers": selectors.assignable_labelers(project),
            "reviewers": selectors.assignable_reviewers(project),
            "images": selectors.batch_images(batch).only("pk", "original_filename")[: selectors.ASSIGN_GRID_LIMIT],
            "grid_limit": selectors.ASSIGN_GRID_LIMIT,
        }
    template = f"boards/dialogs.html#{name}"
    if request.htmx:
        response = render(request, template, context)
        response["HX-Retarget"] = "#dialog-slot"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "boards/dialog_page.html", context | {"dialog": name, "standalone": True})


@csrf_exempt  # checked by _upload: the body must first be read within the upload limits
@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    if request.method == "POST":
        try:
            upload_requests.read_upload(request)
        except ServiceError as exc:
            wants_json = "application/json" in request.headers.get("Accept", "")
            context = {"project": selectors.project_for(request.user, ws, project)}
            return _refuse(request, exc.message, exc.status, wants_json, "boards/upload.html", context)
    return _upload(request, ws, project)


@csrf_protect
def _upload(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not request.user.has_perm("boards.upload_images", project_obj):
        return _refuse(request, "You do not have permission to upload images to this project.", 403, wants_json)
    context = {"project": project_obj, "max_request_bytes": settings.MAX_UPLOAD_REQUEST_BYTES}
    if request.method == "POST":
        try:
            into = None
            batch_id = params.ident(request.POST, "batch", label="The batch to add to")
            if batch_id is not None:
                into = selectors.batch_in(project_obj, batch_id)
            result = services.upload_images(
                project=project_obj,
                actor=request.user,
                files=request.FILES.getlist("files"),
                batch_name=params.text(request.POST, "name", label="The batch name", limit=200) or None,
                into=into,
            )
        except ServiceError as exc:
            return _refuse(request, exc.message, exc.status, wants_json, "boards/upload.html", context)
        status = 201 if result.batch else 422
        if wants_json:
            return JsonResponse(result.to_dict(), status=status)
        context["result"] = result
        return render(request, "boards/upload.html", context, status=status)
    return render(request, "boards/upload.html", context)


@login_required
def batch_detail(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    return _render_batch(request, batch)


def _render_batch(request: HttpRequest, batch: Batch, *, status: int = 200) -> HttpResponse:
    number = params.integer(request.GET, "page", label="The page", default=1, low=1)
    page = Paginator(selectors.batch_images(batch), IMAGES_PER_PAGE).get_page(number)
    user = request.user
    batch = selectors.decorate_cards(batch.project, [batch])[0]
    return render(
        request,
        "boards/batch.html",
        {
            "project": batch.project,
            "batch": batch,
            "page": page,
            "history": selectors.batch_history(batch)[:100],
            "moves": card_moves(user, batch),
            "submit_waits": submit_waits(user, batch),
            "can_review": batch.status == BatchStatus.REVIEW and user.has_perm("boards.review_batch", batch),
            "can_prioritize": user.has_perm("boards.change_batch_priority", batch),
            "can_annotate": batch.status == BatchStatus.ANNOTATING and can_annotate(batch, user),
            "job": batch.current_job,
            "stats": selectors.batch_stats(batch),
        },
        status=status,
    )


@login_required
@require_POST
def priority(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Change a batch's priority: from the batch page (a plain form) or the card menu (htmx, answered out of band)."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    started, before = timezone.now(), batch.priority
    try:
        value = params.integer(
            request.POST, "priority", label="Priority", low=PRIORITY_HIGHEST, high=PRIORITY_LOWEST, required=True
        )
        batch = services.set_priority(batch=batch, actor=request.user, priority=value)
    except ServiceError as exc:
        if request.htmx:
            return _refused(request, project_obj, exc)
        messages.error(request, exc.message)
        return _render_batch(request, batch, status=exc.status)
    message = f"“{batch.name}” now has priority {batch.priority}."
    if request.htmx and batch.priority == before:
        message = f"“{batch.name}” already has priority {batch.priority}."
        return trigger_client_event(HttpResponse(status=204), "toast", {"message": message, "level": "info"})
    if request.htmx:
        response = render(request, "boards/board.html#moved", _moved_context(request, project_obj, batch.pk, started))
        return trigger_client_event(response, "toast", {"message": message, "level": "success"})
    messages.success(request, message)
    return redirect(reverse("batch", args=[ws, project, batch.pk]))


def _member(batch: Batch, data, what: str) -> User | None:
    """The workspace member whose id was posted as ``what``; None when none was."""
    user_id = params.ident(data, what, label=f"The {what}")
    if user_id is None:
        return None
    try:
        return User.objects.get(pk=user_id, memberships__workspace_id=batch.project.workspace_id)
    except User.DoesNotExist:
        raise InvalidInput(f"Choose a {what} from this workspace.") from None


@login_required
def review(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Step through a batch in Review one image at a time."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    if not request.user.has_perm("boards.review_batch", batch):
        raise PermissionDenied("You do not have permission to review this batch.")
    if batch.status != BatchStatus.REVIEW:
        messages.info(request, f"“{batch.name}” is not waiting for review.")
        return redirect(reverse("batch", args=[ws, project, batch.pk]))
    return _render_review(request, batch, params.ident(request.GET, "image", label="The image"))


def _render_review(request: HttpRequest, batch: Batch, image_id, *, status: int = 200) -> HttpResponse:
    context = selectors.review_context(batch, image_id)
    context["project"] = batch.project
    template = "boards/review.html#stage" if request.htmx else "boards/review.html"
    return render(request, template, context, status=status)


@login_required
@require_POST
def review_decide(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    image = selectors.image_in(batch, params.ident(request.POST, "image", label="The image", required=True))
    try:
        services.record_decision(
            image=image,
            actor=request.user,
            decision=params.choice(request.POST, "decision", ("approve", "reject"), label="The decision"),
            comment=params.text(request.POST, "comment", label="The comment", limit=5000),
        )
    except ServiceError as exc:
        if request.htmx:
            return _refused(request, project_obj, exc)
        messages.error(request, exc.message)
        return _render_review(request, batch, image.pk, status=exc.status)
    next_id = selectors.next_to_review(batch, after=image.pk)
    if request.htmx:
        return _render_review(request, batch, next_id or image.pk)
    url = reverse("review", args=[ws, project, batch.pk])
    return redirect(f"{url}?image={next_id or image.pk}")


def _mark_done(request: HttpRequest, batch: Batch, image: Image, message: str) -> HttpResponse:
    if request.htmx:
        response = _render_review(request, batch, image.pk)
        return trigger_client_event(response, "toast", {"message": message, "level": "success"})
    messages.success(request, message)
    url = reverse("review", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    return redirect(f"{url}?image={image.pk}")


def _mark_refused(request: HttpRequest, batch: Batch, image: Image, exc: ServiceError) -> HttpResponse:
    """A refused mark: the reason as text to the review screen's script, or on the page."""
    if request.htmx:
        return _refused(request, batch.project, exc)
    if exc.status == 403:
        raise PermissionDenied(exc.message)
    messages.error(request, exc.message)
    if batch.status != BatchStatus.REVIEW:
        return redirect(reverse("batch", args=[batch.project.workspace.slug, batch.project.slug, batch.pk]))
    return _render_review(request, batch, image.pk, status=exc.status)


@login_required
@require_POST
def review_mark_add(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Pin a comment to a box (``annotation``) or a region (``x``, ``y``, ``width``, ``height``) of an image."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    image = selectors.image_in(batch, params.ident(request.POST, "image", label="The image", required=True))
    try:
        box = params.ident(request.POST, "annotation", label="The box")
        corners = [params.integer(request.POST, k, label=f"The region's {k}", low=0) for k in REGION]
        region = None if all(v is None for v in corners) else corners
        if region is not None and None in region:
            raise InvalidInput("A region needs x, y, width and height.")
        services.add_review_mark(
            image=image,
            actor=request.user,
            comment=params.text(request.POST, "comment", label="The comment", limit=services.MARK_COMMENT_LIMIT),
            annotation=box,
            region=region,
        )
    except ServiceError as exc:
        return _mark_refused(request, batch, image, exc)
    return _mark_done(request, batch, image, "Mark added.")


REGION = ("x", "y", "width", "height")


@login_required
@require_POST
def review_mark_delete(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    mark_id = params.ident(request.POST, "mark", label="The mark", required=True)
    mark = ReviewMark.objects.filter(pk=mark_id, image__batch=batch).select_related("image").first()
    if mark is None:
        raise Http404("There is no such mark in this batch.")
    try:
        services.delete_review_mark(mark=mark, actor=request.user)
    except ServiceError as exc:
        return _mark_refused(request, batch, mark.image, exc)
    return _mark_done(request, batch, mark.image, "Mark removed.")


@login_required
@require_POST
def review_finish(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    try:
        decide_all = params.choice(request.POST, "all", ("approve", "reject"), label="“all”", default=None)
        comment = params.text(request.POST, "comment", label="The comment", limit=5000)
        result = services.review(batch=batch, actor=request.user, all=decide_all, comment=comment)
    except ServiceError as exc:
        messages.error(request, exc.message)
        if batch.status != BatchStatus.REVIEW or exc.status == 403:
            return _refused(request, project_obj, exc)
        return _render_review(request, batch, None, status=exc.status)
    parts = []
    if result.approved:
        parts.append(f"{result.approved.images.count()} approved went to Dataset")
    if result.rejected:
        parts.append(f"{result.rejected.images.count()} rejected went back to Annotating")
    messages.success(request, f"Review of “{batch.name}” finished: {' and '.join(parts)}.")
    return redirect(reverse("board", args=[ws, project]))


@login_required
def my_work(request: HttpRequest) -> HttpResponse:
    return render(request, "boards/my_work.html", selectors.my_work(request.user))


@login_required
def image_file(request: HttpRequest, image_id: int, kind: str) -> HttpResponse:
    """An image's original or thumbnail, for members of its workspace only."""
    image = selectors.image_for(request.user, image_id)
    if kind not in ("original", "thumb"):
        raise Http404
    name = image.file.name if kind == "original" else (image.thumbnail.name or image.file.name)
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The image file is missing from storage.") from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Content-addressed paths never change, so the browser may keep them.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


def _refuse(request, message, status, wants_json, template=None, context=None) -> HttpResponse:
    if wants_json:
        return JsonResponse(
            {"error": {"message": message, "type": "forbidden" if status == 403 else "invalid"}}, status=status
        )
    if template is None:
        return error_response(request, message, status)
    messages.error(request, message)
    return render(request, template, context or {}, status=status)


# --- project settings: label classes and review mode -----------------------------


def _managed_project(request: HttpRequest, ws: str, project: str, *, doing: str = "change its settings") -> Project:
    """The project, for its managers and owners; 404 outside its workspace, 403 for other roles."""
    project_obj = selectors.project_for(request.user, ws, project)
    if not request.user.has_perm("boards.manage_project", project_obj):
        raise PermissionDenied(f"Only the project's managers and owners may {doing}.")
    return project_obj


PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#ca8a04", "#9333ea", "#0891b2", "#db2777", "#ea580c", "#4b5563"]


def _render_settings(request: HttpRequest, project: Project, *, failed: dict | None = None, status: int = 200):
    """The settings page; ``failed`` is the form that was refused: its id, message and posted values."""
    failed = failed or {}
    values = failed.get("values", {})
    labels = list(selectors.label_classes_with_counts(project))
    for label in labels:
        mine = failed.get("form") == label.pk
        label.error = failed["message"] if mine else ""
        label.form_name = values.get("name", label.name) if mine else label.name
        label.form_color = values.get("color", label.color) if mine else label.color
        label.form_hotkey = str(values.get("hotkey", "") if mine and values else label.hotkey or "")
    # A new class is offered the first colour and hotkey nobody uses yet.
    free_color = next((c for c in PALETTE if c not in {label.color for label in labels}), PALETTE[0])
    free_key = next((k for k in services.HOTKEYS if k not in {label.hotkey for label in labels}), "")
    adding = failed.get("form") == "add"
    new = {
        "error": failed["message"] if adding else "",
        "name": values.get("name", "") if adding else "",
        "color": values.get("color", free_color) if adding else free_color,
        "hotkey": values.get("hotkey", "") if adding else str(free_key),
    }
    return render(
        request,
        "boards/settings.html",
        {
            "project": project,
            "labels": labels,
            "new": new,
            "hotkeys": [str(k) for k in services.HOTKEYS],
            "waiting_in_review": Batch.objects.filter(project=project, status=BatchStatus.REVIEW).count(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """The project's settings page; a POST here sets the review mode."""
    project_obj = _managed_project(request, ws, project)
    if request.method == "POST":
        try:
            review_mode = params.boolean(request.POST, "review_mode", label="Review mode", default=False)
            project_obj = services.set_review_mode(project=project_obj, actor=request.user, review_mode=review_mode)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return _render_settings(request, project_obj, status=exc.status)
        if project_obj.review_mode:
            messages.success(request, "Review is on: submitted batches go to Review first.")
        else:
            messages.success(request, "Review is off: submitted batches go straight to Dataset.")
        return redirect(reverse("project-settings", args=[ws, project]))
    return _render_settings(request, project_obj)


def _label_in(project: Project, label_id: int) -> LabelClass:
    try:
        return LabelClass.objects.get(project=project, pk=label_id)
    except LabelClass.DoesNotExist:
        raise Http404("No such class in this project.") from None


@login_required
@require_POST
def label_add(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = _managed_project(request, ws, project)
    data = request.POST
    try:
        label = services.create_label_class(
            project=project_obj,
            actor=request.user,
            name=params.text(data, "name", label="The class name"),
            color=params.text(data, "color", label="The colour", limit=20, default="#3b82f6"),
            hotkey=params.integer(data, "hotkey", label="The hotkey", low=1, high=9),
        )
    except ServiceError as exc:
        failed = {"form": "add", "message": exc.message, "values": data}
        return _render_settings(request, project_obj, failed=failed, status=exc.status)
    messages.success(request, f"Added the class “{label.name}”.")
    return redirect(reverse("project-settings", args=[ws, project]))


@login_required
@require_POST
def label_update(request: HttpRequest, ws: str, project: str, label_id: int) -> HttpResponse:
    project_obj = _managed_project(request, ws, project)
    label = _label_in(project_obj, label_id)
    data = request.POST
    old_name = label.name
    try:
        label = services.update_label_class(
            label=label,
            actor=request.user,
            name=params.text(data, "name", label="The class name", default=label.name),
            color=params.text(data, "color", label="The colour", limit=20, default=label.color),
            hotkey=params.integer(data, "hotkey", label="The hotkey", low=1, high=9),
        )
    except ServiceError as exc:
        failed = {"form": label.pk, "message": exc.message, "values": data}
        return _render_settings(request, project_obj, failed=failed, status=exc.status)
    if label.name != old_name:
        messages.success(request, f"Renamed “{old_name}” to “{label.name}”; its boxes kept their class.")
    else:
        messages.success(request, f"Saved the class “{label.name}”.")
    return redirect(reverse("project-settings", args=[ws, project]))


@login_required
@require_POST
def label_delete(request: HttpRequest, ws: str, project: str, label_id: int) -> HttpResponse:
    project_obj = _managed_project(request, ws, project)
    label = _label_in(project_obj, label_id)
    if request.POST.get("confirm") != "yes":
        failed = {"form": label.pk, "message": "Deleting a class is permanent: confirm first."}
        return _render_settings(request, project_obj, failed=failed, status=400)
    try:
        result = services.delete_label_class(label=label, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _render_settings(request, project_obj, status=exc.status)
    message = f"Deleted the class “{result.name}” and its {result.boxes} box{pluralize(result.boxes, 'es')}"
    if result.boxes:
        message += f" on {result.images} image{pluralize(result.images)}"
    message += "."
    if result.reopened:
        message += f" {result.reopened} image{pluralize(result.reopened)} left with no box went back to unannotated."
    messages.success(request, message)
    return redirect(reverse("project-settings", args=[ws, project]))


# --- the annotation editor ----------------------------------------------------------

MAX_BOXES_PER_SAVE = 5_000


def _annotatable(request: HttpRequest, ws: str, project: str, batch_id: int) -> Batch:
    """The batch, if the user may edit its boxes; 404 outside the workspace, 403 for others."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    if not can_annotate(batch, request.user):
        if not request.user.has_perm("boards.annotate_batch", batch):
            raise PermissionDenied("Your role in this workspace may look at batches but not edit their boxes.")
        raise PermissionDenied("This batch is assigned to someone else.")
    return batch


def _not_annotating(request: HttpRequest, batch: Batch) -> HttpResponse:
    messages.info(
        request,
        f"“{batch.name}” is in {batch.get_status_display()}; its boxes can be edited only while it is in Annotating.",
    )
    return redirect(reverse("batch", args=[batch.project.workspace.slug, batch.project.slug, batch.pk]))


@login_required
def annotate_batch(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Open the editor on the batch's first image still to label."""
    batch = _annotatable(request, ws, project, batch_id)
    if batch.status != BatchStatus.ANNOTATING:
        return _not_annotating(request, batch)
    image = selectors.first_to_label(batch)
    if image is None:
        messages.info(request, f"“{batch.name}” has no images.")
        return redirect(reverse("batch", args=[ws, project, batch.pk]))
    return redirect(reverse("annotate", args=[ws, project, batch.pk, image.pk]))


@login_required
def annotate(request: HttpRequest, ws: str, project: str, batch_id: int, image_id: int) -> HttpResponse:
    """The annotation editor for one image of a batch in Annotating."""
    batch = _annotatable(request, ws, project, batch_id)
    if batch.status != BatchStatus.ANNOTATING:
        return _not_annotating(request, batch)
    image = selectors.image_in(batch, image_id)
    project_obj = batch.project
    context = selectors.editor_context(batch, image)
    progress = context["progress"]
    context |= {
        "project": project_obj,
        "may_submit": can_submit(batch, request.user),
        "submit_to": BatchStatus.REVIEW if project_obj.review_mode else BatchStatus.DATASET,
        "can_manage": request.user.has_perm("boards.manage_project", project_obj),
        "all_done": _ready(progress),
        "submit_waits": _waits(progress["total"] - progress["done"], progress["rework"]),
        "sent_back": image.review_state == ReviewState.REJECTED or bool(image.review_comment),
    }
    context["review"] = selectors.review_marks(image, batch)  # the reviewers' marks on this image
    return render(request, "boards/editor.html", context)


def _ready(progress: dict) -> bool:
    """Every image is done and none awaits rework: the batch may be submitted."""
    return bool(progress["total"]) and progress["done"] == progress["total"] and not progress["rework"]


@login_required
@require_POST
def confirm_rework(request: HttpRequest, ws: str, project: str, batch_id: int, image_id: int) -> HttpResponse:
    """"Checked, no change needed" on an image sent back by a review; then the next one awaiting rework."""
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    image = selectors.image_in(batch, image_id)
    here = reverse("annotate", args=[ws, project, batch.pk, image.pk])
    try:
        services.confirm_rework(image=image, actor=request.user)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        messages.error(request, exc.message)
        return redirect(here)
    messages.success(request, f"“{image.original_filename}” is checked: no change needed.")
    following = selectors.rework_images(batch)
    if following:
        return redirect(reverse("annotate", args=[ws, project, batch.pk, following[0].pk]))
    return redirect(here)


def _json_error(message: str, status: int, kind: str = "invalid") -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind}}, status=status)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_save(body: bytes) -> tuple[list[services.Box], int, bool]:
    """Read the editor's JSON.

    ``{"version": 3, "empty": false, "boxes": [{"label": 7, "x": 10, "y": 20, "width": 30, "height": 40}]}``
    where ``label`` is a class id (or name) and the box is in pixels of the original image.
    """
    payload = params.parse_json(body or b"null")
    if not isinstance(payload, dict):
        raise InvalidInput("Send a JSON object with version, boxes and empty.")
    if not isinstance(payload.get("version"), int) or isinstance(payload["version"], bool):
        raise InvalidInput("version is required: the whole-number edit version these boxes are based on.")
    version = params.integer(payload, "version", label="version", low=0, required=True)
    empty = payload.get("empty", False)
    if not isinstance(empty, bool):
        raise InvalidInput("empty is true or false.")
    raw = payload.get("boxes", [])
    if not isinstance(raw, list):
        raise InvalidInput("boxes must be a list.")
    if len(raw) > MAX_BOXES_PER_SAVE:
        raise InvalidInput(f"An image holds at most {MAX_BOXES_PER_SAVE:,} boxes.")
    boxes = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not {"label", "x", "y", "width", "height"} <= item.keys():
            raise InvalidInput(f"Box {n}: needs label, x, y, width and height.")
        label = item["label"]
        if isinstance(label, bool) or not isinstance(label, int | str):
            raise InvalidInput(f"Box {n}: label is a class id or name.")
        coords = [item[k] for k in ("x", "y", "width", "height")]
        if not all(_is_number(v) for v in coords):
            raise InvalidInput(f"Box {n}: x, y, width and height must be numbers.")
        boxes.append(services.Box(label, *coords))
    return boxes, version, empty


@login_required
@require_POST
def save_image_annotations(request: HttpRequest, ws: str, project: str, batch_id: int, image_id: int) -> JsonResponse:
    """The editor's autosave: replace one image's boxes, guarded by its edit version (409 when stale)."""
    try:
        project_obj = selectors.project_for(request.user, ws, project)
        batch = selectors.batch_in(project_obj, batch_id)
        image = selectors.image_in(batch, image_id)
    except Http404:
        return _json_error("There is no such image in this project.", 404, "not_found")
    try:
        boxes, version, empty = _parse_save(request.body)
        saved = services.save_annotations(
            image=image, actor=request.user, boxes=boxes, expected_version=version, empty=empty
        )
    except ConcurrentChange as exc:
        return _json_error(exc.message, exc.status, "stale")
    except ServiceError as exc:
        return _json_error(exc.message, exc.status, exc.code)
    progress = selectors.batch_progress(batch)
    return JsonResponse(
        {
            "version": saved.annotation_version,
            "state": saved.annotation_state,
            "review_state": saved.review_state,
            "boxes": selectors.box_dicts(saved),
            "progress": progress,
            "all_done": _ready(progress),
            "submit_waits": _waits(progress["total"] - progress["done"], progress["rework"]),
        }
    )


@login_required
def start_labeling(request: HttpRequest, ws: str | None = None, project: str | None = None) -> HttpResponse:
    """Go to the next image to label across the user's batches (or one project's)."""
    project_obj = selectors.project_for(request.user, ws, project) if ws and project else None
    image = selectors.next_to_label(request.user, project=project_obj)
    if image is None:
        where = f" in {project_obj.name}" if project_obj else ""
        messages.info(request, f"Nothing to label{where}: every image of the batches assigned to you is done.")
        if project_obj is not None:
            return redirect(reverse("board", args=[ws, project]))
        return redirect(reverse("my-work"))
    batch = image.batch
    return redirect(reverse("annotate", args=[batch.project.workspace.slug, batch.project.slug, batch.pk, image.pk]))


# --- dataset export and annotation import -----------------------------------------


@login_required
def export_dataset(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """The export page; with ``?format=`` the download, streamed while it is written.

    ``?batch=<id>`` exports one Dataset batch, else the project's dataset;
    ``?split=70,20,10&seed=42`` cuts it into train/valid/test the same way every time.
    """
    project_obj = selectors.project_for(request.user, ws, project)
    if not request.user.has_perm("boards.view_project", project_obj):
        raise Http404("No such project.")
    batch = None
    batch_id = params.ident(request.GET, "batch", label="The batch to export")
    if batch_id is not None:
        batch = selectors.batch_in(project_obj, batch_id)
    fmt = params.text(request.GET, "format", label="The format", limit=20)
    context = {"project": project_obj, "batch": batch, "formats": export.FORMATS, "params": request.GET}
    if batch is not None and batch.status != BatchStatus.DATASET:
        messages.error(request, "Only a batch in the Dataset column can be exported.")
        return render(request, "boards/export.html", context, status=409)
    if not fmt:
        context["count"] = export.dataset_images(project_obj, batch).count()
        return render(request, "boards/export.html", context)
    try:
        if fmt not in export.FORMATS:
            raise AnnotationFormatError(f"“{fmt}” is not an export format: choose coco, yolo or voc.")
        ratio = export.parse_split(params.text(request.GET, "split", label="The split", limit=100))
        seed = params.integer(request.GET, "seed", label="The seed", default=0, low=0)
    except (AnnotationFormatError, InvalidInput) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return render(request, "boards/export.html", context, status=400)
    job = export.Export.of(project_obj, batch=batch, ratio=ratio, seed=seed)
    try:
        export.check_files(job, fmt)  # a missing file is refused here, not found half-way through the zip
    except ServiceError as exc:
        messages.error(request, exc.message)
        context["count"] = job.images.count()
        return render(request, "boards/export.html", context, status=exc.status)
    content_type, ext = export.content_type(job, fmt)
    name = f"{project_obj.slug}-{batch.pk if batch else 'dataset'}-{fmt}"
    response = StreamingHttpResponse(export.stream(job, fmt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{ext}"'
    response["Cache-Control"] = "no-store"
    return response


MAX_IMPORT_FILES = 50_000


@login_required
@require_http_methods(["GET", "POST"])
def import_annotations(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """Upload annotation files for the project's images; the answer is the import's report."""
    project_obj = _managed_project(request, ws, project, doing="import annotations")
    context: dict = {"project": project_obj}
    if request.method == "POST":
        uploads = request.FILES.getlist("files")
        if not uploads:
            messages.error(request, "Choose the annotation files to import.")
            return render(request, "boards/import.html", context, status=400)
        files = [(upload.name, upload.read()) for upload in uploads[:MAX_IMPORT_FILES]]
        try:
            report = services.import_annotation_files(
                project=project_obj,
                actor=request.user,
                files=files,
                create_classes=params.boolean(request.POST, "create_classes", label="Create classes"),
                clip=params.choice(request.POST, "outside", ("clip", "refuse"), default="clip") == "clip",
                overwrite=params.boolean(request.POST, "overwrite", label="Overwrite"),
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return render(request, "boards/import.html", context, status=exc.status)
        context["report"] = report
        return render(request, "boards/import.html", context, status=200 if report.ok else 422)
    return render(request, "boards/import.html", context)
