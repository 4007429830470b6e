"""Files in an S3-compatible object store (``S3_BUCKET``), on a real S3 server (moto's server mode).

Uploads write originals and thumbnails into the bucket and nothing on the local disk; originals
are answered with a redirect to a short-lived presigned URL, after the permission check;
thumbnails pass through the app; exports read from the bucket; deletes empty it.
"""

import io
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage

from accounts.services import create_api_key
from boards import services
from boards.models import Asset, BatchStatus, Image, ReviewState
from config.settings import content_security_policy, s3_storage
from tests.factories import set_images
from tests.services import s3_client

pytestmark = pytest.mark.django_db


def photo(size=(320, 240)) -> bytes:
    """A camera-like JPEG, noisy (so different every time)."""
    out = io.BytesIO()
    PILImage.effect_noise(size, 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


DOCK, YARD = photo(), photo()


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def local_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def uploaded(s3_media, project, manager):
    """Two photos uploaded through the browser, with a broken file between them."""
    files = [
        SimpleUploadedFile("dock.jpg", DOCK),
        SimpleUploadedFile("broken.jpg", b"\xff\xd8 not a jpeg"),
        SimpleUploadedFile("yard.jpg", YARD),
    ]
    result = services.upload_images(project=project, actor=manager, files=files)
    assert result.landed == 2
    return {image.original_filename: image for image in Image.objects.filter(placement__batch=result.batch)}


def test_an_upload_stores_originals_and_thumbnails_in_the_bucket_and_nothing_on_disk(uploaded, s3_endpoint, s3_media):
    stored = objects(s3_endpoint, s3_media)
    for image in uploaded.values():
        assert image.file.name in stored and image.thumbnail.name in stored
        assert len(stored[image.thumbnail.name]) < len(stored[image.file.name])
    assert stored[uploaded["dock.jpg"].file.name] == DOCK
    assert len(stored) == 4  # the broken file left nothing behind
    assert local_files() == []


def test_the_same_picture_uploaded_again_is_not_stored_twice(uploaded, s3_endpoint, s3_media, project, manager):
    again = services.upload_images(project=project, actor=manager, files=[SimpleUploadedFile("copy.jpg", DOCK)])
    assert again.duplicates == 1
    assert len(objects(s3_endpoint, s3_media)) == 4
    assert Asset.objects.count() == 2


def test_an_original_is_a_redirect_to_a_presigned_url_that_serves_its_bytes(client, manager, uploaded):
    client.force_login(manager)
    image = uploaded["dock.jpg"]
    response = client.get(reverse("image-file", args=[image.pk, "original"]))
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith(settings.STORAGES["default"]["OPTIONS"]["endpoint_url"])
    query = parse_qs(urlsplit(target).query)
    assert query["X-Amz-Expires"] == [str(settings.S3_URL_SECONDS)]
    assert "X-Amz-Signature" in query
    fetched = requests.get(target, timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == DOCK
    assert fetched.headers["Content-Type"] == "image/jpeg"


def test_the_bucket_refuses_the_object_without_the_signature(client, manager, uploaded):
    client.force_login(manager)
    target = client.get(reverse("image-file", args=[uploaded["dock.jpg"].pk, "original"]))["Location"]
    unsigned = target.split("?", 1)[0]
    assert requests.get(unsigned, timeout=30).status_code == 403


def test_no_presigned_url_goes_to_someone_outside_the_workspace(client, outsider, uploaded):
    url = reverse("image-file", args=[uploaded["dock.jpg"].pk, "original"])
    assert client.get(url).status_code == 302
    assert "X-Amz-Signature" not in client.get(url)["Location"]  # to the login page
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_a_thumbnail_is_served_through_the_app_with_long_cache_headers(client, viewer, uploaded, s3_endpoint, s3_media):
    client.force_login(viewer)
    image = uploaded["yard.jpg"]
    response = client.get(reverse("image-file", args=[image.pk, "thumb"]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == objects(s3_endpoint, s3_media)[image.thumbnail.name]
    assert "immutable" in response["Cache-Control"]


def test_the_api_redirects_to_the_original_too(client, manager, workspace, project, uploaded):
    _, raw = create_api_key(workspace=workspace, actor=manager, name="script", scopes=["read"])
    image = uploaded["yard.jpg"]
    response = client.get(f"/api/{workspace.slug}/{project.slug}/images/{image.pk}/original", {"api_key": raw})
    assert response.status_code == 302
    assert requests.get(response["Location"], timeout=30).content == YARD


def test_an_export_reads_the_images_from_the_bucket(client, viewer, project, uploaded):
    batch = next(iter(uploaded.values())).batch
    type(batch).objects.filter(pk=batch.pk).update(status=BatchStatus.DATASET)
    set_images(Image.objects.filter(placement__batch=batch), review_state=ReviewState.APPROVED)
    client.force_login(viewer)
    response = client.get(reverse("export", args=[project.workspace.slug, project.slug]), {"format": "yolo"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("images/dock.jpg") == DOCK
    assert archive.read("images/yard.jpg") == YARD


def test_deleting_the_batch_deletes_its_objects(
    uploaded, manager, s3_endpoint, s3_media, django_capture_on_commit_callbacks
):
    batch = next(iter(uploaded.values())).batch
    assert len(objects(s3_endpoint, s3_media)) == 4
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_batch(batch=batch, actor=manager)
    assert objects(s3_endpoint, s3_media) == {}


def test_the_health_check_writes_to_the_bucket_and_fails_without_it(client, s3_media, s3_endpoint):
    assert client.get("/health/?format=json").json()["Storage(alias='default')"] == "OK"
    s3_client(s3_endpoint).delete_bucket(Bucket=s3_media)
    response = client.get("/health/?format=json")
    assert response.status_code == 503
    assert response.json()["Storage(alias='default')"] != "OK"


def test_the_page_allows_originals_from_the_store_and_nothing_else_new():
    storage, origin = s3_storage("photos", "https://minio.internal:9000", "")
    assert origin == "https://minio.internal:9000"
    directives = content_security_policy(origin)["DIRECTIVES"]
    assert directives["img-src"] == ["'self'", "https://minio.internal:9000"]
    assert directives == content_security_policy("")["DIRECTIVES"] | {"img-src": directives["img-src"]}
    assert storage["OPTIONS"]["addressing_style"] == "path"
    storage, origin = s3_storage("photos", "", "eu-west-1")
    assert origin.split() == ["https://photos.s3.amazonaws.com", "https://photos.s3.eu-west-1.amazonaws.com"]
    assert storage["OPTIONS"]["addressing_style"] == "virtual"


def test_cleanup_files_deletes_the_objects_no_image_names_and_keeps_the_rest(uploaded, project, s3_endpoint, s3_media):
    orphan = f"images/{project.pk}/ab/{'ab' * 32}.jpg"
    s3_client(s3_endpoint).put_object(Bucket=s3_media, Key=orphan, Body=b"left by an upload that never committed")
    out = io.StringIO()
    call_command("cleanup_files", "--grace-hours", "0", stdout=out)
    stored = objects(s3_endpoint, s3_media)
    assert orphan not in stored
    assert len(stored) == 4
    assert "Deleted 1 file" in out.getvalue()


def test_cleanup_files_leaves_a_young_orphan_for_its_upload(uploaded, project, s3_endpoint, s3_media):
    orphan = f"thumbs/{project.pk}/cd/{'cd' * 32}.jpg"
    s3_client(s3_endpoint).put_object(Bucket=s3_media, Key=orphan, Body=b"an upload on its way to its commit")
    call_command("cleanup_files", stdout=io.StringIO())
    assert orphan in objects(s3_endpoint, s3_media)


def test_a_redirect_is_kept_briefly_unless_the_caller_says_it_may_not_be_kept(uploaded):
    """An original's presigned redirect may be reused for a minute; a task's download (``no-store``) not."""
    from core.http import serve_file

    name = uploaded["dock.jpg"].file.name
    assert serve_file(name, redirect=True)["Cache-Control"].startswith("private, max-age=")
    download = serve_file(name, redirect=True, download_name="dock.jpg", cache_control="private, no-store")
    assert download.status_code == 302 and download["Cache-Control"] == "private, no-store"
