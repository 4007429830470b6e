"""Uploads: every kind of bad input is reported per file, and the good files land."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from boards import services
from boards.models import Batch, BatchEvent, BatchStatus, EventKind, Image
from boards.services import upload_batches
from core.errors import InvalidInput, NotAllowed, ServiceError
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.django_db


def encoded(fmt, size=(300, 200), color=(10, 120, 200), **save):
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def noisy_jpeg(size=(400, 300)) -> bytes:
    out = io.BytesIO()
    PILImage.effect_noise(size, 80).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(name, data):
    return SimpleUploadedFile(name, data)


def result_for(result, filename):
    return next(f for f in result.files if f.filename == filename)


def test_it_stores_images_as_one_new_unassigned_batch(project, manager):
    files = [upload(f"img{i}.jpg", jpeg_bytes(640, 480, (i * 40, 20, 90))) for i in range(3)]
    result = services.upload_images(project=project, actor=manager, files=files)

    batch = result.batch
    assert batch.status == BatchStatus.UNASSIGNED and batch.created_by == manager
    assert re.fullmatch(r"Uploaded on \d\d/\d\d/\d\d at \d{1,2}:\d\d (am|pm)", batch.name)
    assert result.landed == 3 and result.rejected == 0 and result.duplicates == 0
    images = list(Image.objects.filter(placement__batch=batch))
    assert len(images) == 3
    for image in images:
        assert (image.width, image.height) == (640, 480)
        assert len(image.sha256) == 64
        assert default_storage.exists(image.file.name)
        with default_storage.open(image.thumbnail.name) as thumb:
            assert PILImage.open(thumb).size == (256, 192)
    assert {i.original_filename for i in images} == {"img0.jpg", "img1.jpg", "img2.jpg"}
    assert BatchEvent.objects.get(batch=batch, kind=EventKind.CREATED).detail["images"] == 3


def test_it_uses_a_given_name_and_keeps_names_unique(project, manager):
    first = services.upload_images(
        project=project, actor=manager, files=[upload("a.jpg", jpeg_bytes())], batch_name="Dock"
    )
    second = services.upload_images(
        project=project, actor=manager, files=[upload("b.jpg", jpeg_bytes(color=(1, 2, 3)))], batch_name="Dock"
    )
    assert (first.batch.name, second.batch.name) == ("Dock", "Dock (2)")


@pytest.mark.parametrize(
    ("fmt", "name", "extra"),
    [("PNG", "a.png", {}), ("WEBP", "a.webp", {}), ("BMP", "a.bmp", {}), ("TIFF", "a.tif", {}), ("GIF", "a.gif", {})],
)
def test_it_accepts_the_common_formats(fmt, name, extra, project, manager):
    result = services.upload_images(project=project, actor=manager, files=[upload(name, encoded(fmt, **extra))])
    assert result.landed == 1, result.files[0].reason
    image = Image.objects.get()
    assert (image.width, image.height) == (300, 200)
    assert image.file.name.endswith("." + {"TIFF": "tif", "WEBP": "webp"}.get(fmt, fmt.lower()))


def test_it_takes_the_first_frame_of_an_animated_gif(project, manager):
    frames = [PILImage.new("P", (50, 40), i) for i in (10, 200)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    result = services.upload_images(project=project, actor=manager, files=[upload("anim.gif", out.getvalue())])
    assert result.landed == 1
    assert (Image.objects.get().width, Image.objects.get().height) == (50, 40)


def test_bad_files_are_rejected_with_reasons_and_good_ones_land(project, manager, settings):
    settings.MAX_UPLOAD_FILE_BYTES = 60_000
    settings.MAX_IMAGE_PIXELS = 1_000_000
    existing = jpeg_bytes(color=(5, 5, 5))
    services.upload_images(project=project, actor=manager, files=[upload("old.jpg", existing)])
    truncated = noisy_jpeg()
    files = [
        upload("good1.jpg", jpeg_bytes(color=(1, 100, 1))),
        upload("notes.txt", b"this is not an image"),
        upload("cut.jpg", truncated[: len(truncated) // 2]),
        upload("huge.jpg", noisy_jpeg((600, 600)) + b"\0" * 60_000),
        upload("bomb.png", encoded("PNG", size=(1100, 1000))),
        upload("again.jpg", existing),
        upload("good2.png", encoded("PNG")),
        upload("good2-copy.png", encoded("PNG")),
        upload("empty.jpg", b""),
        upload("vector.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ]
    result = services.upload_images(project=project, actor=manager, files=files)

    assert result.landed == 2 and result.duplicates == 2 and result.rejected == 6
    assert set(Image.objects.filter(placement__batch=result.batch).values_list("original_filename", flat=True)) == {
        "good1.jpg",
        "good2.png",
    }
    assert "not an image" in result_for(result, "notes.txt").reason
    assert "damaged or truncated" in result_for(result, "cut.jpg").reason
    assert "over the limit of 0.06 MB" in result_for(result, "huge.jpg").reason
    assert "decompression bomb" in result_for(result, "bomb.png").reason
    assert result_for(result, "again.jpg").status == "duplicate"
    assert "already in the project" in result_for(result, "again.jpg").reason
    assert result_for(result, "again.jpg").image_id == Image.objects.get(original_filename="old.jpg").pk
    assert "Same image as good2.png" in result_for(result, "good2-copy.png").reason
    assert "empty" in result_for(result, "empty.jpg").reason
    assert result_for(result, "vector.svg").status == "rejected"
    # Order of the report follows the order of the files.
    assert [f.filename for f in result.files] == [f.name for f in files]


def test_pillows_own_bomb_guard_is_reported_too(project, manager, monkeypatch):
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    result = services.upload_images(project=project, actor=manager, files=[upload("b.png", encoded("PNG"))])
    assert result.batch is None
    assert "decompression bomb" in result.files[0].reason


def test_an_upload_with_no_good_file_creates_no_batch(project, manager):
    result = services.upload_images(
        project=project, actor=manager, files=[upload("a.txt", b"nope"), upload("b.jpg", b"\xff\xd8junk")]
    )
    assert result.batch is None and result.rejected == 2
    assert not Batch.objects.exists() and not Image.objects.exists()


def test_only_duplicates_creates_no_batch(project, manager):
    data = jpeg_bytes()
    services.upload_images(project=project, actor=manager, files=[upload("a.jpg", data)])
    result = services.upload_images(project=project, actor=manager, files=[upload("b.jpg", data)])
    assert result.batch is None and result.duplicates == 1
    assert Batch.objects.count() == 1


def test_the_same_image_may_live_in_two_projects(project, manager, workspace):
    from tests.factories import ProjectFactory

    other = ProjectFactory(workspace=workspace)
    data = jpeg_bytes()
    services.upload_images(project=project, actor=manager, files=[upload("a.jpg", data)])
    result = services.upload_images(project=other, actor=manager, files=[upload("a.jpg", data)])
    assert result.landed == 1


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer", "outsider"])
def test_upload_is_for_managers_and_owners(who, personas, project):
    with pytest.raises(NotAllowed):
        services.upload_images(project=project, actor=personas[who], files=[upload("a.jpg", jpeg_bytes())])
    assert not Image.objects.exists()


def test_an_empty_upload_is_a_clear_error(project, manager):
    with pytest.raises(InvalidInput, match="at least one image"):
        services.upload_images(project=project, actor=manager, files=[])


def test_a_failed_store_leaves_no_files_behind(project, manager, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Image.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        services.upload_images(project=project, actor=manager, files=[upload("a.jpg", jpeg_bytes())])
    assert not Batch.objects.exists()
    root = default_storage.path("")
    import os

    leftovers = [f for _d, _s, fs in os.walk(root) for f in fs] if os.path.exists(root) else []
    assert leftovers == []


def test_a_continued_upload_joins_its_batch_while_it_is_in_unassigned(project, manager, labeler):
    first = services.upload_images(project=project, actor=manager, files=[upload("a.jpg", jpeg_bytes(8, 8, (1, 2, 3)))])
    more = services.upload_images(
        project=project, actor=manager, files=[upload("b.jpg", jpeg_bytes(8, 8, (9, 2, 3)))], into=first.batch
    )
    assert more.batch.pk == first.batch.pk and Image.objects.filter(placement__batch=first.batch).count() == 2
    stale = Batch.objects.get(pk=first.batch.pk)  # read before someone assigned it
    services.assign(batch=first.batch, actor=manager, labeler=labeler)
    late = [upload("c.jpg", jpeg_bytes(8, 8, (1, 9, 3)))]
    with pytest.raises(ServiceError) as refused:
        services.upload_images(project=project, actor=manager, files=late, into=stale)
    assert refused.value.status == 409 and not Image.objects.filter(original_filename="c.jpg").exists()


def test_with_or_new_batch_an_upload_passes_over_a_batch_that_cannot_take_it_for_a_new_one(
    project, manager, labeler, monkeypatch
):
    """A bucket import's next step: its batch moved on (seen only under the lock) or is full."""
    first = services.upload_images(project=project, actor=manager, files=[upload("a.jpg", jpeg_bytes(8, 8, (1, 2, 3)))])
    stale = Batch.objects.get(pk=first.batch.pk)
    services.assign(batch=first.batch, actor=manager, labeler=labeler)
    late = services.upload_images(
        project=project,
        actor=manager,
        files=[upload("b.jpg", jpeg_bytes(8, 8, (9, 2, 3)))],
        batch_name="more",
        into=stale,
        or_new_batch=True,
    )
    assert late.batch.pk != first.batch.pk and late.batch.status == BatchStatus.UNASSIGNED
    assert list(Image.objects.filter(placement__batch=late.batch).values_list("original_filename", flat=True)) == [
        "b.jpg"
    ]
    # Its history starts as a new batch's does.
    assert list(BatchEvent.objects.filter(batch=late.batch).values_list("kind", "to_status")) == [
        (EventKind.CREATED, BatchStatus.UNASSIGNED)
    ]
    monkeypatch.setattr(upload_batches, "MAX_BATCH_IMAGES", 1)  # the new batch is full now
    third = services.upload_images(
        project=project,
        actor=manager,
        files=[upload("c.jpg", jpeg_bytes(8, 8, (1, 9, 3)))],
        into=late.batch,
        or_new_batch=True,
    )
    assert third.batch.pk not in (first.batch.pk, late.batch.pk)
    assert Image.objects.filter(placement__batch=late.batch).count() == 1
    assert list(BatchEvent.objects.filter(batch=third.batch).values_list("kind", flat=True)) == [EventKind.CREATED]


def test_or_new_batch_still_refuses_a_batch_that_is_not_the_uploaders(project, manager, owner):
    """Passing over a full or moved batch is for one's own upload: another person's batch is refused,
    not replaced by a new one."""
    theirs = services.upload_images(project=project, actor=owner, files=[upload("a.jpg", jpeg_bytes(8, 8, (1, 2, 3)))])
    with pytest.raises(InvalidInput, match="you are uploading right now"):
        services.upload_images(
            project=project,
            actor=manager,
            files=[upload("b.jpg", jpeg_bytes(8, 8, (9, 2, 3)))],
            into=theirs.batch,
            or_new_batch=True,
        )
    assert Batch.objects.filter(project=project).count() == 1
