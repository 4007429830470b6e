"""Who and what each log line is about: the request id, the user and the workspace.

``RequestContextMiddleware`` (the outermost middleware) gives every request an id (the
``X-Request-ID`` a proxy sent, when it is a sane token, else a new one), answers with it in the
same header, and keeps it with the user and the workspace in context variables that
``ContextFilter`` copies onto every log record written while the request runs. The user is known
once authentication has run (or, for the API, once the key is read: ``bind``), the workspace once
the URL names one. With ``LOG_FORMAT=json`` each record is one JSON object carrying them
(``config/settings.py``), and each request ends with one ``request`` line: method, path, status,
duration.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

log = logging.getLogger("batchboard.request")

_NONE = {"request_id": None, "user": None, "workspace": None}
_context: ContextVar[dict] = ContextVar("batchboard_log_context", default=_NONE)
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def bind(**values) -> None:
    """Add to what this request's log lines say (``user``, ``workspace``)."""
    _context.set(_context.get() | values)


class ContextFilter(logging.Filter):
    """Puts the request id, user and workspace on each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _request_id(request: HttpRequest) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if SANE_ID.fullmatch(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request)
        request.request_id = request_id
        # Kept until the response is closed (``_forget``), not only while the middleware runs:
        # Django logs an error answer after the last middleware has returned.
        _context.set({"request_id": request_id, "user": None, "workspace": None})
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    def process_view(self, request: HttpRequest, view, args, kwargs) -> None:
        # Runs after every middleware's request phase, authentication included.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bind(user=user.pk)
        if isinstance(kwargs.get("ws"), str):
            bind(workspace=kwargs["ws"])


def _forget(**kwargs) -> None:
    _context.set(_NONE)


request_finished.connect(_forget, dispatch_uid="batchboard-requestlog-forget")
