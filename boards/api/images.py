"""Endpoints for images: one image, its file, tags, deleting, and search."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from boards import selectors, services
from boards.api.auth import (
    ANNOTATE,
    MANAGE,
    READ,
    Caller,
    _project,
    api,
)
from boards.api.shapes import _box, _epoch, image_dict
from core import params
from core.errors import InvalidInput, NotFound
from core.http import serve_file


@api({"GET": READ})
def image(request: HttpRequest, caller: Caller, project: str, image_id: int) -> JsonResponse:
    obj = _project(caller, project)
    img, boxes, tags = selectors.api_image(obj, image_id)
    return JsonResponse({"image": image_dict(request, obj, img, boxes, tags)})


@api({"GET": READ})
def image_file(request: HttpRequest, caller: Caller, project: str, image_id: int, kind: str) -> HttpResponse:
    obj = _project(caller, project)
    if kind not in ("original", "thumb"):
        raise NotFound("No such image file in this project.")
    image = selectors.image_of(obj, image_id, missing="No such image file in this project.")
    return serve_file(image.stored_name(kind), redirect=kind == "original")


@api({"DELETE": MANAGE})
def images_delete(request: HttpRequest, caller: Caller, project: str) -> HttpResponse:
    obj = _project(caller, project)
    data = params.json_body(request)
    if not isinstance(data.get("images"), list):
        raise InvalidInput("Send {“images”: [image ids]}.")
    image_ids = params.idents(data, "images", label="An image id")
    services.delete_images(project=obj, actor=caller.actor, image_ids=image_ids)
    return HttpResponse(status=204)


@api({"POST": ANNOTATE})
def image_tags(request: HttpRequest, caller: Caller, project: str, image_id: int) -> JsonResponse:
    obj = _project(caller, project)
    img = selectors.image_of(obj, image_id)
    data = params.json_body(request)
    operation = params.text(data, "operation", required=True)
    tags = data.get("tags", [])
    names = services.change_image_tags(
        image=img, actor=caller.actor, operation=operation, tags=[tags] if isinstance(tags, str) else tags
    )
    return JsonResponse({"success": True, "tags": names})


SEARCH_FIELDS = (
    "id",
    "name",
    "created",
    "labels",
    "split",
    "tags",
    "annotations",
    "batch",
    "status",
    "width",
    "height",
)
MAX_SEARCH_LIMIT = 250
MAX_SEARCH_OFFSET = 10_000_000


def _search_query(data: dict) -> selectors.SearchQuery:
    if data.get("like_image"):
        raise InvalidInput("Batchboard has no similarity search; filter by tag, class_name, batch_id or prompt.")
    optional_id = {name: params.ident(data, name) for name in ("batch_id", "annotation_job_id")}
    return selectors.SearchQuery(
        offset=params.integer(data, "offset", default=0, low=0, high=MAX_SEARCH_OFFSET, number_only=True),
        limit=params.integer(data, "limit", default=50, low=1, high=MAX_SEARCH_LIMIT, number_only=True),
        tag=params.text(data, "tag", limit=100) or None,
        class_name=params.text(data, "class_name", limit=100) or None,
        prompt=params.text(data, "prompt", limit=255) or None,
        in_dataset=params.boolean(data, "in_dataset", default=None),
        batch=bool(params.boolean(data, "batch")),
        annotation_job=bool(params.boolean(data, "annotation_job")),
        **optional_id,
    )


@api({"POST": READ})
def search(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    data = params.json_body(request)
    query = _search_query(data)
    fields = data.get("fields") or ["id", "created", "name", "labels"]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise InvalidInput("“fields” is a list of field names.")
    total, page = selectors.api_search(obj, query)
    results = []
    for img in page:
        full = {
            "id": str(img.pk),
            "name": img.original_filename,
            "created": _epoch(img.uploaded_at),
            "labels": sorted({a.label.name for a in img.box_list}),
            "split": img.split,
            "tags": img.tag_names,
            "annotations": {"width": img.width, "height": img.height, "boxes": [_box(a) for a in img.box_list]},
            "batch": str(img.batch_id) if img.batch_id else None,
            "status": img.state,
            "width": img.width,
            "height": img.height,
        }
        results.append({f: full[f] for f in fields if f in full})
    return JsonResponse({"offset": query.offset, "total": total, "results": results})
