"""Domain errors that escape an HTML view become their status and message, not a 500.

Views catch the errors they can answer in place (a refused move re-renders the
board); the rest, most often a request parameter ``core.params`` cannot read,
end here. The API answers its own errors in its JSON shape
(``boards.api.api`` and ``boards.middleware.ApiErrorMiddleware``), so /api/ is left alone.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_htmx.http import trigger_client_event

from boards.errors import ServiceError


class ServiceErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ServiceError) or request.path_info.startswith("/api"):
            return None
        if getattr(request, "htmx", False):
            # Leave the page as it is and say why in a toast.
            response = HttpResponse(
                exception.message, status=exception.status, content_type="text/plain; charset=utf-8"
            )
            response["HX-Reswap"] = "none"
            return trigger_client_event(response, "toast", {"message": exception.message, "level": "error"})
        if "application/json" in request.headers.get("Accept", ""):
            body = {"error": {"message": exception.message, "type": exception.code}}
            return JsonResponse(body, status=exception.status)
        return render(request, "error.html", {"message": exception.message}, status=exception.status)
