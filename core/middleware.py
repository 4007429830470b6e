"""Domain errors that escape an HTML view become their status and message, not a 500.

Views catch the errors they can answer in place (a refused move re-renders the
board); the rest, most often a request parameter ``core.params`` cannot read,
end here and are answered as ``core.error_pages`` answers a 403 or 404: a page
in the app's layout, a toast for htmx, JSON for scripts. The API answers its own
errors in its JSON shape (``boards.api.api`` and
``boards.middleware.ApiErrorMiddleware``), so /api/ is left alone.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core.error_pages import error_response
from core.errors import ServiceError


class ServiceErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ServiceError) or request.path_info.startswith("/api"):
            return None
        return error_response(request, exception.message, exception.status, exception.code)
