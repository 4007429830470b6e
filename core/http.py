"""The app's few HTTP answers that pages, scripts and the API share: one JSON error body, one file download.

Every JSON error, from the API, the editor's autosave or a page asked for JSON,
is ``{"error": {"message": ..., "type": ...}}``: the shape Roboflow's REST API
answers with, so its Python client reads our errors (it crashes on a bare
string). Callers differ only in which ``type`` they name, so they pass it.
"""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import content_disposition_header

# Stored files are content-addressed: a name never gets other bytes, so a browser may keep them.
IMMUTABLE = "private, max-age=31536000, immutable"


def json_error(message: str, status: int, code: str = "invalid") -> JsonResponse:
    """The one JSON error body; ``code`` is its ``type``, which scripts branch on."""
    return JsonResponse({"error": {"message": message, "type": code}}, status=status)


def serve_file(
    name: str, *, cache_control: str = IMMUTABLE, redirect: bool = False, download_name: str = ""
) -> HttpResponse:
    """Stream a stored file with the content type its name implies; 404 when storage has lost it.

    Callers check who may see the file first; this only reads it. The file is
    streamed, never read into memory, and closed when the response is. With
    ``redirect`` and files in an object store (``SERVE_ORIGINALS_BY_REDIRECT``), the
    answer is instead a redirect to a presigned URL of the file, valid
    ``S3_URL_SECONDS``: the bytes go from the store to the browser, not through the app.
    A ``download_name`` makes it a download under that name, either way.
    """
    if redirect and settings.SERVE_ORIGINALS_BY_REDIRECT:
        parameters = None
        if download_name:
            parameters = {"ResponseContentDisposition": content_disposition_header(True, download_name)}
        response = HttpResponseRedirect(default_storage.url(name, parameters=parameters))
        # Kept a little while (well within the URL's life), unless the caller says it may not be kept.
        brief = f"private, max-age={max(0, min(60, settings.S3_URL_SECONDS // 2))}"
        keep_not = any(word in cache_control for word in ("no-store", "no-cache", "max-age=0"))
        response["Cache-Control"] = cache_control if keep_not else brief
        return response
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The image file is missing from storage.") from None
    response = FileResponse(
        handle,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        as_attachment=bool(download_name),
        filename=download_name,
    )
    response["Cache-Control"] = cache_control
    return response
