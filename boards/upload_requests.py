"""Reading an upload request's body within ``MAX_UPLOAD_REQUEST_BYTES``.

``read_upload(request)`` is called by the upload views before anything reads
the body. It refuses a request whose ``Content-Length`` is over the limit
without reading a byte of it, then parses the multipart body through
``RequestSizeLimit``, which counts the file bytes as they arrive and stops a
request that sends more than it declared or than the limit. Bodies over
``FILE_UPLOAD_MAX_MEMORY_SIZE`` are parsed into temporary files (Django's
handlers), so a request holds at most that much in memory however many
files it carries. Every refusal is a ``ServiceError`` with its HTTP status.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

from core.errors import InvalidInput, StorageRefused, TooLarge

log = logging.getLogger(__name__)


def _too_large(size: int | None = None) -> TooLarge:
    limit = settings.MAX_UPLOAD_REQUEST_BYTES
    what = f"The upload is {size / 1e6:,.1f} MB" if size is not None else "The upload is"
    return TooLarge(
        f"{what} over the limit of {limit / 1e6:,.1f} MB per request; send the files in several smaller requests."
    )


class RequestSizeLimit(FileUploadHandler):
    """First of the request's upload handlers: passes every chunk on, counting them against the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        if content_length > settings.MAX_UPLOAD_REQUEST_BYTES:
            raise _too_large(content_length)

    def new_file(self, *args, **kwargs):
        pass

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_REQUEST_BYTES:
            # The other handlers drop the temporary file they were writing.
            for handler in self.request.upload_handlers:
                if handler is not self:
                    handler.upload_interrupted()
            raise _too_large()
        return raw_data

    def file_complete(self, file_size):
        return None


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        raise InvalidInput("The Content-Length header is not a number.") from None


def read_upload(request: HttpRequest) -> None:
    """Parse an upload request's multipart body, within the limit; raise a ``ServiceError`` when it cannot be.

    Must run before anything touches ``request.POST`` or ``request.FILES``
    (the upload views are CSRF-exempt and check the token after this).
    """
    size = declared_length(request)
    if size > settings.MAX_UPLOAD_REQUEST_BYTES:
        raise _too_large(size)
    if request.content_type != "multipart/form-data" or hasattr(request, "_files"):
        return  # not multipart, or already parsed (within the Content-Length checked above)
    request.upload_handlers.insert(0, RequestSizeLimit(request))
    try:
        request.POST  # noqa: B018 - parses the body, and request.FILES with it
    except TooManyFilesSent:
        raise InvalidInput(f"Send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files in one request.") from None
    except RequestDataTooBig:
        raise TooLarge(
            f"The form fields beside the files are over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1e6:g} MB."
        ) from None
    except MultiPartParserError as exc:
        raise InvalidInput(f"The multipart body cannot be read ({exc}).") from None
    except UnreadablePostError:
        raise InvalidInput("The upload was cut off before the server received all of it; send it again.") from None
    except OSError as exc:
        # The temporary files a large upload is parsed into could not be written.
        log.error("Could not spool an upload to temporary files", exc_info=exc)
        raise StorageRefused(
            "The server has no room for this upload's temporary files; nothing was kept. "
            "Try again later, or send fewer files at once, and tell an administrator if it happens again."
        ) from None
