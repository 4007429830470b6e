"""Image names from the API keep no path: an export's members never climb out of their folder."""

import base64
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards.models import BatchStatus, Image, ReviewState
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes

pytestmark = pytest.mark.django_db

# (name sent, name stored); "" means a fallback name of Batchboard's choosing.
HOSTILE = [
    ("../../etc/passwd", "passwd"),
    ("images/..", ""),
    ("..", ""),
    (".", ""),
    ("  ", ""),
    ("a/b/../", ""),
    ("C:\\x\\y.jpg", "y.jpg"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("/abs/olute.jpg", "olute.jpg"),
    ("..jpg", "..jpg"),
]


def _stored(response) -> str:
    assert response.status_code == 200, response.content
    return Image.objects.get(pk=int(response.json()["id"])).original_filename


def _safe(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


@pytest.mark.parametrize(("sent", "kept"), HOSTILE)
def test_a_multipart_upload_keeps_only_the_last_part_of_the_name(sent, kept, api, project):
    file = SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")
    stored = _stored(api.upload("parcels", file, name=sent))
    assert _safe(stored)
    assert stored == (kept or "photo.jpg")


@pytest.mark.parametrize(("sent", "kept"), HOSTILE)
def test_a_base64_upload_keeps_only_the_last_part_of_the_name(sent, kept, api, project, client):
    body = base64.b64encode(jpeg_bytes())
    response = client.post(
        api._url("/dataset/parcels/upload", {"name": sent}), body, content_type="application/x-www-form-urlencoded"
    )
    stored = _stored(response)
    assert _safe(stored)
    assert stored == (kept or "image.jpg")


@pytest.mark.parametrize("fallback", ["..", ".", "images/.."])
def test_a_multipart_file_name_is_the_fallback_and_it_is_cleaned_too(fallback, api, project, client):
    # The multipart parser already drops folders from a file's own name; a hostile "name" field falls back to it.
    file = SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = client.post(api._url("/dataset/parcels/upload", {"name": fallback}), {"file": file, "name": fallback})
    assert _stored(response) == "photo.jpg"


@pytest.fixture
def old_rows(project):
    """Images stored before names were cleaned: their names as a careless client sent them."""
    batch = BatchFactory(project=project, status=BatchStatus.DATASET)
    names = ["..", ".", "images/..", "../../etc/passwd", "C:\\x\\y.jpg", "", "ok.jpg", "sub/ok.jpg"]
    images = []
    for n, name in enumerate(names):
        image = ImageFactory(
            project=project, batch=batch, original_filename=f"x{n}.jpg", review_state=ReviewState.APPROVED
        )
        Image.objects.filter(pk=image.pk).update(original_filename=name)
        images.append(image)
    return images


def _archive(client, project, fmt, split=""):
    response = client.get(reverse("export", args=[project.workspace.slug, project.slug]) + f"?format={fmt}{split}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
@pytest.mark.parametrize("split", ["", "&split=50,50,0"])
def test_export_members_never_hold_a_path_whatever_is_stored(fmt, split, client, manager, project, old_rows):
    client.force_login(manager)
    archive = zipfile.ZipFile(io.BytesIO(_archive(client, project, fmt, split)))
    names = archive.namelist()
    assert len(names) == len(set(names))
    for member in names:
        parts = member.split("/")
        assert "\\" not in member and not member.startswith("/"), member
        assert all(part not in ("", ".", "..") for part in parts), member
        assert len(parts) <= (1 if fmt == "voc" and not split else 2 if not split or fmt == "voc" else 3), member
    images = [m.rsplit("/", 1)[-1] for m in names if not m.endswith((".txt", ".xml", ".yaml"))]
    assert len(images) == len(old_rows)
    assert {"passwd", "y.jpg", "ok.jpg", f"ok_{old_rows[-1].pk}.jpg"} <= set(images)
    for image in old_rows[:3] + old_rows[5:6]:
        assert f"image_{image.pk}.jpg" in images


def test_coco_file_names_hold_no_path_either(client, manager, project, old_rows):
    client.force_login(manager)
    doc = json.loads(_archive(client, project, "coco"))
    names = [entry["file_name"] for entry in doc["images"]]
    assert len(names) == len(old_rows) and all(_safe(n) for n in names), names
