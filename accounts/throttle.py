"""Throttling guesses: failed logins (through django-axes) and bad API keys.

Both are counted in the database, so every server process and host sees the
same counts. The client is known by its address (``client_ip``), read safely
behind the documented TLS proxy.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Max, Q, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import ApiKeyFailure


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost of them was connected from.

    Each trusted proxy appends the address it saw to ``X-Forwarded-For``, so the
    client is the n-th entry from the right; what a client writes into the
    header itself stays on the left and is never read.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count and (address := _address(hops[-count])):
            return address
    return _address(request.META.get("REMOTE_ADDR", ""))


# --- logins (the callables named by the AXES_* settings) ---------------------------------------


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a login tries, as the login matches it (case-insensitive email)."""
    source = credentials if credentials is not None else request.POST
    value = source.get(settings.AXES_USERNAME_FORM_FIELD) or ""
    return value.strip().lower() or None


def login_lockout_ends(request: HttpRequest, credentials: dict | None) -> datetime:
    """When the lockout of this login's account or address ends, at the latest."""
    from axes.models import AccessAttempt

    now = timezone.now()
    cool_off = settings.AXES_COOLOFF_TIME
    ends = now + cool_off
    latest = []
    for field, value in (("username", login_username(request, credentials)), ("ip_address", client_ip(request))):
        if value is None:
            continue
        counted = AccessAttempt.objects.filter(**{field: value}, attempt_time__gte=now - cool_off).aggregate(
            failures=Sum("failures_since_start"), last=Max("attempt_time")
        )
        if (counted["failures"] or 0) >= settings.AXES_FAILURE_LIMIT and counted["last"] is not None:
            latest.append(counted["last"] + cool_off)
    return max(latest) if latest else ends


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The app's own page for a locked-out login (the app's and the admin's): 429 with ``Retry-After``."""
    ends = login_lockout_ends(request, credentials)
    wait = max(1, math.ceil((ends - timezone.now()).total_seconds()))
    context = {
        "retry_at": ends,
        "retry_minutes": math.ceil(wait / 60),
        "login_url": request.path,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, "accounts/locked_out.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- API keys ----------------------------------------------------------------------------------


def _client_key(client: str | None) -> str:
    return client or "unknown"


def api_key_lockout(client: str | None) -> int:
    """Seconds until ``client`` may use the API again after too many bad keys; 0 if it may now."""
    if settings.API_KEY_FAILURE_LIMIT <= 0:
        return 0
    now = timezone.now()
    until = (
        ApiKeyFailure.objects.filter(client=_client_key(client), locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    return 0 if until is None else max(1, math.ceil((until - now).total_seconds()))


def record_bad_api_key(client: str | None) -> None:
    """Count one request with an unknown or revoked key; the one that reaches the limit locks the client."""
    limit = settings.API_KEY_FAILURE_LIMIT
    if limit <= 0:
        return
    client = _client_key(client)
    now = timezone.now()
    period = timedelta(seconds=max(1, settings.API_KEY_LOCKOUT_SECONDS))
    window_over = Q(window_started_at__lte=now - period)
    rows = ApiKeyFailure.objects.filter(client=client)
    with transaction.atomic():
        # One statement, so concurrent failures from many processes all count.
        counted = rows.update(
            failures=Case(When(window_over, then=Value(1)), default=F("failures") + 1),
            window_started_at=Case(When(window_over, then=Value(now)), default=F("window_started_at")),
        )
        if not counted:
            # A new client: forget those whose window and lockout are both over.
            ApiKeyFailure.objects.filter(window_started_at__lte=now - period).exclude(locked_until__gt=now).delete()
            try:
                with transaction.atomic():
                    ApiKeyFailure.objects.create(client=client, failures=1, window_started_at=now)
            except IntegrityError:  # another process created it first
                rows.update(failures=F("failures") + 1)
        # Locked: counting starts again when the lockout ends.
        rows.filter(failures__gte=limit).update(locked_until=now + period, failures=0, window_started_at=now + period)
