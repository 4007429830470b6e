"""Template context the pages share."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from boards import selectors


def way_back(request: HttpRequest) -> dict:
    """``way_back``: links to the batch and project the request was about, for the error pages.

    Lazy: only a page that shows the links (``error.html``) reads the project and batch.
    """
    return {"way_back": SimpleLazyObject(lambda: _links(request))}


def _links(request: HttpRequest) -> list[tuple[str, str]]:
    """Links (address, label) to the batch and project of the request, those the user may see.

    A project or batch is offered only to members of its workspace, so an error
    page never tells an outsider that another workspace's project exists.
    """
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if match is None or user is None or not user.is_authenticated:
        return []
    ws, project_slug = match.kwargs.get("ws"), match.kwargs.get("project")
    if not ws or not project_slug:
        return []
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
