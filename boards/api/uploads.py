"""Endpoints that bring images and annotation files in: upload and annotate."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from boards import formats, selectors, services, upload_requests
from boards.api.auth import (
    ANNOTATE,
    UPLOAD,
    Caller,
    _project,
    api,
)
from core import params
from core.errors import InvalidInput, TooLarge


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
    img = selectors.image_of(obj, image_id)
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
