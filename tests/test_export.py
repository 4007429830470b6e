"""Dataset export: COCO JSON, YOLO and Pascal VOC, streamed; splits by a seeded ratio."""

import io
import json
import zipfile

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from boards.formats import voc, yolo
from boards.formats.export import assign_splits
from boards.models import Annotation, BatchStatus, LabelClass, ReviewState
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def classes(project):
    return {name: LabelClass.objects.create(project=project, name=name) for name in ("car", "person")}


@pytest.fixture
def dataset(project, classes):
    """A Dataset batch of three approved images: two with boxes, one marked empty."""
    batch = BatchFactory(project=project, name="done", status=BatchStatus.DATASET)
    images = [
        ImageFactory(project=project, batch=batch, original_filename=name, review_state=ReviewState.APPROVED)
        for name in ("a.jpg", "b.jpg", "c.jpg")
    ]
    Annotation.objects.create(image=images[0], label=classes["car"], x=10, y=5, width=20, height=10)
    Annotation.objects.create(image=images[0], label=classes["person"], x=0, y=0, width=64, height=48)
    Annotation.objects.create(image=images[1], label=classes["person"], x=30.5, y=12.25, width=8, height=16)
    return batch


def url(project, **query):
    base = reverse("export", args=[project.workspace.slug, project.slug])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def download(client, project, **query) -> bytes:
    response = client.get(url(project, **query))
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def test_coco_lists_images_classes_and_boxes_to_the_pixel(client, viewer, project, dataset):
    client.force_login(viewer)
    response = client.get(url(project, format="coco", batch=dataset.pk))
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    doc = json.loads(b"".join(response.streaming_content))
    assert [c["name"] for c in doc["categories"]] == ["car", "person"]
    assert sorted(i["file_name"] for i in doc["images"]) == ["a.jpg", "b.jpg", "c.jpg"]
    names = {i["id"]: i["file_name"] for i in doc["images"]}
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    boxes = sorted((names[a["image_id"]], cats[a["category_id"]], a["bbox"]) for a in doc["annotations"])
    assert boxes == [
        ("a.jpg", "car", [10, 5, 20, 10]),
        ("a.jpg", "person", [0, 0, 64, 48]),
        ("b.jpg", "person", [30.5, 12.25, 8, 16]),
    ]


def test_yolo_zip_has_images_labels_and_data_yaml(client, viewer, project, dataset):
    client.force_login(viewer)
    archive = zipfile.ZipFile(io.BytesIO(download(client, project, format="yolo")))
    assert sorted(archive.namelist()) == [
        "data.yaml",
        "images/a.jpg",
        "images/b.jpg",
        "images/c.jpg",
        "labels/a.txt",
        "labels/b.txt",
        "labels/c.txt",
    ]
    assert archive.getinfo("images/a.jpg").compress_type == zipfile.ZIP_STORED
    assert archive.read("images/a.jpg") == jpeg_bytes()
    data = archive.read("data.yaml").decode()
    assert "nc: 2" in data and yolo.read_names(data, "data.yaml") == ["car", "person"]
    boxes = yolo.parse(
        archive.read("labels/a.txt").decode(), image_width=64, image_height=48, labelmap=["car", "person"]
    )
    assert [(b.label, round(b.x, 2), round(b.y, 2), round(b.width, 2), round(b.height, 2)) for b in boxes] == [
        ("car", 10, 5, 20, 10),
        ("person", 0, 0, 64, 48),
    ]
    assert archive.read("labels/c.txt") == b""


def test_voc_zip_has_an_xml_beside_each_image(client, viewer, project, dataset):
    client.force_login(viewer)
    archive = zipfile.ZipFile(io.BytesIO(download(client, project, format="voc", batch=dataset.pk)))
    assert sorted(archive.namelist()) == ["a.jpg", "a.xml", "b.jpg", "b.xml", "c.jpg", "c.xml"]
    text = archive.read("b.xml").decode()
    assert voc.filename_in(text) == "b.jpg"
    assert [(b.label, b.x, b.y, b.width, b.height) for b in voc.parse(text, image_width=64, image_height=48)] == [
        ("person", 30.5, 12.25, 8, 16)
    ]


def test_a_split_puts_each_image_in_one_folder_the_same_way_for_the_same_seed(client, viewer, project, dataset):
    for _ in range(7):
        ImageFactory(project=project, batch=dataset, review_state=ReviewState.APPROVED)
    client.force_login(viewer)

    def folders(seed):
        archive = zipfile.ZipFile(io.BytesIO(download(client, project, format="yolo", split="60,20,20", seed=seed)))
        return {n.split("/")[-1]: n.split("/")[0] for n in archive.namelist() if "/images/" in n}, archive

    first, archive = folders(42)
    assert len(first) == 10
    assert sorted(first.values()).count("train") == 6 and sorted(first.values()).count("test") == 2
    assert folders(42)[0] == first
    assert any(folders(seed)[0] != first for seed in (1, 2, 3))
    data = archive.read("data.yaml").decode()
    assert "train: train/images" in data and "val: valid/images" in data and "test: test/images" in data


def test_a_split_of_coco_is_a_zip_of_one_json_per_split(client, viewer, project, dataset):
    client.force_login(viewer)
    archive = zipfile.ZipFile(io.BytesIO(download(client, project, format="coco", split="2,1,0", seed=7)))
    assert sorted(archive.namelist()) == ["train/_annotations.coco.json", "valid/_annotations.coco.json"]
    counts = [len(json.loads(archive.read(n))["images"]) for n in sorted(archive.namelist())]
    assert counts == [2, 1]


def test_assign_splits_is_deterministic_and_loses_nothing():
    ids = list(range(1, 101))
    one = assign_splits(ids, (70, 20, 10), seed=42)
    assert one == assign_splits(list(reversed(ids)), (70, 20, 10), seed=42)
    assert sorted(one) == ids
    assert [list(one.values()).count(s) for s in ("train", "valid", "test")] == [70, 20, 10]


def test_the_project_dataset_takes_approved_images_of_dataset_batches_only(client, viewer, project, dataset):
    ImageFactory(project=project, batch=dataset, original_filename="pending.jpg")
    ImageFactory(project=project, batch=BatchFactory(project=project), original_filename="elsewhere.jpg")
    client.force_login(viewer)
    doc = json.loads(download(client, project, format="coco"))
    assert sorted(i["file_name"] for i in doc["images"]) == ["a.jpg", "b.jpg", "c.jpg"]
    project.review_mode = False
    project.save()
    doc = json.loads(download(client, project, format="coco"))
    assert sorted(i["file_name"] for i in doc["images"]) == ["a.jpg", "b.jpg", "c.jpg", "pending.jpg"]


def test_clashing_file_names_get_the_image_id(client, viewer, project, dataset):
    twin = ImageFactory(project=project, batch=dataset, original_filename="a.jpg", review_state=ReviewState.APPROVED)
    client.force_login(viewer)
    archive = zipfile.ZipFile(io.BytesIO(download(client, project, format="voc")))
    assert f"a_{twin.pk}.jpg" in archive.namelist() and f"a_{twin.pk}.xml" in archive.namelist()


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "labeler", "viewer"])
def test_every_member_may_export(who, personas, client, project, dataset):
    client.force_login(personas[who])
    assert client.get(url(project, format="coco")).status_code == 200
    assert client.get(url(project)).status_code == 200


def test_other_workspaces_get_404(client, outsider, project, dataset):
    client.force_login(outsider)
    assert client.get(url(project, format="yolo")).status_code == 404
    assert client.get(url(project, format="yolo", batch=dataset.pk)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, project, dataset):
    assert client.get(url(project, format="coco")).status_code == 302


def test_only_a_dataset_batch_exports(client, viewer, project, make_batch):
    client.force_login(viewer)
    batch = make_batch(2)
    assert client.get(url(project, format="coco", batch=batch.pk)).status_code == 409


@pytest.mark.parametrize(
    "query", [{"format": "csv"}, {"format": "yolo", "split": "70,30"}, {"format": "voc", "seed": "x"}]
)
def test_bad_requests_say_why(client, viewer, project, dataset, query):
    client.force_login(viewer)
    response = client.get(url(project, **query))
    assert response.status_code == 400


def test_the_board_and_batch_page_link_to_the_export(client, viewer, project, dataset):
    client.force_login(viewer)
    export = url(project)
    assert export in client.get(reverse("board", args=[project.workspace.slug, project.slug])).content.decode()
    page = client.get(reverse("batch", args=[project.workspace.slug, project.slug, dataset.pk])).content.decode()
    assert f"{export}?batch={dataset.pk}&amp;format=yolo" in page
