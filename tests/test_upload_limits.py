"""An upload request is held to MAX_UPLOAD_REQUEST_BYTES and to bounded memory.

Over the limit, browser and API uploads answer 413 with the limit in the
message, before the body is read. A request whose body runs past what it
declared is stopped by the upload handler. Large requests are parsed into
temporary files and each file is processed and stored from its file object,
so a request holds a bounded amount in memory however large its files are.
"""

import gc
import io
import os
import tracemalloc

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from django.test.client import encode_multipart
from django.urls import reverse
from PIL import Image as PILImage

from boards import views
from boards.models import Batch, Image
from boards.upload_requests import RequestSizeLimit
from core.errors import TooLarge
from tests.api_support import error_of

pytestmark = pytest.mark.django_db

BOUNDARY_TYPE = "multipart/form-data; boundary=BoUnDaRy"


def photo(seed: int, size=(320, 240)) -> bytes:
    out = io.BytesIO()
    PILImage.effect_noise(size, 30 + seed).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def motion_photo(seed: int, video_bytes: int) -> bytes:
    """A phone's "motion photo": a JPEG with a short MP4 appended after its end marker."""
    return photo(seed) + b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(video_bytes)


def upload_url(project) -> str:
    return reverse("upload", args=[project.workspace.slug, project.slug])


def files(n, start=0):
    return [SimpleUploadedFile(f"IMG_{start + i:04}.jpg", photo(start + i)) for i in range(n)]


@pytest.fixture
def limit(settings):
    settings.MAX_UPLOAD_REQUEST_BYTES = 60_000
    return settings.MAX_UPLOAD_REQUEST_BYTES


def test_a_browser_upload_over_the_request_limit_is_refused_with_413(client, manager, project, limit):
    client.force_login(manager)

    response = client.post(upload_url(project), {"files": files(4)}, headers={"Accept": "application/json"})

    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "over the limit of 0.1 MB per request" in message and "several smaller requests" in message
    assert not Batch.objects.exists() and not Image.objects.exists()


def test_the_upload_page_says_why_it_refused(client, manager, project, limit):
    client.force_login(manager)

    response = client.post(upload_url(project), {"files": files(4)})

    assert response.status_code == 413
    assert "over the limit of 0.1 MB per request" in response.content.decode()
    assert not Image.objects.exists()


def test_an_upload_under_the_limit_lands(client, manager, project, limit):
    client.force_login(manager)

    response = client.post(upload_url(project), {"files": files(1)}, headers={"Accept": "application/json"})

    assert response.status_code == 201
    assert Image.objects.count() == 1


def test_the_limit_is_checked_before_the_body_is_read(client, manager, project, limit):
    client.force_login(manager)
    body = encode_multipart("BoUnDaRy", {"files": files(4)})

    class Unread(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    response = client.generic(
        "POST",
        upload_url(project),
        b"",
        content_type="multipart/form-data; boundary=BoUnDaRy",
        headers={"Accept": "application/json"},
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": Unread(body)},
    )

    assert response.status_code == 413


def test_an_api_upload_over_the_request_limit_is_refused_with_413(api, project, limit):
    big = SimpleUploadedFile("truck.jpg", motion_photo(1, 80_000))

    response = api.upload("parcels", big, name="truck.jpg")

    assert response.status_code == 413
    error = error_of(response)
    assert error["type"] == "too_large" and "over the limit of 0.1 MB per request" in error["message"]
    assert not Image.objects.exists()


def test_a_body_that_runs_past_its_declared_length_is_stopped(settings, tmp_path):
    """A front end that passes a chunked or lying body on unchecked: the handler counts what arrives."""
    settings.MAX_UPLOAD_REQUEST_BYTES = 100_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    body = encode_multipart("BoUnDaRy", {"files": [SimpleUploadedFile("v.jpg", motion_photo(2, 300_000))]})
    request = RequestFactory().post("/", body, content_type=BOUNDARY_TYPE)
    request.upload_handlers.insert(0, RequestSizeLimit(request))
    meta = {**request.META, "CONTENT_LENGTH": "50000"}  # the declared length is under the limit

    parser = MultiPartParser(meta, io.BytesIO(body), request.upload_handlers)
    with pytest.raises(TooLarge, match="over the limit of 0.1 MB per request"):
        parser.parse()
    assert list(tmp_path.iterdir()) == []  # the temporary file it was spooling to is gone


def test_the_upload_still_checks_the_csrf_token(manager, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    page = client.get(upload_url(project))
    token = page.context["csrf_token"]

    refused = client.post(upload_url(project), {"files": files(1)})
    accepted = client.post(upload_url(project), {"files": files(1), "csrfmiddlewaretoken": str(token)})

    assert refused.status_code == 403
    assert accepted.status_code == 201
    assert Image.objects.count() == 1


def test_a_large_request_is_stored_from_temporary_files_in_bounded_memory(manager, project, settings, tmp_path):
    """Six 4 MB motion photos in one request: memory follows the copy buffer, not the 24 MB sent."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    sent = [motion_photo(n, 4 * 1024 * 1024) for n in range(6)]
    body = encode_multipart("BoUnDaRy", {"files": [SimpleUploadedFile(f"PXL_{n}.jpg", d) for n, d in enumerate(sent)]})
    request = RequestFactory().post(
        upload_url(project), body, content_type=BOUNDARY_TYPE, headers={"Accept": "application/json"}
    )
    request.user = manager
    request._dont_enforce_csrf_checks = True
    del body
    gc.collect()

    tracemalloc.start()
    try:
        response = views.upload(request, ws=project.workspace.slug, project=project.slug)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 201, response.content
    assert peak < 8 * 1024 * 1024, f"the request allocated {peak / 1e6:.1f} MB at its peak"
    stored = {i.original_filename: i.file.name for i in Image.objects.all()}
    for n, data in enumerate(sent):
        with default_storage.open(stored[f"PXL_{n}.jpg"]) as handle:
            assert handle.read() == data
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE < 24 * 1024 * 1024
