"""Who is calling: the API key (lookup, bad-key lockout, rate limit), the ``api`` decorator, errors.

A workspace API key authenticates every call (``?api_key=`` or ``Authorization: Bearer``); the
key's creator is the actor, so a call needs both the key's scope and that person's role.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.models import ApiKey, ApiScope, User, Workspace, hash_api_key
from accounts.throttle import api_key_lockout, client_ip, record_bad_api_key
from boards.models import Project
from core import params, requestlog
from core.errors import InvalidInput, NotAllowed, NotFound, ServiceError
from core.http import json_error

log = logging.getLogger("boards.api")

READ, UPLOAD, ANNOTATE, MANAGE = (s.value for s in ApiScope)
ERROR_TYPES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}
LAST_USED_EVERY = timedelta(minutes=1)


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


def error(message: str, status: int, type_: str | None = None) -> JsonResponse:
    """``core.http.json_error`` with the API's type for each status, so a script can branch on it."""
    return json_error(message, status, type_ or ERROR_TYPES.get(status, "error"))


@dataclass
class Caller:
    key: ApiKey
    workspace: Workspace
    actor: User

    def require(self, scope: str) -> None:
        if not self.key.has_scope(scope):
            raise NotAllowed(f"This API key lacks the “{scope}” scope; a workspace manager can create one that has it.")


def _raw_key(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.GET.get("api_key", "").strip()


def _authenticate(request: HttpRequest) -> Caller:
    raw = _raw_key(request)
    if not raw:
        raise Unauthorized("No API key: pass ?api_key=… or an “Authorization: Bearer …” header.")
    key = ApiKey.objects.select_related("workspace", "created_by").filter(key_hash=hash_api_key(raw)).first()
    if key is None or key.revoked_at is not None:
        record_bad_api_key(client_ip(request))
    if key is None:
        raise Unauthorized("This API key is not valid.")
    if key.revoked_at is not None:
        raise Unauthorized("This API key was revoked.")
    actor = key.created_by
    if actor is None or not actor.is_active:
        raise Unauthorized("The person who created this API key is no longer active; create a new key.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Caller(key=key, workspace=key.workspace, actor=actor)


def _bad_keys_refused(request: HttpRequest) -> JsonResponse | None:
    """429 for any key while the client is locked out for sending too many bad ones."""
    if not _raw_key(request):
        return None
    wait = api_key_lockout(client_ip(request))
    if not wait:
        return None
    response = error(f"Too many requests with an invalid API key from your address; try again in {wait} s.", 429)
    response["Retry-After"] = str(wait)
    return response


def _wait_seconds(key: ApiKey) -> int:
    """0 while the key is within its rate limit, else the seconds until the next window."""
    limit, window = settings.API_RATE_LIMIT, max(1, settings.API_RATE_WINDOW)
    if limit <= 0:
        return 0
    now = time.time()
    slot = int(now // window)
    name = f"api-rate:{key.pk}:{slot}"
    cache.add(name, 0, timeout=window + 1)
    try:
        used = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=window + 1)
        used = 1
    if used <= limit:
        return 0
    return max(1, math.ceil((slot + 1) * window - now))


def api(scopes: dict[str, str | None]):
    """Decorate an API view: methods (with the scope each needs), key, rate limit, workspace, errors.

    The view gets ``(request, caller, **kwargs)``; a ``ws`` path argument is
    checked against the key's workspace (another workspace is 404) and dropped.
    """

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in scopes:
                response = error(f"{request.method} is not allowed here; use {' or '.join(scopes)}.", 405)
                response["Allow"] = ", ".join(scopes)
                return response
            try:
                if refused := _bad_keys_refused(request):
                    return refused
                caller = _authenticate(request)
                requestlog.bind(user=caller.actor.pk, workspace=caller.workspace.slug)
                wait = _wait_seconds(caller.key)
                if wait:
                    response = error(f"Too many requests for this key; try again in {wait} s.", 429)
                    response["Retry-After"] = str(wait)
                    return response
                ws = kwargs.pop("ws", None)
                if ws is not None and ws != caller.workspace.slug:
                    raise NotFound("No such workspace for this API key.")
                if caller.actor.role_in(caller.workspace.pk) is None:
                    raise NotAllowed("The person who created this API key is no longer a member of the workspace.")
                if scopes[request.method]:
                    caller.require(scopes[request.method])
                return view(request, caller, *args, **kwargs)
            except ServiceError as exc:
                return error(exc.message, exc.status, exc.code)
            except Http404 as exc:
                return error(str(exc) or "Not found.", 404)
            except RequestDataTooBig:
                return error("The request body is too large.", 413)

        return wrapper

    return decorate


# --- reading requests --------------------------------------------------------------


def _project(caller: Caller, slug: str) -> Project:
    try:
        project = Project.objects.get(workspace=caller.workspace, slug=slug)
    except Project.DoesNotExist:
        raise NotFound(f"There is no project “{slug}” in workspace “{caller.workspace.slug}”.") from None
    project.workspace = caller.workspace
    return project


def _member(caller: Caller, data, field: str, what: str, *, required: bool = False) -> User | None:
    """The active member of the caller's workspace whose email ``data[field]`` names; None when it names
    nobody (absent, null or blank) and may. Text only: another type is a 400, not "nobody"."""
    email = params.text(data, field, required=required, limit=254)
    if not email:
        return None
    user = User.objects.filter(email__iexact=email, memberships__workspace=caller.workspace, is_active=True).first()
    if user is None:
        raise InvalidInput(f"No member of this workspace has the {what} email “{email}”.")
    return user
