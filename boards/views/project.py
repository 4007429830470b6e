"""Project screens for managers and members: settings, label classes, annotation import, dataset export."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from boards import selectors, services
from boards.formats import AnnotationFormatError, export, registry
from boards.models import (
    Batch,
    BatchStatus,
    LabelClass,
    Project,
)
from boards.services import background
from core import params
from core.errors import InvalidInput, ServiceError

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
    """The project's settings page; a POST here sets the review mode, or (``form=queue``) the label queue's settings."""
    project_obj = _managed_project(request, ws, project)
    if request.method == "POST" and request.POST.get("form") == "queue":
        try:
            project_obj = services.set_queue_settings(
                project=project_obj,
                actor=request.user,
                reservation_minutes=params.integer(
                    request.POST, "reservation_minutes", label="The reservation time", low=1, required=True
                ),
                reservation_cap=params.integer(
                    request.POST, "reservation_cap", label="The images one labeler may hold", low=1, required=True
                ),
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return _render_settings(request, project_obj, status=exc.status)
        messages.success(
            request,
            f"The label queue keeps an idle image reserved for {project_obj.reservation_minutes} minutes; "
            f"a labeler holds at most {project_obj.reservation_cap} at once.",
        )
        return redirect(reverse("project-settings", args=[ws, project]))
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


@login_required
def export_dataset(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """The export page; with ``?format=`` the download, streamed while it is written.

    ``?batch=<id>`` exports one Dataset batch, else the project's dataset;
    ``?split=70,20,10&seed=42`` cuts it into train/valid/test the same way every time.
    """
    project_obj = selectors.project_for(request.user, ws, project)
    if not request.user.has_perm("boards.view_project", project_obj):
        raise Http404("No such project.")
    batch = export_batch(project_obj, request.GET)
    fmt = params.text(request.GET, "format", label="The format", limit=20)
    context = {
        "project": project_obj,
        "batch": batch,
        "formats": export.FORMATS,
        "params": request.GET,
        "stream_limit": settings.EXPORT_STREAM_LIMIT,
        "retention_days": settings.EXPORT_RETENTION_DAYS,
    }
    if batch is not None and batch.status != BatchStatus.DATASET:
        messages.error(request, "Only a batch in the Dataset column can be exported.")
        return render(request, "boards/export.html", context, status=409)
    if not fmt:
        context["count"] = export.dataset_images(project_obj, batch).count()
        return render(request, "boards/export.html", context)
    try:
        _split, ratio, seed = export_options(request.GET, fmt)
    except (AnnotationFormatError, InvalidInput) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return render(request, "boards/export.html", context, status=400)
    job = export.Export.of(project_obj, batch=batch, ratio=ratio, seed=seed)
    count = job.images.count()
    if count > settings.EXPORT_STREAM_LIMIT:
        messages.error(
            request,
            f"{count} images are more than a download streams at once ({settings.EXPORT_STREAM_LIMIT}): "
            "prepare this export in the background instead.",
        )
        context["count"] = count
        return render(request, "boards/export.html", context, status=409)
    try:
        export.check_files(job, fmt)  # a missing file is refused here, not found half-way through the zip
    except ServiceError as exc:
        messages.error(request, exc.message)
        context["count"] = count
        return render(request, "boards/export.html", context, status=exc.status)
    content_type, ext = export.content_type(job, fmt)
    name = export.download_name(project_obj.slug, batch.pk if batch else None, fmt, ext)
    response = StreamingHttpResponse(export.stream(job, fmt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def export_batch(project: Project, data) -> Batch | None:
    """The batch an export names (``batch``), or None for the project's dataset; 404 outside the project."""
    batch_id = params.ident(data, "batch", label="The batch to export")
    return selectors.batch_in(project, batch_id) if batch_id is not None else None


def export_options(data, fmt: str) -> tuple[str, tuple[int, int, int] | None, int]:
    """An export's format checked, and its split (as written and as read) and seed: the export
    page's download and its background form read them alike. Raises ``AnnotationFormatError`` or
    ``InvalidInput`` with a message for the person."""
    registry.for_export(fmt)  # a clear 400 for a format there is not
    split = params.text(data, "split", label="The split", limit=100)
    return split, export.parse_split(split), params.integer(data, "seed", label="The seed", default=0, low=0)


MAX_IMPORT_FILES = 50_000


@login_required
@require_http_methods(["GET", "POST"])
def import_annotations(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """Upload annotation files for the project's images; the answer is the import's report."""
    project_obj = _managed_project(request, ws, project, doing="import annotations")
    context: dict = {"project": project_obj, "inline_limit": settings.IMPORT_INLINE_FILES}
    if request.method == "POST":
        uploads = request.FILES.getlist("files")
        if not uploads:
            messages.error(request, "Choose the annotation files to import.")
            return render(request, "boards/import.html", context, status=400)
        files = [(upload.name, upload.read()) for upload in uploads[:MAX_IMPORT_FILES]]
        options = {
            "create_classes": params.boolean(request.POST, "create_classes", label="Create classes"),
            "clip": params.choice(request.POST, "outside", ("clip", "refuse"), default="clip") == "clip",
            "overwrite": params.boolean(request.POST, "overwrite", label="Overwrite"),
        }
        later = params.boolean(request.POST, "background", label="In the background")
        try:
            if later or len(files) > settings.IMPORT_INLINE_FILES:
                background.start_import(project=project_obj, actor=request.user, files=files, **options)
                messages.success(
                    request,
                    f"The import of {len(files)} file{pluralize(len(files))} is queued: a worker reads them, "
                    "and its report appears here.",
                )
                return redirect("tasks", project_obj.workspace.slug, project_obj.slug)
            report = services.import_annotation_files(project=project_obj, actor=request.user, files=files, **options)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return render(request, "boards/import.html", context, status=exc.status)
        context["report"] = report
        return render(request, "boards/import.html", context, status=200 if report.ok else 422)
    return render(request, "boards/import.html", context)
