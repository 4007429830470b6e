"""The review screen: step through a batch, decide per image, pin marks, finish the review."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from boards import selectors, services
from boards.models import (
    Batch,
    BatchStatus,
    Image,
    ReviewMark,
)
from boards.views.board import _refused
from core import params
from core.errors import InvalidInput, ServiceError


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
    mark = (
        ReviewMark.objects.filter(pk=mark_id, image__placement__batch=batch).select_related("image__placement").first()
    )
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
