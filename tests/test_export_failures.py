"""An export that cannot be complete never looks complete.

Missing or empty image files are found before the download starts (one stat
each) and refused with 409 naming them; a file that fails while the archive
streams cuts the download off without the zip's central directory, so what
the client received does not open as an archive.
"""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from boards.formats.export import ExportInterrupted
from boards.models import Annotation, BatchStatus, LabelClass, ReviewState
from tests.factories import BatchFactory, ImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(project):
    """A Dataset batch of twelve approved images, each with a box."""
    car = LabelClass.objects.create(project=project, name="car")
    batch = BatchFactory(project=project, name="done", status=BatchStatus.DATASET)
    images = [
        ImageFactory(project=project, batch=batch, original_filename=f"street_{n:02}.jpg", review_state="approved")
        for n in range(12)
    ]
    for image in images:
        Annotation.objects.create(image=image, label=car, x=4, y=4, width=20, height=10)
    assert all(i.review_state == ReviewState.APPROVED for i in images)
    return images


def url(project, fmt, **query):
    base = reverse("export", args=[project.workspace.slug, project.slug])
    return f"{base}?format={fmt}" + "".join(f"&{k}={v}" for k, v in query.items())


def truncate(image) -> None:
    with open(default_storage.path(image.file.name), "wb"):
        pass


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_missing_files_are_refused_before_the_download_starts(client, viewer, project, dataset, fmt):
    default_storage.delete(dataset[3].file.name)
    default_storage.delete(dataset[7].file.name)
    truncate(dataset[9])  # a torn, empty file is no better than none
    client.force_login(viewer)

    response = client.get(url(project, fmt))

    assert response.status_code == 409
    assert not response.streaming
    page = response.content.decode()
    assert "3 of the 12 images" in page
    for image in (dataset[3], dataset[7], dataset[9]):
        assert f"street_{image.original_filename[7:9]}.jpg (image {image.pk})" in page
    assert "street_00.jpg" not in page


def test_a_split_export_checks_every_split(client, viewer, project, dataset):
    default_storage.delete(dataset[0].file.name)
    client.force_login(viewer)

    response = client.get(url(project, "yolo", split="50,25,25", seed=3))

    assert response.status_code == 409
    assert "1 of the 12 images" in response.content.decode()


def test_a_long_list_of_missing_files_is_cut_short(client, viewer, project, dataset):
    for image in dataset:
        default_storage.delete(image.file.name)
    client.force_login(viewer)

    page = client.get(url(project, "voc")).content.decode()

    assert "12 of the 12 images" in page and ", …" in page
    assert page.count("(image ") == 10


def test_coco_json_holds_no_files_so_it_still_exports(client, viewer, project, dataset):
    default_storage.delete(dataset[0].file.name)
    client.force_login(viewer)

    response = client.get(url(project, "coco"))

    assert response.status_code == 200
    assert b'"street_00.jpg"' in b"".join(response.streaming_content)


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_a_file_lost_while_streaming_cuts_the_download_off_as_no_valid_zip(client, viewer, project, dataset, fmt):
    client.force_login(viewer)
    response = client.get(url(project, fmt))
    assert response.status_code == 200  # every file was there when the download started
    received = bytearray()
    chunks = iter(response.streaming_content)
    received += next(chunks)
    default_storage.delete(dataset[8].file.name)  # removed by something else meanwhile

    with pytest.raises(ExportInterrupted, match="could not be read"):
        for chunk in chunks:
            received += chunk

    assert b"street_00.jpg" in received  # members before the lost file went out
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(received)))


def test_an_unreadable_file_cuts_the_download_off_too(client, viewer, project, dataset, monkeypatch):
    client.force_login(viewer)
    response = client.get(url(project, "yolo"))
    assert response.status_code == 200
    wanted = dataset[5].file.name
    real_open = default_storage.open

    def open_failing(name, mode="rb"):
        if name == wanted:
            raise PermissionError(13, "Permission denied")
        return real_open(name, mode)

    monkeypatch.setattr(default_storage, "open", open_failing)
    received = bytearray()
    with pytest.raises(ExportInterrupted, match="Permission denied"):
        for chunk in response.streaming_content:
            received += chunk

    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(received)))


def test_a_complete_export_is_a_valid_zip_of_every_image(client, viewer, project, dataset):
    client.force_login(viewer)
    response = client.get(url(project, "yolo"))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))

    assert archive.testzip() is None
    assert sum(1 for n in archive.namelist() if n.startswith("images/")) == 12
