"""EXIF orientation: photos are turned upright at upload, and every consumer sees the same frame.

The photos are written the way cameras write them: the sensor's pixels as they
came, plus an Orientation tag saying how to turn them for display. The picture
is a 400×200 scene with a red marker near its top-left corner; a box drawn
around the marker must land on it in the thumbnail, the editor, every export
(opened by a program that applies EXIF or one that ignores it) and after a
re-import.
"""

import hashlib
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps, ImageStat

from boards import imaging, services
from boards.models import Annotation, Batch, BatchStatus, Image, LabelClass
from tests.factories import BatchFactory, ImageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

W, H = 400, 200
MARKER = (30, 30, 80, 60)  # x, y, width, height in the upright scene
RED, BLUE = (230, 30, 30), (40, 90, 200)
ORIENTATION = 0x0112
MAKE = 0x010F
T = PILImage.Transpose
# How the camera stored the scene for each tag: the inverse of what exif_transpose does to show it.
STORED_AS = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def scene() -> PILImage.Image:
    im = PILImage.new("RGB", (W, H), BLUE)
    x, y, w, h = MARKER
    im.paste(RED, (x, y, x + w, y + h))
    return im


def camera_jpeg(orientation: int) -> bytes:
    raw = scene()
    if STORED_AS[orientation] is not None:
        raw = raw.transpose(STORED_AS[orientation])
    exif = PILImage.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "Batchboard Test Camera"
    out = io.BytesIO()
    raw.save(out, "JPEG", quality=95, exif=exif, icc_profile=SRGB)
    data = out.getvalue()
    # The fixture itself: shown as EXIF says, it is the upright scene.
    assert_marker_in(ImageOps.exif_transpose(PILImage.open(io.BytesIO(data))), MARKER)
    return data


def assert_marker_in(im: PILImage.Image, box, *, scale: float = 1.0) -> None:
    """The box (in pixels of the scene) covers the red marker in ``im``, and the opposite corner is blue."""
    assert im.size == (round(W * scale), round(H * scale))
    x, y, w, h = (v * scale for v in box)
    inner = im.convert("RGB").crop((round(x + 3 * scale), round(y + 3 * scale), round(x + w - 3), round(y + h - 3)))
    r, g, b = ImageStat.Stat(inner).mean
    assert r > 180 and g < 90 and b < 90, (r, g, b)
    corner = im.convert("RGB").crop((im.width - round(40 * scale), im.height - round(40 * scale), im.width, im.height))
    r, g, b = ImageStat.Stat(corner).mean
    assert b > 150 and r < 90, (r, g, b)


def assert_close(actual, expected, tolerance=0.5) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


def opened_both_ways(data: bytes) -> list[PILImage.Image]:
    """The file as a program that ignores EXIF sees it, and as one that applies it."""
    return [PILImage.open(io.BytesIO(data)), ImageOps.exif_transpose(PILImage.open(io.BytesIO(data)))]


def upload(client, project, name, data):
    url = reverse("upload", args=[project.workspace.slug, project.slug])
    response = client.post(url, {"files": [SimpleUploadedFile(name, data)]}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


# --- end to end: upload → draw → export → re-import, for all eight orientations ---------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_upright_from_upload_to_export_and_back(
    orientation, client, project, workspace, manager, labeler, reviewer
):
    photo = camera_jpeg(orientation)
    name = f"phone-{orientation}.jpg"
    client.force_login(manager)
    body = upload(client, project, name, photo)
    image = Image.objects.get(pk=body["files"][0]["image_id"])

    # Stored upright: the size a person sees, and a file with no turn left in it.
    assert (image.width, image.height) == (W, H)
    assert image.sha256 == hashlib.sha256(photo).hexdigest()
    original = stored(image.file.name)
    if orientation == 1:
        assert original == photo  # nothing to turn: kept byte for byte
    else:
        kept = PILImage.open(io.BytesIO(original))
        assert kept.format == "JPEG" and kept.info.get("icc_profile") == SRGB
        assert kept.getexif().get(ORIENTATION, 1) == 1 and kept.getexif().get(MAKE) == "Batchboard Test Camera"
    for view in opened_both_ways(original):
        assert_marker_in(view, MARKER)
    assert_marker_in(PILImage.open(io.BytesIO(stored(image.thumbnail.name))), MARKER, scale=256 / W)
    served = client.get(reverse("image-file", args=[image.pk, "original"]))
    assert b"".join(served.streaming_content) == original

    # Drawn in the editor, over the picture at its stored size.
    car = LabelClass.objects.create(project=project, name="marker")
    batch = Batch.objects.get(pk=body["batch"]["id"])
    services.assign(batch=batch, actor=manager, labeler=labeler)
    client.force_login(labeler)
    editor = reverse("annotate", args=[workspace.slug, project.slug, batch.pk, image.pk])
    page = client.get(editor).content.decode()
    assert f'data-width="{W}" data-height="{H}"' in page and f'viewBox="0 0 {W} {H}"' in page
    x, y, w, h = MARKER
    saved = client.post(
        editor + "save",
        json.dumps({"version": 0, "boxes": [{"label": car.pk, "x": x, "y": y, "width": w, "height": h}]}),
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    client.force_login(reviewer)
    review = client.get(reverse("review", args=[workspace.slug, project.slug, batch.pk])).content.decode()
    assert f'viewBox="0 0 {W} {H}"' in review
    services.approve(batch=Batch.objects.get(pk=batch.pk), actor=reviewer)

    export_url = reverse("export", args=[workspace.slug, project.slug]) + "?format="

    def download(fmt):
        response = client.get(export_url + fmt)
        assert response.status_code == 200
        return b"".join(response.streaming_content)

    coco = json.loads(download("coco"))
    (entry,) = coco["images"]
    assert (entry["width"], entry["height"]) == (W, H)
    (annotation,) = coco["annotations"]
    for view in opened_both_ways(original):  # COCO names the image; the file is the one stored
        assert view.size == (entry["width"], entry["height"])
        assert_marker_in(view, annotation["bbox"])

    yolo = zipfile.ZipFile(io.BytesIO(download("yolo")))
    label = yolo.read(f"labels/phone-{orientation}.txt").decode().split()
    for view in opened_both_ways(yolo.read(f"images/{name}")):
        cx, cy, bw, bh = (float(v) for v in label[1:])
        box = ((cx - bw / 2) * view.width, (cy - bh / 2) * view.height, bw * view.width, bh * view.height)
        assert_close(box, MARKER)
        assert_marker_in(view, box)

    voc = zipfile.ZipFile(io.BytesIO(download("voc")))
    xml = ET.fromstring(voc.read(f"phone-{orientation}.xml"))
    size = (int(xml.findtext("size/width")), int(xml.findtext("size/height")))
    corners = [float(xml.findtext(f"object/bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
    box = (corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1])
    for view in opened_both_ways(voc.read(name)):
        assert view.size == size
        assert_close(box, MARKER, tolerance=1)  # VOC writes whole pixels, counted from 1
        assert_marker_in(view, box)

    # Re-imported into a fresh project that holds the exported picture.
    client.force_login(manager)
    for n, (fmt, files) in enumerate(
        [
            ("coco", [("_annotations.coco.json", json.dumps(coco).encode())]),
            ("yolo", [("data.yaml", yolo.read("data.yaml")), (f"phone-{orientation}.txt", " ".join(label).encode())]),
            ("voc", [(f"phone-{orientation}.xml", voc.read(f"phone-{orientation}.xml"))]),
        ]
    ):
        fresh = ProjectFactory(workspace=workspace, slug=f"fresh-{fmt}-{n}")
        LabelClass.objects.create(project=fresh, name="marker")
        body = upload(client, fresh, name, yolo.read(f"images/{name}"))
        target = Image.objects.get(pk=body["files"][0]["image_id"])
        assert (target.width, target.height) == (W, H)
        response = client.post(
            reverse("import", args=[workspace.slug, fresh.slug]),
            {"files": [SimpleUploadedFile(file_name, content) for file_name, content in files]},
        )
        assert response.status_code == 200, (fmt, re.sub(r"\s+", " ", response.content.decode())[-600:])
        (box,) = Annotation.objects.filter(image=target)
        assert_close((box.x, box.y, box.width, box.height), MARKER, tolerance=1)


def test_uploading_the_same_photo_again_is_a_duplicate(client, project, manager):
    photo = camera_jpeg(6)
    client.force_login(manager)
    first = upload(client, project, "IMG_0001.jpg", photo)
    url = reverse("upload", args=[project.workspace.slug, project.slug])
    again = client.post(
        url, {"files": [SimpleUploadedFile("IMG_0001 copy.jpg", photo)]}, HTTP_ACCEPT="application/json"
    )
    assert again.status_code == 422
    (result,) = again.json()["files"]
    assert result["status"] == "duplicate" and result["image_id"] == first["files"][0]["image_id"]
    assert Image.objects.count() == 1
    assert Image.objects.get().sha256 == hashlib.sha256(photo).hexdigest()


def test_process_turns_pixels_upright_and_reports_the_bytes_to_store():
    for orientation in range(1, 9):
        photo = camera_jpeg(orientation)
        result = imaging.process(io.BytesIO(photo))  # a file, read in chunks
        assert (result.width, result.height) == (W, H)
        assert result.sha256 == hashlib.sha256(photo).hexdigest()
        assert (result.oriented is None) == (orientation == 1)
        if result.oriented:
            assert_marker_in(PILImage.open(result.oriented), MARKER)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_other_formats_with_an_orientation_are_turned_upright_in_their_own_format(fmt):
    raw = scene().transpose(STORED_AS[8])
    exif = PILImage.Exif()
    exif[ORIENTATION] = 8
    out = io.BytesIO()
    raw.save(out, fmt, exif=exif, **({"lossless": True} if fmt == "WEBP" else {}))
    result = imaging.process(out.getvalue())
    assert (result.width, result.height) == (W, H)
    kept = PILImage.open(result.oriented)
    assert kept.format == fmt and kept.getexif().get(ORIENTATION, 1) == 1
    assert_marker_in(kept, MARKER)
    assert_marker_in(PILImage.open(io.BytesIO(result.thumbnail)), MARKER, scale=256 / W)


def test_a_png_orientation_written_after_the_pixels_counts_too():
    png = io.BytesIO()
    scene().transpose(STORED_AS[6]).save(png, "PNG")
    exif = PILImage.Exif()
    exif[ORIENTATION] = 6
    payload = exif.tobytes()[6:]  # without the "Exif\0\0" header
    chunk = len(payload).to_bytes(4, "big") + b"eXIf" + payload
    chunk += zlib.crc32(b"eXIf" + payload).to_bytes(4, "big")
    data = png.getvalue()
    data = data[:-12] + chunk + data[-12:]  # just before IEND
    result = imaging.process(data)
    assert (result.width, result.height) == (W, H)
    assert_marker_in(PILImage.open(result.oriented), MARKER)


# --- images stored before uploads were turned upright ----------------------------------


def _stored_the_old_way(project, orientation, batch=None):
    """The photo kept as sent: its stored size and thumbnail unturned, its box in fractions of the upright picture."""
    photo = camera_jpeg(orientation)
    raw = PILImage.open(io.BytesIO(photo))
    thumb = io.BytesIO()
    raw.copy().resize(imaging._fit(*raw.size, 256)).save(thumb, "JPEG")
    image = ImageFactory(
        project=project,
        batch=batch,
        width=raw.width,
        height=raw.height,
        sha256=hashlib.sha256(photo).hexdigest(),
        original_filename=f"old-{orientation}.jpg",
        file=ContentFile(photo, name=f"old-{orientation}.jpg"),
        thumbnail=ContentFile(thumb.getvalue(), name="t.jpg"),
    )
    label, _ = LabelClass.objects.get_or_create(project=project, name="marker")
    x, y, w, h = MARKER  # as the browser showed it: upright, stretched into width × height
    fx, fy = raw.width / W, raw.height / H
    Annotation.objects.create(image=image, label=label, x=x * fx, y=y * fy, width=w * fx, height=h * fy)
    return image, photo


def test_reorient_images_fixes_files_sizes_thumbnails_and_boxes(project, capsys):
    batch = BatchFactory(project=project, status=BatchStatus.ANNOTATING)
    old = {o: _stored_the_old_way(project, o, batch) for o in range(1, 9)}
    before = {o: stored(image.file.name) for o, (image, _photo) in old.items()}

    call_command("reorient_images", "--dry-run")
    assert "7 images would be turned upright" in capsys.readouterr().out
    assert all(stored(image.file.name) == before[o] for o, (image, _photo) in old.items())

    call_command("reorient_images", "--chunk", "3")
    assert "7 images turned upright; 4 got new width and height, 4 boxes rescaled." in capsys.readouterr().out
    for o, (image, photo) in old.items():
        image.refresh_from_db()
        assert (image.width, image.height) == (W, H)
        assert image.sha256 == hashlib.sha256(photo).hexdigest()
        assert image.annotation_version == (1 if o >= 5 else 0)
        original = stored(image.file.name)
        assert (original == photo) == (o == 1)
        for view in opened_both_ways(original):
            assert view.getexif().get(ORIENTATION, 1) == 1 or o == 1
            assert_marker_in(view, MARKER)
        assert_marker_in(PILImage.open(io.BytesIO(stored(image.thumbnail.name))), MARKER, scale=256 / W)
        (box,) = Annotation.objects.filter(image=image)
        assert_close((box.x, box.y, box.width, box.height), MARKER, tolerance=1e-6)
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.part"))

    call_command("reorient_images")
    assert "0 images turned upright" in capsys.readouterr().out


def test_reorient_images_finishes_a_run_stopped_after_its_commit(project, capsys):
    image, _photo = _stored_the_old_way(project, 6)
    # The rows were changed, the files not yet renamed into place.
    Image.objects.filter(pk=image.pk).update(width=W, height=H)
    Annotation.objects.filter(image=image).update(x=30, y=30, width=80, height=60)
    call_command("reorient_images")
    assert "1 image turned upright; 0 got new width and height, 0 boxes rescaled." in capsys.readouterr().out
    image.refresh_from_db()
    assert_marker_in(PILImage.open(io.BytesIO(stored(image.file.name))), MARKER)
    (box,) = Annotation.objects.filter(image=image)
    assert (box.x, box.y, box.width, box.height) == MARKER


def test_a_lossless_webp_with_exif_stays_lossless_when_turned():
    # Any WebP carrying EXIF is an extended (VP8X) file: its VP8L chunk comes later.
    raw = scene().transpose(STORED_AS[6])
    exif = PILImage.Exif()
    exif[ORIENTATION] = 6
    out = io.BytesIO()
    raw.save(out, "WEBP", exif=exif, lossless=True)
    assert out.getvalue()[12:16] == b"VP8X"
    result = imaging.process(out.getvalue())
    kept = result.oriented.read()
    assert b"VP8L" in kept[:4096] and b"VP8 " not in kept[:4096]
    turned = PILImage.open(io.BytesIO(kept)).convert("RGB")
    expected = ImageOps.exif_transpose(PILImage.open(out)).convert("RGB")
    assert turned.tobytes() == expected.tobytes()


def test_photos_are_turned_upright_one_at_a_time(monkeypatch):
    # Turning decodes the whole image: two at once would hold two full copies each.
    running, most = [0], [0]
    real = imaging._turn_upright
    guard = threading.Lock()

    def counted(*args):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(imaging, "_turn_upright", counted)
    photos = [camera_jpeg(orientation) for orientation in (3, 6, 8, 5)]
    threads = [threading.Thread(target=imaging.process, args=(photo,)) for photo in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


@pytest.mark.parametrize("chunk", ["1", "100"])
def test_reorient_images_turns_every_projects_copy_and_the_catalog_asset(project, manager, chunk):
    from boards.models import Asset
    from tests.factories import ProjectFactory

    signs = ProjectFactory(workspace=project.workspace, name="Signs", slug="signs")
    image, _photo = _stored_the_old_way(project, 6)
    services.add_batch_to_project(project=signs, actor=manager, name="Shared", asset_ids=[image.asset_id])
    shared = Image.objects.get(project=signs)
    assert shared.file.name == image.file.name
    call_command("reorient_images", "--chunk", chunk)
    for row in (image, shared, Asset.objects.get(pk=image.asset_id)):
        row.refresh_from_db()
        assert (row.width, row.height) == (W, H)
