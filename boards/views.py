"""HTML views: translate HTTP into a service call and back. No logic lives here."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from boards import selectors, services
from boards.errors import InvalidInput, ServiceError
from boards.models import Batch, BatchStatus

IMAGES_PER_PAGE = 120


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.member_projects(request.user)
    workspaces: dict = {}
    for project in projects:
        workspaces.setdefault(project.workspace, []).append(project)
    return render(request, "boards/home.html", {"workspaces": workspaces})


@login_required
def board(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    columns = selectors.board_columns(request.user, project_obj)
    return render(
        request,
        "boards/board.html",
        {
            "project": project_obj,
            "columns": columns,
            "can_upload": request.user.has_perm("boards.upload_images", project_obj),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not request.user.has_perm("boards.upload_images", project_obj):
        return _refuse(request, "You do not have permission to upload images to this project.", 403, wants_json)
    context = {"project": project_obj}
    if request.method == "POST":
        try:
            result = services.upload_images(
                project=project_obj,
                actor=request.user,
                files=request.FILES.getlist("files"),
                batch_name=request.POST.get("name", "").strip() or None,
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
    page = Paginator(selectors.batch_images(batch), IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    user = request.user
    return render(
        request,
        "boards/batch.html",
        {
            "project": batch.project,
            "batch": batch,
            "page": page,
            "history": selectors.batch_history(batch)[:100],
            "actions": _actions_for(user, batch),
            "labelers": selectors.assignable_labelers(batch.project),
            "reviewers": selectors.assignable_reviewers(batch.project),
            "job": batch.current_job,
        },
        status=status,
    )


def _actions_for(user: User, batch: Batch) -> set[str]:
    """The actions this user may take on this batch now (the same rules the services apply)."""
    names = {t.name for t in batch.get_available_user_status_transitions(user)}
    actions = {n for n in names if n in ("assign", "submit", "move_to_unassigned", "archive", "restore")}
    if batch.status == BatchStatus.REVIEW and user.has_perm("boards.review_batch", batch):
        actions.add("review")
    if batch.status == BatchStatus.UNASSIGNED and user.has_perm("boards.delete_batch", batch):
        actions.add("delete")
    return actions


@login_required
@require_POST
def batch_action(request: HttpRequest, ws: str, project: str, batch_id: int, action: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    board_url = reverse("board", args=[ws, project])
    try:
        message, target = _run_action(request, batch, action)
    except ServiceError as exc:
        if request.htmx:
            response = HttpResponse(exc.message, status=exc.status)
            response["HX-Reswap"] = "none"
            return response
        messages.error(request, exc.message)
        batch = selectors.batch_in(project_obj, batch_id)
        return _render_batch(request, batch, status=exc.status)
    messages.success(request, message)
    return redirect(target or board_url)


def _run_action(request: HttpRequest, batch: Batch, action: str) -> tuple[str, str | None]:
    user, data = request.user, request.POST
    batch_url = reverse("batch", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    if action == "assign":
        labeler = _member(batch, data.get("labeler"), "labeler")
        reviewer = _member(batch, data.get("reviewer"), "reviewer") if data.get("reviewer") else None
        ids = data.getlist("images") or None
        result = services.assign(batch=batch, actor=user, labeler=labeler, reviewer=reviewer, image_ids=ids)
        note = (
            f" {result.remainder.images.count()} images stay in Unassigned as “{result.remainder.name}”."
            if result.remainder
            else ""
        )
        return f"Assigned “{batch.name}” to {labeler}.{note}", batch_url
    if action == "submit":
        batch = services.submit(batch=batch, actor=user)
        return f"Submitted “{batch.name}”; it is now in {batch.get_status_display()}.", batch_url
    if action == "approve":
        services.approve(batch=batch, actor=user)
        return f"Approved “{batch.name}”: its images are in the Dataset.", batch_url
    if action == "reject":
        services.reject(batch=batch, actor=user, comment=data.get("comment", ""))
        return f"Rejected “{batch.name}”: it went back to its labeler.", batch_url
    if action == "unassign":
        keep = data.get("keep_annotations") in ("1", "on", "true")
        services.move_to_unassigned(batch=batch, actor=user, keep_annotations=keep)
        kept = "kept as pre-labels" if keep else "removed"
        return f"Moved “{batch.name}” to Unassigned; its annotations were {kept}.", batch_url
    if action == "archive":
        services.archive(batch=batch, actor=user)
        return f"Archived “{batch.name}”; its images are free to join another batch.", None
    if action == "delete":
        name = batch.name
        count = services.delete_batch(batch=batch, actor=user)
        return f"Deleted “{name}” and its {count} images for good.", None
    if action == "priority":
        try:
            priority = int(data.get("priority", ""))
        except ValueError:
            raise InvalidInput("Priority is a whole number from 1 (highest) to 5 (lowest).") from None
        services.set_priority(batch=batch, actor=user, priority=priority)
        return f"“{batch.name}” now has priority {priority}.", batch_url
    raise Http404("No such action.")


def _member(batch: Batch, user_id: str | None, what: str) -> User:
    try:
        return User.objects.get(pk=int(user_id or ""), memberships__workspace_id=batch.project.workspace_id)
    except (ValueError, User.DoesNotExist):
        raise InvalidInput(f"Choose a {what} from this workspace.") from None


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
        return HttpResponse(message, status=status)
    messages.error(request, message)
    return render(request, template, context or {}, status=status)
