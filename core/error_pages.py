"""The app's error answers: a refused or missing page says why, in the app's layout, with a way back.

``handler403`` and ``handler404`` (config/urls.py) answer ``PermissionDenied`` and
``Http404``; ``core.middleware.ServiceErrorMiddleware`` answers the services'
errors (``NotAllowed``, ``NotFound``, ``WrongState``...). All go through
``error_response``: a page for people, a toast for htmx, JSON for scripts. Under
/api/, ``boards.middleware.ApiErrorMiddleware`` answers first, in the API's JSON.

The way back names only what the person may see: a project or batch is offered
only to members of its workspace, so an error page never tells an outsider
that another workspace's project exists.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django_htmx.http import trigger_client_event

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
        return JsonResponse({"error": {"message": message, "type": code}}, status=status)
    context = {"message": message, "status": status, "way_back": way_back(request)}
    return render(request, TEMPLATES.get(status, "error.html"), context, status=status)


def way_back(request: HttpRequest) -> list[tuple[str, str]]:
    """Links (address, label) to the batch and project the request was about, those the user may see."""
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if match is None or user is None or not user.is_authenticated:
        return []
    ws, project_slug = match.kwargs.get("ws"), match.kwargs.get("project")
    if not ws or not project_slug:
        return []
    from boards import selectors

    try:
        project = selectors.project_for(user, ws, project_slug)
    except (Http404, PermissionDenied):
        return []
    links = []
    batch_id = match.kwargs.get("batch_id")
    if batch_id is not None:
        try:
            batch = selectors.batch_in(project, batch_id)
        except Http404:
            pass
        else:
            links.append((reverse("batch", args=[ws, project_slug, batch.pk]), f"Back to the batch “{batch.name}”"))
    links.append((reverse("board", args=[ws, project_slug]), f"Back to the board of {project.name}"))
    return links
