"""Account pages beyond login: the workspace's API keys."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.models import ApiKey, ApiScope, Workspace
from core import params
from core.errors import ServiceError

SCOPE_HINTS = {
    ApiScope.READ: "see the workspace, projects, batches, jobs and images",
    ApiScope.UPLOAD: "upload images",
    ApiScope.ANNOTATE: "import annotations, tag images, submit and review batches",
    ApiScope.MANAGE: "assign and move batches, create jobs, delete images",
}


def _workspace_for_keys(user, slug: str) -> Workspace:
    """The workspace, if the user may manage its keys: 404 for outsiders, 403 for other members."""
    try:
        workspace = Workspace.objects.get(slug=slug)
    except Workspace.DoesNotExist:
        raise Http404("No such workspace.") from None
    if user.role_in(workspace.pk) is None:
        raise Http404("No such workspace.")
    if not user.has_perm("accounts.manage_api_keys", workspace):
        raise PermissionDenied("Only the workspace's owners and managers manage its API keys.")
    return workspace


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest, ws: str) -> HttpResponse:
    workspace = _workspace_for_keys(request.user, ws)
    context = {"workspace": workspace, "scopes": [(s.value, s.label, SCOPE_HINTS[s]) for s in ApiScope]}
    status = 200
    if request.method == "POST":
        try:
            key, raw = services.create_api_key(
                workspace=workspace,
                actor=request.user,
                name=params.text(request.POST, "name", label="The key's name", limit=100),
                scopes=params.texts(request.POST, "scopes", label="A scope", limit=20, count=10),
            )
        except ServiceError as exc:
            context.update(error=exc.message, name=request.POST.get("name", "").replace("\x00", ""))
            status = exc.status
        else:
            # Rendered, not redirected: the raw key is never stored anywhere, not even in the session.
            context.update(new_key=key, raw_key=raw)
            status = 201
    context["keys"] = (
        ApiKey.objects.filter(workspace=workspace).select_related("created_by").order_by("revoked_at", "-created_at")
    )
    return render(request, "accounts/api_keys.html", context, status=status)


@login_required
@require_POST
def revoke_api_key(request: HttpRequest, ws: str, key_id: int) -> HttpResponse:
    workspace = _workspace_for_keys(request.user, ws)
    try:
        key = ApiKey.objects.select_related("workspace").get(pk=key_id, workspace=workspace)
    except ApiKey.DoesNotExist:
        raise Http404("No such key.") from None
    services.revoke_api_key(key=key, actor=request.user)
    messages.success(request, f"Revoked “{key.name}” ({key.prefix}…). Scripts using it now get 401.")
    return redirect("api-keys", ws=workspace.slug)
