"""The batch page and the upload page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from boards import selectors, services, upload_requests
from boards.models import (
    Batch,
    BatchStatus,
    can_annotate,
)
from boards.views.common import _refuse, submit_waits
from core import params
from core.errors import ServiceError

IMAGES_PER_PAGE = 120


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
    card = selectors.card_of(batch)
    rules = services.MoveRules(user, batch.project)
    return render(
        request,
        "boards/batch.html",
        {
            "project": batch.project,
            "batch": batch,
            "card": card,
            "page": page,
            "history": selectors.batch_history(batch)[:100],
            "moves": rules.moves(card),
            "submit_waits": submit_waits(rules, card),
            "can_review": batch.status == BatchStatus.REVIEW and user.has_perm("boards.review_batch", batch),
            "can_prioritize": user.has_perm("boards.change_batch_priority", batch),
            "can_annotate": batch.status == BatchStatus.ANNOTATING and can_annotate(batch, user),
            "job": batch.current_job,
            "stats": selectors.batch_stats(batch),
        },
        status=status,
    )
