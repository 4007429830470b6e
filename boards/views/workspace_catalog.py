"""The workspace catalog: every image of a workspace once, its datasets, and "Add batch to project".

Built like the project catalog (``boards.views.catalog``): the filters are in
the URL, the grid's checkboxes post ids and "select all matching" posts the
filter, and "Add batch to project" counts in a dialog (htmx) or on a page of
its own (without JavaScript) before anything is created. Reads come from
``boards.catalog``, writes from ``boards.services``.

Any member of the workspace sees the catalog; others get 404 on every URL
here. Creating a batch needs ``boards.create_batch`` on the chosen project,
renaming a dataset ``boards.manage_project`` on the workspace (managers and
owners); the services check both again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Workspace
from boards import catalog, services
from boards.catalog import NOWHERE, PROJECT_STATES, WorkspaceFilter
from boards.catalog.workspace import in_project_q
from boards.models import MAX_BATCH_IMAGES, Asset, Batch, BatchStatus, Dataset, Project
from boards.views.catalog import PRIORITIES, _batch_values, _priority_from, _sample_from
from core import params
from core.errors import ConcurrentChange, InvalidInput, ServiceError
from core.http import serve_file

STATUS_LABELS = dict(BatchStatus.choices)


def _workspace_for(user, slug: str) -> Workspace:
    """The workspace, if the user is a member of it; 404 otherwise (as ``selectors.project_for``)."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None or not user.is_authenticated or user.role_in(workspace.pk) is None:
        raise Http404("No such workspace.")
    return workspace


def _catalog_url(workspace: Workspace, filters: WorkspaceFilter | None = None) -> str:
    url = reverse("workspace-catalog", args=[workspace.slug])
    return f"{url}?{filters.querystring}" if filters is not None and filters.active else url


def _back(request: HttpRequest, workspace: Workspace) -> str:
    """Where a catalog form returns to: the grid it was sent from, filters and page kept."""
    target = request.POST.get("next", "")
    if "\x00" in target or len(target) > 2000 or not target.startswith("/"):
        return _catalog_url(workspace)
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return _catalog_url(workspace)


def _cursor(data) -> dict:
    """The image a page goes on from, newest first: ``before`` it (older) or ``after`` it (newer)."""
    return {
        "before": params.ident(data, "before", label="The image to page from (“before”)"),
        "after": params.ident(data, "after", label="The image to page from (“after”)"),
    }


def _targets(request: HttpRequest, workspace: Workspace, projects: list[Project] | None = None) -> list[Project]:
    """The projects the user may add batches to (the roles are read once per request: no query each)."""
    projects = catalog.projects_of(workspace.pk) if projects is None else projects
    return [p for p in projects if request.user.has_perm("boards.create_batch", p)]


# --- the grid and the datasets ----------------------------------------------------------


def _page_context(request: HttpRequest, workspace: Workspace, filters: WorkspaceFilter, cursor: dict, **extra) -> dict:
    """Everything the page shows, in a fixed number of queries whatever the page holds."""
    user = request.user
    page = catalog.asset_page(workspace.pk, filters, **cursor)
    if not page["assets"] and any(value is not None for value in cursor.values()):
        # The images the link left off at went, or no longer match: the first page instead of an empty one.
        page = catalog.asset_page(workspace.pk, filters)
    # One reverse() for the whole grid rather than one per thumbnail.
    thumb_url = reverse("asset-file", args=[workspace.slug, 0, "thumb"]).replace("/0/", "/{}/")
    for asset in page["assets"]:
        asset.thumb_url = thumb_url.format(asset.pk)
    # Counted by the page, or one page holds them all: counted as shown. Otherwise the page asks for the
    # count on its own (htmx), so that the grid never waits for a count of up to 10,000 matches.
    count = page["count"]
    if count is None and page["newer"] is None and page["older"] is None:
        count = len(page["assets"])
    query = filters.querystring
    link = f"?{query}&" if query else "?"
    can_create = user.has_perm("boards.create_batch", workspace)
    projects = catalog.projects_of(workspace.pk)
    rename = extra.pop("rename", {})
    datasets = catalog.datasets_of(workspace.pk)
    for dataset in datasets:
        dataset.filter_url = f"?{WorkspaceFilter(dataset=dataset.pk).querystring}"
        dataset.rename_error = rename.get("error", "") if rename.get("id") == dataset.pk else ""
        dataset.form_name = rename.get("value", dataset.name) if dataset.rename_error else dataset.name
    return {
        "workspace": workspace,
        "filters": filters,
        "page": page,
        "count": count,
        "previous_url": f"{link}after={page['newer']}" if page["newer"] else "",
        "next_url": f"{link}before={page['older']}" if page["older"] else "",
        "datasets": datasets,
        "projects": projects,
        "targets": _targets(request, workspace, projects),
        "nowhere": NOWHERE,
        "states": [(value, label) for value, label in PROJECT_STATES.items() if value],
        "can_create": can_create and bool(projects),
        # Renaming datasets and deleting unused images: the workspace's managers and owners.
        "can_rename": (can_manage := user.has_perm("boards.manage_project", workspace)),
        "can_delete": can_manage,
        "priorities": PRIORITIES,
        "values": {**_batch_values(QueryDict()), "target": ""},
        "limit": MAX_BATCH_IMAGES,
        "here": request.get_full_path(),
        **extra,
    }


@login_required
@require_GET
def workspace_catalog_page(request: HttpRequest, ws: str) -> HttpResponse:
    workspace = _workspace_for(request.user, ws)
    filters = WorkspaceFilter.from_query(request.GET)
    if "" in request.GET.values() and not filters.errors:
        # The filter form sends its empty fields too; the address to bookmark has only the set ones.
        return redirect(_catalog_url(workspace, filters))
    cursor = _cursor(request.GET)
    return render(request, "boards/workspace_catalog.html", _page_context(request, workspace, filters, cursor))


@login_required
@require_GET
def workspace_catalog_count(request: HttpRequest, ws: str) -> HttpResponse:
    """How many images match, counted on its own so the grid never waits for it."""
    workspace = _workspace_for(request.user, ws)
    count, exact = catalog.count_assets(workspace.pk, WorkspaceFilter.from_query(request.GET))
    return render(request, "boards/workspace_catalog.html#match-count", {"count": count, "count_exact": exact})


@login_required
@require_GET
def asset_file(request: HttpRequest, ws: str, asset_id: int, kind: str) -> HttpResponse:
    """A catalog image's original or thumbnail, for members of its workspace only."""
    workspace = _workspace_for(request.user, ws)
    if kind not in ("original", "thumb"):
        raise Http404("No such kind of file.")
    asset = Asset.objects.filter(workspace=workspace, pk=asset_id).only("file", "thumbnail").first()
    if asset is None:
        raise Http404("No such image in this workspace.")
    if kind == "original":
        return serve_file(asset.file.name, redirect=True)
    return serve_file(asset.thumbnail.name or asset.file.name)


@login_required
@require_POST
def dataset_rename(request: HttpRequest, ws: str, dataset_id: int) -> HttpResponse:
    """Rename a dataset; a refusal shows the catalog again with the reason beside that dataset's form."""
    workspace = _workspace_for(request.user, ws)
    dataset = Dataset.objects.filter(workspace=workspace, pk=dataset_id).first()
    if dataset is None:
        raise Http404("No such dataset in this workspace.")
    if not request.user.has_perm("boards.manage_project", workspace):
        raise PermissionDenied("Only the workspace's managers and owners may rename datasets.")
    back = _back(request, workspace)
    old = dataset.name
    try:
        name = params.text(request.POST, "name", label="The dataset's name", limit=10_000)
        dataset = services.rename_dataset(dataset=dataset, actor=request.user, name=name)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        shown = request.POST.get("name", "")
        query = QueryDict(urlsplit(back).query)
        context = _page_context(
            request,
            workspace,
            WorkspaceFilter.from_query(query),
            _cursor_or_start(query),
            rename={"id": dataset.pk, "error": exc.message, "value": shown.replace("\x00", "")[:1000]},
            here=back,
        )
        return render(request, "boards/workspace_catalog.html", context, status=exc.status)
    if dataset.name != old:
        messages.success(request, f"Renamed the dataset “{old}” to “{dataset.name}”.")
    return redirect(back)


def _cursor_or_start(query: QueryDict) -> dict:
    try:
        return _cursor(query)
    except params.BadParameter:
        return {"before": None, "after": None}


# --- "Add batch to project" -------------------------------------------------------------


def _selection(data: QueryDict) -> dict:
    """The images a form means: "all matching" posts the filter, otherwise the ticked ids."""
    if params.choice(data, "scope", ("filter", "ids"), label="The scope") == "filter":
        return {"filters": WorkspaceFilter.from_query(data)}
    return {"asset_ids": params.idents(data, "assets", label="A selected image")}


def _target(workspace: Workspace, data: QueryDict) -> Project | None:
    """The project the batch is for, by slug; None when none is chosen yet, 404 for one not of this workspace."""
    slug = params.text(data, "target", label="The project to add the batch to", limit=100)
    if not slug:
        return None
    project = Project.objects.filter(workspace=workspace, slug=slug).first()
    if project is None:
        raise Http404("No such project in this workspace.")
    project.workspace = workspace
    return project


def _usable(selection: dict) -> None:
    filters = selection.get("filters")
    if filters is not None and filters.errors:
        raise InvalidInput("Fix the filter first: " + " ".join(filters.errors.values()))


def _preview(workspace: Workspace, target: Project, selection: dict, sample) -> tuple[catalog.BatchPreview, int]:
    """What the batch would take in ``target``, and how many of the images that project does not have yet."""
    _usable(selection)
    sample = catalog.Sample.parse(sample)
    assets, ids, matching = catalog.selection(workspace.pk, **selection)
    preview = catalog.preview_for_project(assets, target, sample, matching=matching, asset_ids=ids)
    if "asset_ids" in selection and preview.matching < len(ids):
        missing = len(ids) - preview.matching
        raise InvalidInput(f"{missing:,} of the {len(ids):,} selected images are not in this workspace's catalog.")
    return preview, assets.exclude(in_project_q(target)).count()


def _left_out_reason(preview: catalog.BatchPreview, target: Project) -> str:
    if not preview.left_out:
        return ""
    by_column = sorted(preview.in_batches.items(), key=lambda item: BatchStatus.values.index(item[0]))
    parts = ", ".join(f"{n:,} in {STATUS_LABELS[status]}" for status, n in by_column)
    noun = "image is" if preview.left_out == 1 else "images are"
    return (
        f"{preview.left_out:,} {noun} already in a batch of {target.name} ({parts}) and will be left out: "
        "an image is in at most one batch per project. Batches of other projects do not matter."
    )


def _created_message(result, target: Project) -> str:
    batch = result.batch
    seed = f", seed {batch.sample_seed}" if batch.sample_seed is not None else ""
    left = result.preview.left_out
    left_out = f" {left:,} already in a batch of {target.name} {pluralize(left, 'was,were')} left out." if left else ""
    return (
        f"Created “{batch.name}” in {target.name} with {result.taken:,} image{pluralize(result.taken)} "
        f"(priority {batch.priority}{seed}); it waits in Unassigned on the board.{left_out}"
    )


@login_required
@require_POST
def workspace_catalog_batch(request: HttpRequest, ws: str) -> HttpResponse:
    """Preview ("step" is anything but "create") or create a batch in a project from the catalog's selection.

    htmx asks for the preview inside the grid's dialog; without JavaScript the
    same form comes back as a page of its own, with the counts, to confirm.
    A created batch is shown where it waits: on its project's board.
    """
    workspace = _workspace_for(request.user, ws)
    if not request.user.has_perm("boards.create_batch", workspace):
        raise PermissionDenied("You do not have permission to create batches in this workspace's projects.")
    data = request.POST
    selection = _selection(data)
    target = _target(workspace, data)
    sample = _sample_from(data)
    name = params.text(data, "name", label="The batch name", limit=200)
    status, error, preview, joining = 200, "", None, 0
    if data.get("step") == "create":
        try:
            if target is None:
                raise InvalidInput("Choose the project to add the batch to.")
            _usable(selection)
            result = services.add_batch_to_project(
                project=target,
                actor=request.user,
                name=name,
                priority=_priority_from(data),
                sample=sample,
                **selection,
            )
        except ServiceError as exc:
            status, error = exc.status, exc.message
        else:
            messages.success(request, _created_message(result, target))
            return redirect("board", workspace.slug, target.slug)
    if target is not None and not error:
        try:
            preview, joining = _preview(workspace, target, selection, sample)
        except ServiceError as exc:
            error = exc.message
    context = {
        "workspace": workspace,
        "target": target,
        "targets": [] if request.htmx else _targets(request, workspace),
        "preview": preview,
        "joining": joining,
        "left_out_reason": _left_out_reason(preview, target) if preview is not None else "",
        "error": error,
        "name_taken": bool(name and target) and Batch.objects.filter(project=target, name=name).exists(),
        "values": {**_batch_values(data), "target": target.slug if target else ""},
        "filters": selection.get("filters"),
        "asset_ids": selection.get("asset_ids") or [],
        "priorities": PRIORITIES,
        "limit": MAX_BATCH_IMAGES,
        "here": _back(request, workspace),
    }
    template = "boards/workspace_catalog.html#batch-preview" if request.htmx else "boards/workspace_catalog_batch.html"
    return render(request, template, context, status=status)


# --- deleting images no project uses ----------------------------------------------------


@login_required
@require_POST
def workspace_catalog_delete(request: HttpRequest, ws: str) -> HttpResponse:
    """Delete the selected catalog images that are in no project, after a page that counts them.

    "step" is "delete" to delete; anything else shows the count: how many go for good (with their
    files) and how many stay because a project uses them. Managers and owners only.
    """
    workspace = _workspace_for(request.user, ws)
    if not request.user.has_perm("boards.manage_project", workspace):
        raise PermissionDenied("Only the workspace's managers and owners may delete images from its catalog.")
    data = request.POST
    selection = _selection(data)
    back = _back(request, workspace)
    status, error, changed = 200, "", False
    try:
        _usable(selection)
        if data.get("step") == "delete":
            expected = params.integer(data, "expected", label="The number counted", low=0, high=10**9)
            done = services.delete_catalog_images(
                workspace=workspace, actor=request.user, expected=expected, **selection
            )
            more = "" if done.used_exact else "+"
            kept = f" {done.used:,}{more} used by projects stay." if done.used else ""
            messages.success(request, f"Deleted {done.unused:,} image{pluralize(done.unused)} for good.{kept}")
            return redirect(back)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        # A count that changed since it was shown: the new one (below) may be confirmed.
        status, error, changed = exc.status, exc.message, isinstance(exc, ConcurrentChange)
    try:  # the counts as they are now (beside the reason, after a refusal)
        counted = services.catalog_deletion(workspace, **selection)
    except ServiceError as exc:
        counted = None
        if not error:
            status, error = exc.status, exc.message
    context = {
        "workspace": workspace,
        "counted": counted,
        "offer": bool(counted and counted.unused and not counted.too_many and (not error or changed)),
        "limit": services.MAX_IMAGES_PER_DELETE,
        "error": error,
        "filters": selection.get("filters"),
        "asset_ids": selection.get("asset_ids") or [],
        "here": back,
    }
    return render(request, "boards/workspace_catalog_delete.html", context, status=status)
