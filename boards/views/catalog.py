"""The catalog's pages: the image grid with its filters, "Add batch", tags, archived batches, merge.

Thin, like the other screens: parse the request, call ``boards.catalog`` (reads)
or ``boards.services`` (writes), render. Every form works as a plain POST; the
grid's dialog and live counts use htmx on top.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boards import catalog, selectors, services
from boards.catalog import CatalogFilter
from boards.models import MAX_BATCH_IMAGES, PRIORITY_DEFAULT, PRIORITY_HIGHEST, PRIORITY_LOWEST, Batch, Project
from core import params
from core.errors import ServiceError

PRIORITIES = range(PRIORITY_HIGHEST, PRIORITY_LOWEST + 1)


def _catalog_url(project: Project, filters: CatalogFilter | None = None) -> str:
    url = reverse("catalog", args=[project.workspace.slug, project.slug])
    return f"{url}?{filters.querystring}" if filters is not None and not filters.is_empty else url


def _back(request: HttpRequest, project: Project) -> str:
    """Where a catalog form returns to: the grid it was sent from, filters and page kept."""
    target = request.POST.get("next", "")
    if "\x00" in target or len(target) > 2000 or not target.startswith("/"):
        return _catalog_url(project)  # only a path on this site, never a view name redirect() would look up
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return _catalog_url(project)


def _selection(data: QueryDict) -> dict:
    """The images a catalog form means: "all matching" posts the filter, otherwise the ticked ids."""
    if params.choice(data, "scope", ("filter", "ids"), label="The scope") == "filter":
        return {"filters": CatalogFilter.from_query(data)}
    return {"image_ids": params.idents(data, "images", label="A selected image")}


# --- the grid ------------------------------------------------------------------------


@login_required
@require_GET
def catalog_page(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    filters = CatalogFilter.from_query(request.GET)
    if "" in request.GET.values() and not filters.errors:
        # The filter form sends its empty fields too; the address to bookmark has only the set ones.
        return redirect(_catalog_url(project_obj, filters))
    page = catalog.catalog_page(
        project_obj,
        filters,
        before=params.ident(request.GET, "before", label="The image to page from (“before”)"),
        after=params.ident(request.GET, "after", label="The image to page from (“after”)"),
    )
    # One reverse() for the whole grid rather than one per thumbnail.
    thumb_url = reverse("image-file", args=[0, "thumb"]).replace("/0/", "/{}/")
    for image in page.images:
        image.thumb_url = thumb_url.format(image.pk)
    user = request.user
    return render(
        request,
        "boards/catalog.html",
        {
            "project": project_obj,
            "filters": filters,
            "page": page,
            "choices": catalog.filter_choices(project_obj),
            "can_create": user.has_perm("boards.create_batch", project_obj),
            "can_tag": user.has_perm("boards.tag_images", project_obj),
            "can_select": user.has_perm("boards.create_batch", project_obj)
            or user.has_perm("boards.tag_images", project_obj),
            "priorities": PRIORITIES,
            "values": _batch_values(QueryDict()),
            "limit": MAX_BATCH_IMAGES,
            "here": request.get_full_path(),
            "nav": "catalog",
        },
    )


@login_required
@require_GET
def catalog_count(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """How many images match, counted on its own so the grid never waits for it."""
    project_obj = selectors.project_for(request.user, ws, project)
    filters = CatalogFilter.from_query(request.GET)
    if filters.errors:
        raise params.BadParameter(next(iter(filters.errors)), " ".join(filters.errors.values()))
    count, exact = catalog.count_matching(project_obj, filters)
    return render(request, "boards/catalog.html#match-count", {"count": count, "count_exact": exact})


# --- "Add batch" ------------------------------------------------------------------------


def _sample_from(data: QueryDict) -> dict | None:
    mode = data.get("sample", "")
    if mode not in (catalog.RANDOM, catalog.ORDERED):
        return None
    return {"n": data.get("n", ""), "mode": mode, "seed": data.get("seed", ""), "order": data.get("order", "")}


def _priority_from(data: QueryDict) -> int:
    return params.integer(
        data, "priority", label="Priority", default=PRIORITY_DEFAULT, low=PRIORITY_HIGHEST, high=PRIORITY_LOWEST
    )


def _shown_priority(data: QueryDict) -> int:
    try:
        return _priority_from(data)
    except params.BadParameter:
        return PRIORITY_DEFAULT


def _batch_values(data: QueryDict) -> dict:
    """What the "Add batch" fields show: what was sent, else the defaults (and a fresh seed)."""
    return {
        "name": data.get("name", ""),
        "priority": _shown_priority(data),
        "sample": data.get("sample", ""),
        "n": data.get("n", ""),
        "seed": data.get("seed") or catalog.new_seed(),
        "order": data.get("order", catalog.BY_UPLOAD),
    }


@login_required
@require_POST
def catalog_batch(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    """Preview ("step" is anything but "create") or create a batch from the catalog's selection.

    htmx asks for the preview inside the grid's dialog; without JavaScript the
    same form comes back as a page of its own, with the counts, to confirm.
    """
    project_obj = selectors.project_for(request.user, ws, project)
    if not request.user.has_perm("boards.create_batch", project_obj):
        raise PermissionDenied("You do not have permission to create batches in this project.")
    data = request.POST
    selection = _selection(data)
    sample = _sample_from(data)
    name = params.text(data, "name", label="The batch name", limit=200)
    status, error, preview = 200, "", None
    if data.get("step") == "create":
        try:
            priority = _priority_from(data)
            result = services.create_batch_from_images(
                project=project_obj, actor=request.user, name=name, priority=priority, sample=sample, **selection
            )
        except ServiceError as exc:
            status, error = exc.status, exc.message
        else:
            batch = result.batch
            left = f" {result.preview.left_out:,} already in a batch were left out." if result.preview.left_out else ""
            seed = f", seed {batch.sample_seed}" if batch.sample_seed is not None else ""
            messages.success(
                request,
                f"Created “{batch.name}” with {result.taken:,} image{'s' if result.taken != 1 else ''} "
                f"(priority {batch.priority}{seed}); it waits in Unassigned on the board.{left}",
            )
            return redirect(_back(request, project_obj))
    if not error:
        try:
            preview = catalog.preview_batch(project_obj, sample=sample, **selection)
        except ServiceError as exc:
            error = exc.message
    name_taken = bool(name) and Batch.objects.filter(project=project_obj, name=name).exists()
    context = {
        "project": project_obj,
        "preview": preview,
        "error": error,
        "name_taken": name_taken,
        "values": _batch_values(data),
        "filters": selection.get("filters"),
        "image_ids": selection.get("image_ids") or [],
        "priorities": PRIORITIES,
        "limit": MAX_BATCH_IMAGES,
        "here": _back(request, project_obj),
        "nav": "catalog",
    }
    template = "boards/catalog.html#batch-preview" if request.htmx else "boards/catalog_batch.html"
    return render(request, template, context, status=status)


# --- tags ---------------------------------------------------------------------------------


@login_required
@require_POST
def catalog_tags(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    data = request.POST
    try:
        tags = params.text(data, "tags", label="The tags", limit=10_000)
        names = list(dict.fromkeys(n.strip() for n in tags.split(",") if n.strip()))
        removing = params.choice(data, "tag_action", ("add", "remove"), default="add") == "remove"
        result = services.tag_images(
            project=project_obj,
            actor=request.user,
            add=() if removing else names,
            remove=names if removing else (),
            **_selection(data),
        )
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        messages.error(request, exc.message)
    else:
        tags = ", ".join(f"“{n}”" for n in names)
        if removing:
            messages.success(request, f"Removed {tags} from the selection ({result.removed:,} tags taken off).")
        else:
            had = result.images * len(names) - result.added
            note = f"; {had:,} of those tags were there already" if had else ""
            messages.success(request, f"Tagged {result.images:,} images with {tags}{note}.")
    return redirect(_back(request, project_obj))


# --- archived batches -------------------------------------------------------------------


@login_required
@require_GET
def archived(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    number = params.integer(request.GET, "page", label="The page", default=1, low=1)
    page = Paginator(catalog.archived_batches(project_obj), 50).get_page(number)
    for batch in page:
        batch.project = project_obj
        batch.had = int(batch.archived_images_n) if batch.archived_images_n is not None else batch.still_free
        batch.gone = max(batch.had - batch.still_free, 0)
        batch.restorable = batch.gone == 0
    return render(
        request,
        "boards/archived.html",
        {
            "project": project_obj,
            "page": page,
            "can_restore": request.user.has_perm("boards.archive_batch", project_obj),
            "nav": "archived",
        },
    )


@login_required
@require_POST
def restore(request: HttpRequest, ws: str, project: str, batch_id: int) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    batch = selectors.batch_in(project_obj, batch_id)
    try:
        batch = services.restore_batch(batch=batch, actor=request.user)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        messages.error(request, exc.message)
        return redirect("archived", ws, project)
    n = batch.images.count()
    messages.success(request, f"Restored “{batch.name}” to Unassigned with its {n:,} image{'s' if n != 1 else ''}.")
    return redirect("archived", ws, project)


# --- merge ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest, ws: str, project: str) -> HttpResponse:
    project_obj = selectors.project_for(request.user, ws, project)
    can_merge = request.user.has_perm("boards.merge_batches", project_obj)
    error, status = "", 200
    chosen: set[int] = set()
    if request.method == "POST":
        try:
            chosen = set(params.idents(request.POST, "batches", label="A batch to merge"))
            batch = services.merge_batches(
                project=project_obj,
                actor=request.user,
                batches=chosen,
                name=params.text(request.POST, "name", label="The merged batch's name", limit=200),
            )
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            n = batch.images.count()
            messages.success(
                request, f"Merged {len(chosen)} batches into “{batch.name}”: {n:,} images, priority {batch.priority}."
            )
            return redirect("batch", ws, project, batch.pk)
    batches = list(catalog.unassigned_batches(project_obj))
    return render(
        request,
        "boards/merge.html",
        {
            "project": project_obj,
            "batches": batches,
            "chosen": chosen,
            "name": request.POST.get("name", ""),
            "error": error,
            "can_merge": can_merge,
            "can_prioritize": request.user.has_perm("boards.change_batch_priority", project_obj),
            "priorities": PRIORITIES,
            "limit": MAX_BATCH_IMAGES,
            "nav": "merge",
        },
        status=status,
    )
