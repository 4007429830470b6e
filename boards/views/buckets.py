"""A project's buckets: connect an S3-compatible bucket, import its images in the background, remove it.

For the project's managers and owners. Credentials are written once and never shown again: the
page names a bucket by its name, address and the access key's last four characters.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from boards import services
from boards.models import BucketSource, Project
from boards.views.project import _managed_project
from core import params
from core.errors import ServiceError

FIELDS = ("name", "endpoint_url", "region", "bucket", "prefix", "access_key", "secret_key")
SHOWN_AGAIN = ("name", "endpoint_url", "region", "bucket", "prefix")  # never the keys


def _project(request: HttpRequest, ws: str, project: str) -> Project:
    return _managed_project(request, ws, project, doing="connect buckets and import from them")


def _source(project: Project, source_id: int) -> BucketSource:
    source = BucketSource.objects.filter(project=project, pk=source_id).first()
    if source is None:
        raise Http404("No such bucket in this project.")
    return source


@login_required
@sensitive_post_parameters("access_key", "secret_key")
@require_http_methods(["GET", "POST"])
def buckets_page(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = _project(request, ws, project)
    context: dict = {"project": project_obj, "form": {}}
    status = 200
    if request.method == "POST":
        values = {name: params.text(request.POST, name, label=name.replace("_", " "), limit=600) for name in FIELDS}
        try:
            source = services.connect_bucket(project=project_obj, actor=request.user, **values)
        except ServiceError as exc:
            context["form"] = {name: values[name] for name in SHOWN_AGAIN}
            context["error"] = exc.message
            status = exc.status
        else:
            messages.success(request, f"Connected “{source.name}”. Its keys are stored encrypted and not shown again.")
            return redirect("buckets", project_obj.workspace.slug, project_obj.slug)
    context["sources"] = BucketSource.objects.filter(project=project_obj).select_related("created_by")
    return render(request, "boards/buckets.html", context, status=status)


@login_required
@require_POST
def bucket_import(request: HttpRequest, ws: str, project: str, source_id: int) -> HttpResponse:
    project_obj = _project(request, ws, project)
    source = _source(project_obj, source_id)
    name = params.text(request.POST, "batch_name", label="The batch name", limit=200)
    try:
        services.start_bucket_import(source=source, actor=request.user, batch_name=name)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("buckets", project_obj.workspace.slug, project_obj.slug)
    messages.success(request, f"Importing from “{source.name}”: a worker lists, checks and stores its new images.")
    return redirect("tasks", project_obj.workspace.slug, project_obj.slug)


@login_required
@require_POST
def bucket_remove(request: HttpRequest, ws: str, project: str, source_id: int) -> HttpResponse:
    project_obj = _project(request, ws, project)
    source = _source(project_obj, source_id)
    try:
        services.remove_bucket(source=source, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed “{source.name}” and its keys; the images it gave stay.")
    return redirect("buckets", project_obj.workspace.slug, project_obj.slug)
