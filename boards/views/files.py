"""Image files, served to members of their workspace."""

from __future__ import annotations

import mimetypes

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
)

from boards import selectors


@login_required
def image_file(request: HttpRequest, image_id: int, kind: str) -> HttpResponse:
    """An image's original or thumbnail, for members of its workspace only."""
    image = selectors.image_for(request.user, image_id)
    if kind not in ("original", "thumb"):
        raise Http404
    name = image.file.name if kind == "original" else (image.thumbnail.name or image.file.name)
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The image file is missing from storage.") from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Content-addressed paths never change, so the browser may keep them.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
