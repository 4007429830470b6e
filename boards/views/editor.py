"""The annotation editor: open it, autosave an image's boxes, confirm rework, start labelling."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from boards import selectors, services
from boards.models import (
    Batch,
    BatchStatus,
    ReviewState,
    can_annotate,
    can_submit,
)
from boards.views.common import _waits
from core import params
from core.errors import ConcurrentChange, InvalidInput, ServiceError
from core.http import json_error

# --- the annotation editor ----------------------------------------------------------

MAX_BOXES_PER_SAVE = 5_000


def _annotatable(request: HttpRequest, ws: str, project: str, batch_id: int) -> tuple[Batch, bool]:
    """The batch, if the user may edit its boxes, and whether they label it from the queue.

    404 outside the workspace, 403 for others. A labeler edits a queue batch
    image by image, as the queue reserves them (checked with the image).
    """
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    return batch, _from_queue(batch, request.user)


def _from_queue(batch: Batch, user) -> bool:
    """Whether the user edits this batch's boxes image by image as the queue reserves them (True) or
    any of them (False); 403 when they may not edit them at all."""
    if not can_annotate(batch, user):
        if not user.has_perm("boards.annotate_batch", batch):
            raise PermissionDenied("Your role in this workspace may look at batches but not edit their boxes.")
        if batch.in_queue:
            return True
        raise PermissionDenied("This batch is assigned to someone else.")
    return False


def _not_annotating(request: HttpRequest, batch: Batch) -> HttpResponse:
    messages.info(
        request,
        f"“{batch.name}” is in {batch.get_status_display()}; its boxes can be edited only while it is in Annotating.",
    )
    return redirect(reverse("batch", args=[batch.project.workspace.slug, batch.project.slug, batch.pk]))


HOLD_BEAT_SECONDS = (20, 300)  # how often, at least and at most, the editor renews a queue image's hold


@login_required
def annotate_batch(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    """Open the editor on the batch's first image still to label."""
    batch, from_queue = _annotatable(request, ws, project, batch_id)
    if batch.status != BatchStatus.ANNOTATING:
        return _not_annotating(request, batch)
    if from_queue:
        messages.info(request, f"“{batch.name}” is in the label queue: press “Start labeling” to be given an image.")
        return redirect(reverse("board", args=[ws, project]))
    image = selectors.first_to_label(batch)
    if image is None:
        messages.info(request, f"“{batch.name}” has no images.")
        return redirect(reverse("batch", args=[ws, project, batch.pk]))
    return redirect(reverse("annotate", args=[ws, project, batch.pk, image.pk]))


@login_required
def annotate(request: HttpRequest, ws: str, project: str, batch_id: int, image_id: int) -> HttpResponse:
    """The annotation editor for one image of a batch in Annotating.

    A labeler working from the label queue sees only the image the queue gave
    them (opening it renews their reservation), with "Next image" instead of
    the batch's other images.
    """
    batch, from_queue = _annotatable(request, ws, project, batch_id)
    if batch.status != BatchStatus.ANNOTATING:
        return _not_annotating(request, batch)
    image = selectors.image_in(batch, image_id)
    if from_queue:
        refusal = selectors.queue_refusal(image, request.user)
        if refusal:
            raise PermissionDenied(refusal)
        services.hold(image, request.user)
        holding = True
    else:  # a reviewer or manager may have taken it from the queue too ("Start labeling")
        holding = batch.in_queue and services.hold(image, request.user)
    project_obj = batch.project
    context = selectors.editor_context(batch, image)
    progress = context["progress"]
    if from_queue:
        context |= {"previous_id": None, "next_id": None, "strip": []}
    if holding:
        # Worked on, the image stays theirs: the editor renews the hold a few times per idle time.
        beat = max(HOLD_BEAT_SECONDS[0], min(HOLD_BEAT_SECONDS[1], project_obj.reservation_minutes * 20))
        context["hold_seconds"] = beat
    context |= {
        "project": project_obj,
        "from_queue": from_queue,
        "may_submit": can_submit(batch, request.user) and not from_queue,
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
    """ "Checked, no change needed" on an image sent back by a review; then the next one awaiting rework."""
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
        image = selectors.batch_image(selectors.project_for(request.user, ws, project), batch_id, image_id)
    except Http404:
        return json_error("There is no such image in this project.", 404, "not_found")
    try:
        boxes, version, empty = _parse_save(request.body)
        saved = services.save_annotations(
            image=image, actor=request.user, boxes=boxes, expected_version=version, empty=empty
        )
    except ConcurrentChange as exc:
        return json_error(exc.message, exc.status, "stale")
    except ServiceError as exc:
        return json_error(exc.message, exc.status, exc.code)
    # The save locked its batch's row (the image is still in it) and stored its counts there: not read again.
    progress = selectors.batch_progress(saved.batch, stored=True)
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
@require_POST
def hold_image(request: HttpRequest, ws: str, project: str, batch_id: int, image_id: int) -> JsonResponse:
    """The editor's sign of life on an image of the label queue: while the person works on it (not
    merely leaves the tab open), their reservation is renewed, its idle time starting again.

    409, with the reason, when the image is no longer theirs to edit (it expired and someone else
    took it, or the batch left the queue): the editor says so before the next save is refused.
    """
    try:
        batch = selectors.batch_in(selectors.project_for(request.user, ws, project), batch_id)
        if not batch.in_queue:
            return json_error("This batch is no longer in the label queue: nothing is reserved in it.", 409, "not_held")
        from_queue = _from_queue(batch, request.user)
        image = selectors.image_in(batch, image_id)
    except Http404:
        return json_error("There is no such image in this project.", 404, "not_found")
    except PermissionDenied as exc:
        return json_error(str(exc), 403, "forbidden")
    if services.hold(image, request.user):
        return JsonResponse({"held": True})
    refusal = selectors.queue_refusal(image, request.user) if from_queue else None
    if refusal:
        return json_error(refusal, 409, "not_held")
    return JsonResponse({"held": False})  # finished, or theirs to edit anyway: nothing to renew


@login_required
@require_http_methods(["GET", "POST"])
def start_labeling(request: HttpRequest, ws: str | None = None, project: str | None = None) -> HttpResponse:
    """Go to the next image to label across the user's batches (or one project's).

    The batches assigned to the user come first; a POST (the "Start labeling"
    button, or "Next image" in the editor with the ``current`` image) first
    lets go of the queue images they finished, then reserves an image of a
    label queue when its priority is higher, or when nothing assigned is left
    (a GET never reserves).
    """
    project_obj = selectors.project_for(request.user, ws, project) if ws and project else None
    image = selectors.next_to_label(request.user, project=project_obj)
    if request.method == "POST":
        current = params.ident(request.POST, "current", label="The current image")
        # What they hold and finished leaves the queue (a last image sends its batch on).
        services.finish_queued(actor=request.user)
        queued = services.next_queued_image(
            user=request.user,
            project=project_obj,
            current=current,
            below=image.batch.priority if image is not None else None,
        )
        image = queued or image
    if image is None:
        where = f" in {project_obj.name}" if project_obj else ""
        waiting = sum(row["waiting"] for row in selectors.queue_waiting(request.user, project=project_obj))
        if request.method == "GET" and waiting:
            messages.info(
                request,
                f"{waiting} image{pluralize(waiting)} wait in the label queue{where}: "
                "press “Start labeling” to be given one.",
            )
        else:
            messages.info(request, f"Nothing to label{where}: every image of the batches assigned to you is done.")
        if project_obj is not None:
            return redirect(reverse("board", args=[ws, project]))
        return redirect(reverse("my-work"))
    batch = image.batch
    return redirect(reverse("annotate", args=[batch.project.workspace.slug, batch.project.slug, batch.pk, image.pk]))


# --- dataset export and annotation import -----------------------------------------
