"""The JSON API, shaped like Roboflow's REST API so its scripts and Python client work.

Thin views: each reads the request, calls a selector or a service, and shapes
the answer as Roboflow does (adding our own fields beside theirs, never
instead). A workspace API key authenticates every call (``?api_key=`` or
``Authorization: Bearer``); the key's creator is the actor, so a call needs
both the key's scope and that person's role. Errors are always
``{"error": {"message", "type"}}``: ``ServiceError`` carries its status, and
``boards.middleware.ApiErrorMiddleware`` turns anything else under /api/ into
the same shape.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import mimetypes
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.models import ApiKey, ApiScope, Membership, User, Workspace, hash_api_key
from accounts.throttle import api_key_lockout, client_ip, record_bad_api_key
from boards import formats, selectors, services, upload_requests
from boards.errors import InvalidInput, NotAllowed, NotFound, ServiceError, TooLarge
from boards.models import MAX_BATCH_IMAGES, BatchStatus, Image, Project
from boards.openapi import JOB_STATUS, openapi_schema
from core import params

log = logging.getLogger(__name__)

READ, UPLOAD, ANNOTATE, MANAGE = (s.value for s in ApiScope)
ERROR_TYPES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}
LAST_USED_EVERY = timedelta(minutes=1)


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


def error(message: str, status: int, type_: str | None = None) -> JsonResponse:
    """The one error shape: never a bare string (the roboflow client crashes on one)."""
    return JsonResponse(
        {"error": {"message": message, "type": type_ or ERROR_TYPES.get(status, "error")}}, status=status
    )


@dataclass
class Caller:
    key: ApiKey
    workspace: Workspace
    actor: User

    def require(self, scope: str) -> None:
        if not self.key.has_scope(scope):
            raise NotAllowed(f"This API key lacks the “{scope}” scope; a workspace manager can create one that has it.")


def _raw_key(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.GET.get("api_key", "").strip()


def _authenticate(request: HttpRequest) -> Caller:
    raw = _raw_key(request)
    if not raw:
        raise Unauthorized("No API key: pass ?api_key=… or an “Authorization: Bearer …” header.")
    key = ApiKey.objects.select_related("workspace", "created_by").filter(key_hash=hash_api_key(raw)).first()
    if key is None or key.revoked_at is not None:
        record_bad_api_key(client_ip(request))
    if key is None:
        raise Unauthorized("This API key is not valid.")
    if key.revoked_at is not None:
        raise Unauthorized("This API key was revoked.")
    actor = key.created_by
    if actor is None or not actor.is_active:
        raise Unauthorized("The person who created this API key is no longer active; create a new key.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Caller(key=key, workspace=key.workspace, actor=actor)


def _bad_keys_refused(request: HttpRequest) -> JsonResponse | None:
    """429 for any key while the client is locked out for sending too many bad ones."""
    if not _raw_key(request):
        return None
    wait = api_key_lockout(client_ip(request))
    if not wait:
        return None
    response = error(f"Too many requests with an invalid API key from your address; try again in {wait} s.", 429)
    response["Retry-After"] = str(wait)
    return response


def _wait_seconds(key: ApiKey) -> int:
    """0 while the key is within its rate limit, else the seconds until the next window."""
    limit, window = settings.API_RATE_LIMIT, max(1, settings.API_RATE_WINDOW)
    if limit <= 0:
        return 0
    now = time.time()
    slot = int(now // window)
    name = f"api-rate:{key.pk}:{slot}"
    cache.add(name, 0, timeout=window + 1)
    try:
        used = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=window + 1)
        used = 1
    if used <= limit:
        return 0
    return max(1, math.ceil((slot + 1) * window - now))


def api(scopes: dict[str, str | None]):
    """Decorate an API view: methods (with the scope each needs), key, rate limit, workspace, errors.

    The view gets ``(request, caller, **kwargs)``; a ``ws`` path argument is
    checked against the key's workspace (another workspace is 404) and dropped.
    """

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in scopes:
                response = error(f"{request.method} is not allowed here; use {' or '.join(scopes)}.", 405)
                response["Allow"] = ", ".join(scopes)
                return response
            try:
                if refused := _bad_keys_refused(request):
                    return refused
                caller = _authenticate(request)
                wait = _wait_seconds(caller.key)
                if wait:
                    response = error(f"Too many requests for this key; try again in {wait} s.", 429)
                    response["Retry-After"] = str(wait)
                    return response
                ws = kwargs.pop("ws", None)
                if ws is not None and ws != caller.workspace.slug:
                    raise NotFound("No such workspace for this API key.")
                if caller.actor.role_in(caller.workspace.pk) is None:
                    raise NotAllowed("The person who created this API key is no longer a member of the workspace.")
                if scopes[request.method]:
                    caller.require(scopes[request.method])
                return view(request, caller, *args, **kwargs)
            except ServiceError as exc:
                return error(exc.message, exc.status, exc.code)
            except Http404 as exc:
                return error(str(exc) or "Not found.", 404)
            except RequestDataTooBig:
                return error("The request body is too large.", 413)

        return wrapper

    return decorate


# --- reading requests --------------------------------------------------------------


def _project(caller: Caller, slug: str) -> Project:
    try:
        project = Project.objects.get(workspace=caller.workspace, slug=slug)
    except Project.DoesNotExist:
        raise NotFound(f"There is no project “{slug}” in workspace “{caller.workspace.slug}”.") from None
    project.workspace = caller.workspace
    return project


def _member(caller: Caller, email: str, what: str) -> User:
    user = User.objects.filter(email__iexact=email, memberships__workspace=caller.workspace, is_active=True).first()
    if user is None:
        raise InvalidInput(f"No member of this workspace has the {what} email “{email}”.")
    return user


# --- shaping answers -----------------------------------------------------------------


def _timestamp(at: datetime) -> dict:
    return {"_seconds": int(at.timestamp()), "_nanoseconds": at.microsecond * 1000}


def _epoch(at: datetime) -> float:
    return round(at.timestamp(), 3)


def project_dict(project: Project, stats: dict) -> dict:
    return {
        "id": f"{project.workspace.slug}/{project.slug}",
        "type": "object-detection",
        "name": project.name,
        "created": _epoch(project.created_at),
        "updated": _epoch(project.updated_at),
        "images": stats["images"],
        "unannotated": stats["unannotated"],
        "annotation": project.slug,
        "versions": 0,
        "public": False,
        "splits": stats["splits"],
        "classes": stats["classes"],
        "colors": stats["colors"],
        "reviewMode": project.review_mode,
    }


def batch_dict(row: tuple) -> dict:
    """A row of ``selectors.api_batches`` as Roboflow's batch object, with our status and priority."""
    pk, name, uploaded, status, priority, images, jobs = row
    return {
        "name": name,
        "numJobs": jobs,
        "images": images,
        "uploaded": {"_seconds": int(uploaded.timestamp()), "_nanoseconds": uploaded.microsecond * 1000},
        "id": str(pk),
        "status": status,
        "priority": priority,
    }


def job_dict(row: dict, project: Project) -> dict:
    return {
        "id": str(row["pk"]),
        "name": row["name"] or row["batch__name"],
        "status": JOB_STATUS.get(row["state"], row["state"]),
        "numImages": row["num_images"],
        "annotated": row["num_images"] - row["n_unannotated"],
        "unannotated": row["n_unannotated"],
        "approved": row["n_approved"],
        "rejected": row["n_rejected"],
        "labeler": row["labeler__email"],
        "reviewer": row["reviewer__email"],
        "sourceBatch": f"{project.slug}/{row['batch_id']}",
        "created": _timestamp(row["created_at"]),
        "createdBy": row["created_by__email"],
        "project": f"{project.workspace.slug}/{project.slug}",
        "instructionsText": "",
        "batch": str(row["batch_id"]),
        "batchStatus": row["batch__status"],
    }


def _box(a) -> dict:
    # Roboflow's x and y are the box's centre.
    return {
        "label": a.label.name,
        "x": a.x + a.width / 2,
        "y": a.y + a.height / 2,
        "width": a.width,
        "height": a.height,
    }


def _image_urls(request: HttpRequest, project: Project, image: Image) -> dict:
    args = [project.workspace.slug, project.slug, image.pk]
    return {
        kind: request.build_absolute_uri(reverse("api-image-file", args=[*args, kind]))
        for kind in ("original", "thumb")
    }


def image_dict(request: HttpRequest, project: Project, image: Image, boxes: list, tags: list[str]) -> dict:
    return {
        "id": str(image.pk),
        "name": image.original_filename,
        "annotation": {"width": image.width, "height": image.height, "boxes": [_box(a) for a in boxes]},
        "labels": sorted({a.label.name for a in boxes}),
        "split": image.split,
        "tags": tags,
        "created": _epoch(image.uploaded_at),
        "urls": _image_urls(request, project, image),
        "status": image.state,
        "batch": str(image.batch_id) if image.batch_id else None,
    }


# --- endpoints -------------------------------------------------------------------------


@api({"GET": None, "POST": None})
def root(request: HttpRequest, caller: Caller) -> JsonResponse:
    return JsonResponse(
        {
            "welcome": "Welcome to the Batchboard API.",
            "instructions": "You are successfully authenticated.",
            "docs": request.build_absolute_uri(reverse("api-reference")),
            "workspace": caller.workspace.slug,
        }
    )


@api({"GET": READ})
def workspace(request: HttpRequest, caller: Caller) -> JsonResponse:
    projects = list(Project.objects.filter(workspace=caller.workspace).order_by("name"))
    stats = selectors.api_project_stats([p.pk for p in projects])
    for p in projects:
        p.workspace = caller.workspace
    return JsonResponse(
        {
            "workspace": {
                "name": caller.workspace.name,
                "url": caller.workspace.slug,
                "members": Membership.objects.filter(workspace=caller.workspace).count(),
                "projects": [project_dict(p, stats[p.pk]) for p in projects],
            }
        }
    )


@api({"GET": READ})
def project(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    stats = selectors.api_project_stats([obj.pk])[obj.pk]
    return JsonResponse({"workspace": caller.workspace.slug, "project": project_dict(obj, stats), "versions": []})


@api({"GET": READ})
def batches(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    return JsonResponse({"batches": [batch_dict(row) for row in selectors.api_batches(obj)]})


@api({"GET": READ})
def batch(request: HttpRequest, caller: Caller, project: str, batch_id: int) -> JsonResponse:
    rows = selectors.api_batches(_project(caller, project), batch_id=batch_id)
    if not rows:
        raise NotFound("No such batch in this project.")
    return JsonResponse(batch_dict(rows[0]))


MOVE_TARGETS = (
    BatchStatus.UNASSIGNED,
    BatchStatus.ANNOTATING,
    BatchStatus.REVIEW,
    BatchStatus.DATASET,
    BatchStatus.ARCHIVED,
)
MOVE_NEEDS = {
    "assign": "Assigning a batch needs “labelerEmail” (and optionally “reviewerEmail” and “images”).",
    "unassign": "Moving a batch back to Unassigned needs “keepAnnotations”: true keeps its boxes as pre-labels, "
    "false removes them.",
}


@api({"POST": None})
def batch_move(request: HttpRequest, caller: Caller, project: str, batch_id: int) -> JsonResponse:
    obj = _project(caller, project)
    current = selectors.batch_in(obj, batch_id)
    data = params.json_body(request)
    to = params.text(data, "to", required=True)
    if to not in MOVE_TARGETS:
        raise InvalidInput("“to” is one of unassigned, annotating, review, dataset or archived.")
    seen_in = params.text(data, "from", limit=20) or None
    # Assigning, archiving and sending back to Unassigned are a manager's moves; submit and review the annotators'.
    managing = to in (BatchStatus.UNASSIGNED, BatchStatus.ARCHIVED) or current.status == BatchStatus.UNASSIGNED
    caller.require(MANAGE if managing else ANNOTATE)
    labeler = reviewer = None
    if data.get("labelerEmail"):
        labeler = _member(caller, params.text(data, "labelerEmail", limit=254), "labeler")
    if data.get("reviewerEmail"):
        reviewer = _member(caller, params.text(data, "reviewerEmail", limit=254), "reviewer")
    image_ids = None
    if data.get("images") is not None:
        image_ids = params.idents(data, "images", label="An image id")
    try:
        moved = services.move_batch(
            batch=current,
            actor=caller.actor,
            to=to,
            labeler=labeler,
            reviewer=reviewer,
            image_ids=image_ids,
            keep_annotations=params.boolean(data, "keepAnnotations", default=None),
            comment=params.text(data, "comment", limit=5000),
            seen_in=seen_in,
        )
    except services.NeedsInput as exc:
        raise InvalidInput(MOVE_NEEDS.get(exc.dialog, exc.message)) from None
    return JsonResponse(batch_dict(selectors.api_batches(obj, batch_id=moved.pk)[0]))


@api({"GET": READ, "POST": MANAGE})
def jobs(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    if request.method == "GET":
        return JsonResponse({"jobs": [job_dict(row, obj) for row in selectors.api_jobs(obj)]})
    data = params.json_body(request)
    source = selectors.batch_in(obj, params.ident(data, "batch", required=True))
    labeler = _member(caller, params.text(data, "labelerEmail", required=True, limit=254), "labeler")
    reviewer_email = params.text(data, "reviewerEmail", limit=254)
    reviewer = _member(caller, reviewer_email, "reviewer") if reviewer_email else None
    num_images = params.integer(data, "num_images", low=1, high=MAX_BATCH_IMAGES, number_only=True)
    result = services.create_job(
        batch=source,
        actor=caller.actor,
        labeler=labeler,
        reviewer=reviewer,
        num_images=num_images,
        name=params.text(data, "name", limit=200),
    )
    return JsonResponse(job_dict(selectors.api_jobs(obj, job_id=result.job.pk)[0], obj))


@api({"GET": READ})
def job(request: HttpRequest, caller: Caller, project: str, job_id: int) -> JsonResponse:
    obj = _project(caller, project)
    rows = selectors.api_jobs(obj, job_id=job_id)
    if not rows:
        raise NotFound("No such job in this project.")
    return JsonResponse(job_dict(rows[0], obj))


@api({"GET": READ})
def image(request: HttpRequest, caller: Caller, project: str, image_id: int) -> JsonResponse:
    obj = _project(caller, project)
    img, boxes, tags = selectors.api_image(obj, image_id)
    return JsonResponse({"image": image_dict(request, obj, img, boxes, tags)})


@api({"GET": READ})
def image_file(request: HttpRequest, caller: Caller, project: str, image_id: int, kind: str) -> HttpResponse:
    obj = _project(caller, project)
    img = Image.objects.filter(project=obj, pk=image_id).first()
    if img is None or kind not in ("original", "thumb"):
        raise NotFound("No such image file in this project.")
    name = img.file.name if kind == "original" else (img.thumbnail.name or img.file.name)
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise NotFound("The image file is missing from storage.") from None
    response = FileResponse(handle, content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


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
    img = Image.objects.filter(project=obj, pk=image_id).first()
    if img is None:
        raise NotFound("No such image in this project.")
    img.project = obj
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


def _base64_image(request: HttpRequest, name: str) -> SimpleUploadedFile:
    body = request.body.strip()
    if body.startswith(b"data:") and b"," in body:
        body = body.split(b",", 1)[1]
    if not body:
        raise InvalidInput("Send the image as multipart field “file”, or as a base64 body.")
    try:
        data = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("The body is neither multipart form data nor a base64-encoded image.") from None
    return SimpleUploadedFile(services.safe_filename(name) or None, data)


@api({"POST": UPLOAD})
def upload(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    if request.GET.get("image"):
        raise InvalidInput(
            "Batchboard does not fetch images from URLs; "
            "send the file itself (multipart field “file”, or a base64 body)."
        )
    upload_requests.read_upload(request)  # MAX_UPLOAD_REQUEST_BYTES; large bodies go to temporary files
    name = params.text(request.GET, "name", label="The image name", limit=1000)
    split = params.text(request.GET, "split", label="The split", limit=20)
    try:
        if request.content_type == "multipart/form-data":
            file = request.FILES.get("file")
            if file is None:
                raise InvalidInput("Send the image as multipart field “file”.")
            name = (
                params.text(request.POST, "name", label="The image name", limit=1000)
                or name
                or params.clean_text(file.name, name="file", label="The file's name", limit=1000)
            )
            split = params.text(request.POST, "split", label="The split", limit=20) or split
        else:
            file = _base64_image(request, name)
    except RequestDataTooBig:
        raise TooLarge(
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1e6:g} MB; "
            "send large images as multipart."
        ) from None
    except MultiPartParserError as exc:
        raise InvalidInput(f"The multipart body cannot be read ({exc}).") from None
    result = services.upload_image(
        project=obj,
        actor=caller.actor,
        file=file,
        filename=name,
        batch_name=params.text(request.GET, "batch", label="The batch name", limit=200) or None,
        split=split,
        tags=[tag for tag in params.texts(request.GET, "tag", label="A tag", limit=100, count=100) if tag],
    )
    if result.duplicate:
        return JsonResponse({"duplicate": True, "id": str(result.image_id)})
    return JsonResponse(
        {"success": True, "id": str(result.image_id), "batch": {"id": str(result.batch.pk), "name": result.batch.name}}
    )


@api({"POST": ANNOTATE})
def annotate(request: HttpRequest, caller: Caller, project: str, image_id: int) -> JsonResponse:
    obj = _project(caller, project)
    img = Image.objects.filter(project=obj, pk=image_id).first()
    if img is None:
        raise NotFound("No such image in this project.")
    name = params.text(request.GET, "name", label="The annotation file's name", limit=255)
    if not name:
        raise InvalidInput("Pass the annotation file's name as ?name=… (its extension tells the format).")
    data = params.json_body(request)
    text = data.get("annotationFile")
    if not isinstance(text, str):
        raise InvalidInput("Send {“annotationFile”: “<the file's text>”, “labelmap”: {…} or null}.")
    try:
        fmt = formats.format_for(name)
        boxes = fmt.parse(
            text,
            image_width=img.width,
            image_height=img.height,
            filename=img.original_filename,
            labelmap=data.get("labelmap"),
        )
    except formats.AnnotationFormatError as exc:
        raise InvalidInput(f"{name}: {exc}") from None
    services.import_annotation(
        image=img, actor=caller.actor, boxes=boxes, overwrite=bool(params.boolean(request.GET, "overwrite"))
    )
    return JsonResponse({"success": True})


# --- documentation ---------------------------------------------------------------------


def openapi_json(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return error("Use GET.", 405)
    server = request.build_absolute_uri(reverse("api-root")).rstrip("/")
    return JsonResponse(openapi_schema(server), json_dumps_params={"indent": 1})


def reference(request: HttpRequest) -> HttpResponse:
    """The API reference, a readable page built from the OpenAPI description."""
    server = request.build_absolute_uri(reverse("api-root")).rstrip("/")
    schema = openapi_schema(server)
    operations = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            shared = schema["components"]["parameters"]
            params = [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p for p in params]
            operations.append({"method": method.upper(), "path": path, "op": op, "params": params})
    return render(request, "boards/api_reference.html", {"schema": schema, "operations": operations, "server": server})
