"""The project's Tasks page: exports and large imports done by workers, with their progress.

Anyone who may see the project sees its tasks, starts an export and downloads a finished archive
while it is kept; the person who started a task, or a manager, may cancel it. The list refreshes
itself (htmx, every two seconds) while a task is waiting or running.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from boards import selectors
from boards.formats import AnnotationFormatError
from boards.models import BackgroundTask, Project
from boards.services import background
from boards.views.project import export_batch, export_options
from core import params
from core.errors import InvalidInput, ServiceError
from core.http import serve_file

SHOWN = 50


def _project(request: HttpRequest, ws: str, project: str) -> Project:
    project_obj = selectors.project_for(request.user, ws, project)
    if not request.user.has_perm("boards.view_project", project_obj):
        raise Http404("No such project.")
    return project_obj


def _task(project: Project, task_id: int) -> BackgroundTask:
    task = BackgroundTask.objects.filter(project=project, pk=task_id).select_related("started_by").first()
    if task is None:
        raise Http404("No such task in this project.")
    return task


def tasks_url(project: Project) -> str:
    return reverse("tasks", args=[project.workspace.slug, project.slug])


@login_required
@require_GET
@vary_on_headers("HX-Request")
def tasks_page(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = _project(request, ws, project)
    background.reap_when_due(project_obj)
    tasks = list(project_obj.background_tasks.select_related("started_by")[:SHOWN])
    for task in tasks:
        task.may_cancel = task.is_open and (
            task.started_by_id == request.user.pk or request.user.has_perm("boards.manage_project", project_obj)
        )
    context = {"project": project_obj, "tasks": tasks, "polling": any(t.is_open for t in tasks)}
    template = "boards/tasks.html#task-list" if request.htmx else "boards/tasks.html"
    return render(request, template, context)


@login_required
@require_GET
def task_detail(request: HttpRequest, ws: str, project: str, task_id: int) -> HttpResponse:
    """One task: what was asked, how far it got, and an import's report."""
    project_obj = _project(request, ws, project)
    task = _task(project_obj, task_id)
    report = task.report if task.kind == "import" and task.report else None
    return render(request, "boards/task.html", {"project": project_obj, "task": task, "report": report})


@login_required
@require_POST
def task_cancel(request: HttpRequest, ws: str, project: str, task_id: int) -> HttpResponse:
    project_obj = _project(request, ws, project)
    task = background.cancel(task=_task(project_obj, task_id), actor=request.user)
    messages.success(
        request,
        "Cancelled." if not task.is_open else "Cancelling: the worker stops at its next page of images.",
    )
    return redirect(tasks_url(project_obj))


@login_required
@require_GET
def task_download(request: HttpRequest, ws: str, project: str, task_id: int) -> HttpResponse:
    """The finished archive, while it is kept: a redirect to the object store, or streamed from disk."""
    project_obj = _project(request, ws, project)
    task = _task(project_obj, task_id)
    if task.downloadable:
        return serve_file(task.file, redirect=True, download_name=task.download_name, cache_control="private, no-store")
    if task.status == "done" and task.kind == "export":
        message = "This export's archive was deleted when its retention ended; export again for a new one."
        return render(request, "boards/task_gone.html", {"project": project_obj, "message": message}, status=410)
    raise Http404("This task has no archive to download (it has not finished, or it failed).")


@login_required
@require_POST
def export_start(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """The export page's form: "Download now" goes to the streamed download, "Prepare" queues a task."""
    project_obj = _project(request, ws, project)
    batch = export_batch(project_obj, request.POST)
    fmt = params.text(request.POST, "format", label="The format", limit=20) or "coco"
    back = reverse("export", args=[project_obj.workspace.slug, project_obj.slug])
    try:
        split, ratio, seed = export_options(request.POST, fmt)
    except (AnnotationFormatError, InvalidInput) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return redirect(back + (f"?batch={batch.pk}" if batch else ""))
    query = {"format": fmt, "seed": seed} | ({"split": split} if split else {}) | ({"batch": batch.pk} if batch else {})
    if request.POST.get("run") == "now":
        return redirect(f"{back}?{urlencode(query)}", permanent=False)
    try:
        background.start_export(project=project_obj, actor=request.user, fmt=fmt, batch=batch, ratio=ratio, seed=seed)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(back + (f"?batch={batch.pk}" if batch else ""))
    messages.success(request, "The export is queued: a worker prepares it, and it appears here to download.")
    return redirect(tasks_url(project_obj))
