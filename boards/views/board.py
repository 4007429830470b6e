"""The board: the page, its columns and cards, card menus, moves, dialogs and priority."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_text_list
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from accounts.models import User
from accounts.roles import DIALOG_PERMISSIONS
from boards import selectors, services
from boards.models import (
    MAX_BATCH_IMAGES,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Project,
)
from boards.views.batch import _render_batch
from boards.views.board_render import CardRenderer, board_context, join_cards, render_cards
from boards.views.common import submit_waits
from core import params
from core.errors import ConcurrentChange, InvalidInput, ServiceError


def _board_page(request: HttpRequest, project: Project, *, status: int = 200) -> HttpResponse:
    context = board_context(request, project)
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
    batch = selectors.batch_in(project_obj, batch_id)
    if not request.htmx:
        return redirect("batch", ws, project, batch_id)
    seen = params.text(request.GET, "from", limit=20)
    if seen and seen != batch.status:
        moved = f"Someone else moved this batch to {batch.get_status_display()} meanwhile."
        return _refused(request, project_obj, ConcurrentChange(moved))
    card = selectors.card_of(batch)
    renderer = CardRenderer(request.user, project_obj)
    context = {
        "batch": card,
        "url": renderer.url(card),
        "moves": renderer.rules.moves(card),
        "submit_waits": submit_waits(renderer.rules, card),
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
QUEUE = "queue"  # the assign dialog's "labeler" for the project's label queue


@login_required
def column_more(request: HttpRequest, ws: str, project: str, status: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    offset = params.integer(request.GET, "offset", default=0, low=0, high=MAX_COLUMN_OFFSET)
    column = selectors.column_page(
        request.user, project_obj, status, offset=offset, board_filter=selectors.BoardFilter.from_query(request.GET)
    )
    column.batches = render_cards(request.user, project_obj, column.batches)
    column.html = join_cards(column.batches)
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
        confirm = data.get("confirm") == "yes"
        if to == services.DELETE:  # reads nothing but its confirmation
            name = batch.name
            kept = selectors.kept_on_delete(batch) if confirm else 0
            gone = services.move_batch(batch=batch, actor=request.user, to=to, confirm=confirm, seen_in=seen_in)
            n = gone.n_images
            message = f"Deleted “{name}” and its {n} image{pluralize(n)}"
            if kept:
                message += (
                    f": {n - kept} went for good, {kept} stay in the workspace catalog because other projects use them."
                )
            else:
                message += " for good."
        else:
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
            elif selection == "chosen" and ids is None:
                raise InvalidInput("Pick at least one image below, or move all of them.")
            moved = services.move_batch(
                batch=batch,
                actor=request.user,
                to=to,
                labeler=None if data.get("labeler") == QUEUE else _member(batch, data, "labeler"),
                queue=data.get("labeler") == QUEUE,
                reviewer=_member(batch, data, "reviewer"),
                image_ids=ids,
                first=first,
                keep_annotations=params.boolean(data, "keep_annotations", label="Keep annotations", default=None),
                comment=params.text(data, "comment", label="The comment", limit=5000),
                confirm=confirm,
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


def _moved_context(request: HttpRequest, project: Project, batch_id: int, since) -> dict:
    """What a successful move changes on the board: out-of-band swaps, not a redraw.

    The moved card leaves its old place and enters its new column where the
    sort order puts it (with any batch split off it), and every count updates.
    """
    user = request.user
    statuses = selectors.visible_statuses(user, project)
    changed = selectors.build_cards(Batch.objects.filter(project=project, updated_at__gte=since, status__in=statuses))
    in_order = sorted(changed.values(), key=lambda c: (c.status, c.priority, c.uploaded_at, c.pk))
    rendered = render_cards(user, project, in_order)
    placed = [(card, selectors.card_after(project, changed[card.pk])) for card in rendered]
    # A batch split off by this move has no card on the page yet: deleting its
    # card out of band would name a missing element (htmx:oobErrorNoTarget).
    created = set(
        BatchEvent.objects.filter(batch__in=list(changed), kind=EventKind.CREATED, at__gte=since).values_list(
            "batch_id", flat=True
        )
    )
    return {
        "project": project,
        "removed": [batch_id, *(pk for pk in changed if pk != batch_id and pk not in created)],
        "placed": placed,
        "columns": selectors.column_counts(user, project),
    }


def _moved_message(batch: Batch, moved: Batch | None, to: str, *, split: bool = False) -> str:
    labels = dict(BatchStatus.choices)
    if to == BatchStatus.ANNOTATING and batch.status == BatchStatus.UNASSIGNED and moved is not None:
        rest = (
            Batch.objects.filter(split_from=batch, status=BatchStatus.UNASSIGNED).order_by("-pk").first()
            if split
            else None
        )
        others = f" The other {rest.images.count()} wait in Unassigned as “{rest.name}”." if rest else ""
        if moved.status != to:
            # Assigned to the label queue with nothing left to label (``services.assign``).
            which = f"The {moved.images.count()} images assigned were" if rest else f"Every image of “{batch.name}” was"
            return f"{which} labeled already: it went on to {labels[moved.status]}.{others}"
        job = moved.current_job
        labeler = job.labeler.get_full_name() if job.labeler else "the label queue"
        if rest is None:
            return f"Assigned “{batch.name}” to {labeler}."
        return f"Assigned {moved.images.count()} images of “{batch.name}” to {labeler}.{others}"
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
    from_page = from_page or params.text(request.POST, "from_page", limit=20)
    context = {
        "project": project,
        "batch": batch,
        "card": selectors.card_of(batch),
        "message": message,
        "from_page": from_page,
    }
    if name == "assign":
        context |= {
            "labelers": selectors.assignable_labelers(project),
            "reviewers": selectors.assignable_reviewers(project),
            "images": selectors.batch_images(batch).only("pk", "original_filename")[: selectors.ASSIGN_GRID_LIMIT],
            "grid_limit": selectors.ASSIGN_GRID_LIMIT,
        }
    if name == "delete":
        context |= _deleted_and_kept(batch, context["card"].image_count)
    template = f"boards/dialogs.html#{name}"
    if request.htmx:
        response = render(request, template, context)
        response["HX-Retarget"] = "#dialog-slot"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "boards/dialog_page.html", context | {"dialog": name, "standalone": True})


NAMED_PROJECTS = 4  # the delete dialog names this many projects; of more, the first three and how many others


def _deleted_and_kept(batch: Batch, images: int) -> dict:
    """What the delete dialog says goes and stays: the images other projects use stay in the workspace."""
    shared = selectors.shared_elsewhere(batch)
    if not shared:
        return {"kept": 0, "gone": images}
    # One project: its count is the batch's; several may share a picture, so they are counted once.
    kept = min(next(iter(shared.values())) if len(shared) == 1 else selectors.kept_on_delete(batch), images)
    names = list(shared)
    if len(names) > NAMED_PROJECTS:
        names = [*names[: NAMED_PROJECTS - 1], f"{len(names) - NAMED_PROJECTS + 1} other projects"]
    return {"kept": kept, "gone": images - kept, "kept_by": get_text_list(names, "and"), "kept_projects": len(shared)}


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
