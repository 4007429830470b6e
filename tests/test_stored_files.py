"""Stored files: written whole or not at all, trusted only when their bytes match, cleaned up when orphaned.

Uploads write an image's original and thumbnail at content-addressed names
before the rows are committed. A process killed mid-write must not leave a
torn file that a later upload trusts; one killed before the commit leaves
files that ``cleanup_files`` removes; a storage that refuses writes gives the
uploader a clear error and keeps nothing.
"""

import errno
import hashlib
import io
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage

from boards import services
from boards.models import Batch, BatchEvent, Image
from tests.api_support import error_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def photo(seed: int, size=(640, 480)) -> bytes:
    """A camera-like JPEG: noisy, so it does not compress to nothing."""
    out = io.BytesIO()
    PILImage.effect_noise(size, 40 + seed).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def content_address(project, data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    return f"images/{project.pk}/{sha[:2]}/{sha}.jpg", f"thumbs/{project.pk}/{sha[:2]}/{sha}.jpg"


def put(name: str, data: bytes) -> str:
    path = default_storage.path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Path(path).write_bytes(data)
    return path


def media_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def upload_url(project) -> str:
    return reverse("upload", args=[project.workspace.slug, project.slug])


def browser_upload(client, project, files, *, json=True):
    headers = {"Accept": "application/json"} if json else {}
    return client.post(upload_url(project), {"files": files}, headers=headers)


# --- torn and foreign files at the content address ---------------------------------


def test_a_torn_empty_original_is_replaced_by_the_next_upload_of_that_image(client, manager, project):
    data = photo(1)
    original, thumb = content_address(project, data)
    put(original, b"")  # a process was killed between creating the file and writing it
    put(thumb, b"")
    client.force_login(manager)

    response = browser_upload(client, project, [SimpleUploadedFile("IMG_0001.jpg", data)])

    assert response.status_code == 201, response.content
    image = Image.objects.get()
    assert image.file.name == original
    assert body(client.get(reverse("image-file", args=[image.pk, "original"]))) == data
    served_thumb = PILImage.open(io.BytesIO(body(client.get(reverse("image-file", args=[image.pk, "thumb"])))))
    assert served_thumb.size == (256, 192)


def test_a_half_written_original_is_replaced_through_the_api_too(api, project):
    data = photo(2)
    original, _thumb = content_address(project, data)
    put(original, data[: len(data) // 2])

    response = api.upload("parcels", SimpleUploadedFile("truck.jpg", data), name="truck.jpg")

    assert response.status_code == 200, response.content
    image = Image.objects.get(pk=int(response.json()["id"]))
    with default_storage.open(image.file.name) as stored:
        assert stored.read() == data


def test_a_file_with_the_same_bytes_is_kept_and_made_fresh_for_cleanup(project, manager):
    data = photo(3)
    original, _thumb = content_address(project, data)
    path = put(original, data)
    os.utime(path, (time.time() - 3 * 86400,) * 2)
    inode = os.stat(path).st_ino

    services.upload_images(project=project, actor=manager, files=[SimpleUploadedFile("a.jpg", data)])

    assert os.stat(path).st_ino == inode  # not written again
    assert time.time() - os.stat(path).st_mtime < 60  # but inside cleanup_files's grace period again


def test_a_file_that_vanishes_before_the_upload_commits_is_written_again(project, manager, monkeypatch):
    # The file was at its address when the upload looked (so it was not written), then a
    # failed upload of the same image, a deletion or cleanup_files removed it before the commit.
    data = photo(4)
    original, thumb = content_address(project, data)
    put(original, data)
    real_create = Image.objects.bulk_create

    def remove_then_create(*args, **kwargs):
        default_storage.delete(original)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(Image.objects, "bulk_create", remove_then_create)

    services.upload_images(project=project, actor=manager, files=[SimpleUploadedFile("a.jpg", data)])

    image = Image.objects.get()
    with default_storage.open(image.file.name) as stored:
        assert stored.read() == data
    assert default_storage.exists(thumb)


def test_files_of_a_deleted_batch_stay_when_a_new_row_names_them(project, manager, django_capture_on_commit_callbacks):
    data = photo(5)
    first = services.upload_images(project=project, actor=manager, files=[SimpleUploadedFile("a.jpg", data)])
    original, _thumb = content_address(project, data)
    with django_capture_on_commit_callbacks(execute=True):  # the file removal runs after the commit
        services.delete_batch(batch=first.batch, actor=manager)
        # The same image uploaded again before the deletion's files are removed (after its commit).
        image = Image.objects.create(
            project=project,
            sha256=hashlib.sha256(data).hexdigest(),
            width=640,
            height=480,
            original_filename="a.jpg",
            file=original,
        )
    assert Image.objects.filter(pk=image.pk).exists()
    assert default_storage.exists(original)


# --- a process killed mid-write ------------------------------------------------------

KILLED_WRITER = """
import io, os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from boards import services

class Stalls(io.RawIOBase):
    # A slow client's upload: the first megabyte arrives, then nothing.
    def __init__(self):
        self.sent = False
    def readable(self):
        return True
    def seek(self, offset, whence=0):
        return 0
    def read(self, n=-1):
        if not self.sent:
            self.sent = True
            return b"\\xff\\xd8\\xff\\xe0" + b"x" * (1024 * 1024)
        print("half-written", flush=True)
        time.sleep(60)
        return b""

services._write_file((sys.argv[1], Stalls()))
"""


def test_a_process_killed_mid_write_leaves_no_torn_file_at_the_content_address(tmp_path):
    name = "images/7/ab/" + "ab" * 32 + ".jpg"
    env = {**os.environ, "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER.format(root=str(ROOT)))
    writer = subprocess.Popen([sys.executable, str(script), name], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert writer.stdout.readline().strip() == b"half-written"
        folder = Path(default_storage.path(name)).parent
        assert any(p.stat().st_size > 0 for p in folder.iterdir())  # the bytes so far are on disk
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)

    assert not default_storage.exists(name)  # never a torn file at the name an upload would trust
    leftovers = list(Path(default_storage.path(name)).parent.iterdir())
    assert [p.name.endswith(".part") for p in leftovers] == [True]

    call_command("cleanup_files", "--grace-hours", "0", stdout=io.StringIO())
    assert media_files() == []


# --- a process killed between the file writes and the commit -------------------------


class Killed(BaseException):
    """Stands for the process dying: no ``except Exception`` sees it."""


def test_cleanup_files_removes_what_a_request_that_never_committed_left(project, manager, monkeypatch):
    kept = services.upload_images(project=project, actor=manager, files=[SimpleUploadedFile("kept.jpg", photo(4))])
    kept_image = Image.objects.get(placement__batch=kept.batch)

    def die(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patched:
        # the process is gone: no clean-up
        patched.setattr(services.uploads, "_delete_unreferenced", lambda names: None)
        patched.setattr(Image.objects, "bulk_create", die)
        with pytest.raises(Killed):
            services.upload_images(
                project=project,
                actor=manager,
                files=[SimpleUploadedFile("lost1.jpg", photo(5)), SimpleUploadedFile("lost2.jpg", photo(6))],
            )
    referenced = {kept_image.file.name, kept_image.thumbnail.name}
    orphans = set(media_files()) - referenced
    assert len(orphans) == 4 and Image.objects.count() == 1
    part = put(f"images/{project.pk}/00/.{'0' * 64}.jpg.1a2b3c4d.part", b"\xff\xd8 cut off")
    orphans.add(str(Path(part).relative_to(settings.MEDIA_ROOT)))

    out = io.StringIO()
    call_command("cleanup_files", stdout=out)  # everything is younger than the default grace period
    assert set(media_files()) == referenced | orphans
    assert "Deleted 0 files" in out.getvalue() and "Left 5 newer files" in out.getvalue()

    two_days_ago = time.time() - 2 * 86400
    for name in media_files():
        os.utime(default_storage.path(name), (two_days_ago, two_days_ago))

    out = io.StringIO()
    call_command("cleanup_files", "--dry-run", stdout=out)
    assert set(media_files()) == referenced | orphans
    assert all(f"would delete {name}" in out.getvalue() for name in orphans)
    assert "Would delete 5 files" in out.getvalue()

    out = io.StringIO()
    call_command("cleanup_files", stdout=out)
    assert set(media_files()) == referenced
    assert "Deleted 5 files" in out.getvalue()
    assert body_of_stored(kept_image.file.name)[:2] == b"\xff\xd8"


def body_of_stored(name: str) -> bytes:
    with default_storage.open(name) as stored:
        return stored.read()


# --- a storage that refuses writes ---------------------------------------------------

REFUSALS = {
    "full": (OSError(errno.ENOSPC, "No space left on device"), "storage is full"),
    "quota": (OSError(errno.EDQUOT, "Disk quota exceeded"), "storage is full"),
    "read-only": (OSError(errno.EROFS, "Read-only file system"), "does not accept writes"),
    "no permission": (PermissionError(errno.EACCES, "Permission denied"), "does not accept writes"),
}


@pytest.fixture(params=list(REFUSALS))
def refusing_storage(request, monkeypatch):
    """The storage takes the first two files whole, then fails half-way through each write."""
    error, message = REFUSALS[request.param]
    calls = itertools.count()
    copy = services._copy

    def copy_then_fail(content, handle):
        if next(calls) < 2:
            return copy(content, handle)
        handle.write(b"\xff\xd8\xff\xe0 half")
        handle.flush()
        raise error

    monkeypatch.setattr(services.files, "_copy", copy_then_fail)
    return message


def assert_nothing_kept():
    assert not Batch.objects.exists()
    assert not Image.objects.exists()
    assert not BatchEvent.objects.exists()
    assert media_files() == []  # neither whole files of this request nor half-written ones


def test_a_refusing_storage_fails_a_browser_upload_clearly_and_keeps_nothing(
    client, manager, project, refusing_storage
):
    client.force_login(manager)
    files = [SimpleUploadedFile(f"IMG_{n}.jpg", photo(10 + n)) for n in range(3)]

    response = browser_upload(client, project, files)

    assert response.status_code == 507
    message = response.json()["error"]["message"]
    assert refusing_storage in message and "Nothing from this upload was kept" in message
    assert_nothing_kept()


def test_a_refusing_storage_shows_the_reason_on_the_upload_page(client, manager, project, refusing_storage):
    client.force_login(manager)
    files = [SimpleUploadedFile(f"IMG_{n}.jpg", photo(20 + n)) for n in range(2)]

    response = browser_upload(client, project, files, json=False)

    assert response.status_code == 507
    assert refusing_storage in response.content.decode()
    assert_nothing_kept()


def test_a_refusing_storage_fails_an_api_upload_clearly_and_keeps_nothing(api, project, monkeypatch):
    monkeypatch.setattr(
        services.files, "_copy", lambda content, handle: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
    )

    response = api.upload(
        "parcels", SimpleUploadedFile("truck.jpg", photo(30)), name="truck.jpg", params={"batch": "b"}
    )

    assert response.status_code == 507
    assert "storage is full" in error_of(response)["message"]
    assert error_of(response)["type"] == "storage"
    assert_nothing_kept()


def test_no_room_to_turn_a_photo_upright_is_507_and_keeps_nothing(client, manager, project, monkeypatch):
    from boards import imaging
    from tests.test_orientation import camera_jpeg

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(imaging.tempfile, "TemporaryFile", full)
    client.force_login(manager)
    files = [SimpleUploadedFile("upright.jpg", photo(6)), SimpleUploadedFile("turned.jpg", camera_jpeg(6))]

    response = browser_upload(client, project, files)

    assert response.status_code == 507
    assert "no room for temporary files" in response.json()["error"]["message"]
    assert_nothing_kept()
