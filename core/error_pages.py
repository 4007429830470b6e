"""The app's error answers: a refused or missing page says why, in the app's layout, with a way back.

``handler403`` and ``handler404`` (config/urls.py) answer ``PermissionDenied`` and
``Http404``; ``core.middleware.ServiceErrorMiddleware`` answers the services'
errors (``NotAllowed``, ``NotFound``, ``WrongState``...). All go through
``error_response``: a page for people, a toast for htmx, JSON for scripts. Under
/api/, ``boards.middleware.ApiErrorMiddleware`` answers first, in the API's JSON.

The page offers a way back (``boards.context_processors.way_back``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import trigger_client_event

from core.http import json_error

TEMPLATES = {403: "403.html", 404: "404.html"}
CODES = {403: "forbidden", 404: "not_found"}
DEFAULT_MESSAGES = {
    403: "You do not have permission to open this page.",
    404: "There is no such page here. The address may be mistyped, or what it named was deleted.",
}


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: the refusal's own message ("This batch is assigned to someone else.")."""
    return error_response(request, _message(exception, 403), 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: "No such batch." where the view said so; never which workspace has it."""
    return error_response(request, _message(exception, 404), 404)


def _message(exception: Exception, status: int) -> str:
    # An unmatched URL's Resolver404 carries a dict of the patterns tried: not for people.
    message = exception.args[0] if exception is not None and exception.args else ""
    return message if isinstance(message, str) and message else DEFAULT_MESSAGES[status]


def error_response(request: HttpRequest, message: str, status: int, code: str | None = None) -> HttpResponse:
    code = code or CODES.get(status, "invalid")
    if getattr(request, "htmx", False):
        # Leave the page as it is and say why in a toast.
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        response["HX-Reswap"] = "none"
        return trigger_client_event(response, "toast", {"message": message, "level": "error"})
    if "application/json" in request.headers.get("Accept", ""):
        return json_error(message, status, code)
    # The links back to what the request was about come from the template context
    # (``boards.context_processors.way_back``): core knows nothing of boards.
    context = {"message": message, "status": status}
    return render(request, TEMPLATES.get(status, "error.html"), context, status=status)
