"""Under /api/, every answer that is an error is JSON in the API's one error shape."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

log = logging.getLogger("boards.api")

MESSAGES = {
    400: "The request is malformed.",
    403: "Forbidden.",
    404: "There is no such API endpoint; see /api/openapi.json.",
    405: "This method is not allowed here.",
    413: "The request is too large.",
    500: "Something went wrong on the server; the error was logged.",
}


class ApiErrorMiddleware:
    """Turns exceptions and non-JSON error pages under /api/ into ``{"error": {...}}``.

    The API views answer their own errors; this catches the rest: unknown
    URLs, malformed bodies, and bugs (a 500 that still speaks JSON and
    never shows a traceback page).
    """

    prefix = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def _applies(self, request: HttpRequest) -> bool:
        return request.path_info == "/api" or request.path_info.startswith(self.prefix)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            self._applies(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            from boards.api import error

            status = response.status_code
            replacement = error(MESSAGES.get(status, "The request failed."), status)
            for header in ("Allow", "Retry-After"):
                if response.has_header(header):
                    replacement[header] = response[header]
            return replacement
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._applies(request):
            return None
        from boards.api import error

        if isinstance(exception, Http404):
            return error(str(exception) or MESSAGES[404], 404)
        if isinstance(exception, PermissionDenied):
            return error(str(exception) or MESSAGES[403], 403)
        if isinstance(exception, RequestDataTooBig):
            return error(MESSAGES[413], 413)
        if isinstance(exception, SuspiciousOperation | MultiPartParserError):
            return error(f"{MESSAGES[400]} ({exception})", 400)
        log.exception("API error on %s %s", request.method, request.path)
        return error(MESSAGES[500], 500, "server_error")
