"""Image files, served to members of their workspace."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)

from boards import selectors
from core.http import serve_file


@login_required
def image_file(request: HttpRequest, image_id: int, kind: str) -> HttpResponse:
    """An image's original or thumbnail, for members of its workspace only."""
    image = selectors.image_for(request.user, image_id)
    if kind not in ("original", "thumb"):
        raise Http404
    return serve_file(image.stored_name(kind), redirect=kind == "original")
