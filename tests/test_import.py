"""Annotation import: VOC, COCO and YOLO files matched to images by name, in one transaction."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards import services
from boards.formats import ImageInfo, coco, voc, yolo
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, BatchStatus, LabelClass, ReviewState
from core.errors import NotAllowed
from tests.factories import BatchFactory, ImageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

A = ImageInfo(width=64, height=48, original_filename="a.jpg")


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car")


@pytest.fixture
def images(project):
    return {name: ImageFactory(project=project, original_filename=name) for name in ("a.jpg", "b.jpg")}


def boxes_of(image):
    return [(a.label.name, a.x, a.y, a.width, a.height) for a in Annotation.objects.filter(image=image).order_by("pk")]


def run(project, actor, files, **options):
    return services.import_annotation_files(
        project=project, actor=actor, files=[(n, t.encode() if isinstance(t, str) else t) for n, t in files], **options
    )


def test_voc_files_import_by_file_name(project, manager, car, images):
    report = run(project, manager, [("a.xml", voc.dump(A, [Box("car", 1, 2, 30, 20)]))])
    assert report.ok and [line.image for line in report.imported] == ["a.jpg"]
    assert boxes_of(images["a.jpg"]) == [("car", 1, 2, 30, 20)]
    images["a.jpg"].refresh_from_db()
    assert images["a.jpg"].annotation_state == AnnotationState.ANNOTATED


def test_one_coco_file_imports_every_image_it_names(project, manager, car, images):
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "z.jpg"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [5, 6, 7, 8]}],
    }
    report = run(project, manager, [("instances.json", json.dumps(doc))])
    assert report.ok
    assert [line.image for line in report.imported] == ["a.jpg", "b.jpg"]
    assert [line.file for line in report.skipped] == ["instances.json: z.jpg"]
    assert "No image" in report.skipped[0].reason
    assert boxes_of(images["a.jpg"]) == [("car", 5, 6, 7, 8)]
    images["b.jpg"].refresh_from_db()
    assert images["b.jpg"].annotation_state == AnnotationState.EMPTY


def test_yolo_files_import_with_their_class_names(project, manager, car, images):
    files = [("labels/a.txt", "0 0.5 0.5 0.25 0.5\n"), ("data.yaml", "nc: 1\nnames:\n  - car\n")]
    report = run(project, manager, files)
    assert report.ok and len(report.imported) == 1
    assert boxes_of(images["a.jpg"]) == [("car", 24, 12, 16, 24)]


def test_yolo_files_need_class_names(project, manager, car, images):
    report = run(project, manager, [("a.txt", "0 0.5 0.5 0.25 0.5\n")])
    assert not report.ok and "class" in report.errors[0].reason
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("b.xml", "<annotation><object><name>car</name></object>", "well-formed"),
        ("b.xml", "<annotation><object><name>car</name><bndbox><xmin>5</xmin></bndbox></object></annotation>", "ymin"),
        ("b.json", "{not json", "valid JSON"),
        ("b.json", '{"images": [{"id": 1, "file_name": "b.jpg"}], "annotations": [{"image_id": 2}]}', "image_id"),
        ("b.txt", "0 0.5 0.5\n", "Line 1"),
        ("b.csv", "x", "Cannot tell"),
    ],
)
def test_a_malformed_file_imports_nothing_and_says_which_and_why(project, manager, car, images, name, text, says):
    good = ("a.xml", voc.dump(A, [Box("car", 1, 2, 30, 20)]))
    report = run(project, manager, [good, (name, text), ("classes.txt", "car\n")])
    assert not report.ok and not report.imported
    assert report.errors[0].file == name and says in report.errors[0].reason
    assert not Annotation.objects.exists()


def test_a_failure_midway_rolls_everything_back(project, manager, car, images, monkeypatch):
    real = services.save_annotations
    calls = []

    def fail_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(services.importing, "save_annotations", fail_second)
    files = [(f"{n}.xml", voc.dump(A, [Box("car", 1, 2, 3, 4)]).replace("a.jpg", f"{n}.jpg")) for n in "ab"]
    with pytest.raises(RuntimeError):
        run(project, manager, files)
    assert not Annotation.objects.exists()


def test_unknown_classes_are_created_only_when_asked(project, manager, images):
    files = [("a.xml", voc.dump(A, [Box("truck", 1, 2, 3, 4)]))]
    report = run(project, manager, files)
    assert report.ok and not report.imported and "truck" in report.skipped[0].reason
    assert not LabelClass.objects.filter(project=project).exists()
    report = run(project, manager, files, create_classes=True)
    assert report.created_classes == ["truck"]
    assert boxes_of(images["a.jpg"]) == [("truck", 1, 2, 3, 4)]


def test_boxes_reaching_outside_are_clipped_or_refused(project, manager, car, images):
    files = [("a.xml", voc.dump(A, [Box("car", -5, 40, 20, 20)]))]
    report = run(project, manager, files, clip=False)
    assert not report.imported and "reaches outside the 64×48 image" in report.skipped[0].reason
    report = run(project, manager, files)
    assert report.imported[0].clipped == 1
    assert boxes_of(images["a.jpg"]) == [("car", 0, 40, 15, 8)]


def test_a_box_wholly_outside_is_refused(project, manager, car, images):
    report = run(project, manager, [("a.xml", voc.dump(A, [Box("car", 100, 100, 5, 5)]))])
    assert "wholly outside" in report.skipped[0].reason and not Annotation.objects.exists()


def test_images_past_unassigned_are_skipped_and_annotated_ones_kept_unless_asked(project, manager, car, images):
    busy = BatchFactory(project=project, status=BatchStatus.ANNOTATING, name="busy")
    images["b.jpg"].batch = busy
    images["b.jpg"].save()
    done = run(project, manager, [("a.xml", voc.dump(A, [Box("car", 1, 1, 2, 2)]))])
    assert len(done.imported) == 1
    files = [
        ("a.xml", voc.dump(A, [Box("car", 3, 3, 4, 4)])),
        ("b.xml", voc.dump(A, [Box("car", 3, 3, 4, 4)]).replace("a.jpg", "b.jpg")),
    ]
    report = run(project, manager, files)
    reasons = {line.image: line.reason for line in report.skipped}
    assert "already annotated" in reasons["a.jpg"] and "“busy” is in Annotating" in reasons["b.jpg"]
    assert run(project, manager, files[:1], overwrite=True).imported
    assert boxes_of(images["a.jpg"]) == [("car", 3, 3, 4, 4)]


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_only_managers_and_owners_import(who, personas, project, images):
    with pytest.raises(NotAllowed):
        run(project, personas[who], [("a.xml", voc.dump(A, []))])


def test_the_import_page_shows_the_report(client, manager, project, car, images):
    client.force_login(manager)
    page = reverse("import", args=[project.workspace.slug, project.slug])
    assert client.get(page).status_code == 200
    upload = SimpleUploadedFile("a.xml", voc.dump(A, [Box("car", 1, 2, 3, 4)]).encode())
    stray = SimpleUploadedFile("nothing.xml", voc.dump(A, []).replace("a.jpg", "nothing.jpg").encode())
    response = client.post(page, {"files": [upload, stray]})
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 image imported, 1 skipped" in body and "nothing.xml" in body
    broken = SimpleUploadedFile("a.xml", b"<annotation>")
    response = client.post(page, {"files": [broken]})
    assert response.status_code == 422 and "Nothing was imported" in response.content.decode()


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("manager", 200), ("reviewer", 403), ("outsider", 404)])
def test_the_import_page_is_for_managers_and_owners(who, status, personas, client, project):
    client.force_login(personas[who])
    assert client.get(reverse("import", args=[project.workspace.slug, project.slug])).status_code == status


# --- round trip: export, then import into a fresh project's same images ------------


def _annotated_dataset(project):
    classes = {n: LabelClass.objects.create(project=project, name=n) for n in ("car", "person", "sign")}
    batch = BatchFactory(project=project, status=BatchStatus.DATASET)
    spec = {
        "a.jpg": [("car", 10, 5, 20, 10), ("person", 0, 0, 64, 48)],
        "b.jpg": [("sign", 30, 12, 8, 16), ("car", 1, 2, 3, 4)],
        "c.jpg": [],
    }
    for name, boxes in spec.items():
        image = ImageFactory(project=project, batch=batch, original_filename=name, review_state=ReviewState.APPROVED)
        for label, x, y, w, h in boxes:
            Annotation.objects.create(image=image, label=classes[label], x=x, y=y, width=w, height=h)
    return spec


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc"])
def test_an_export_imports_back_to_the_same_boxes_and_classes(fmt, client, manager, project, workspace):
    spec = _annotated_dataset(project)
    client.force_login(manager)
    response = client.get(reverse("export", args=[workspace.slug, project.slug]) + f"?format={fmt}&split=50,50,0")
    content = b"".join(response.streaming_content)
    archive = zipfile.ZipFile(io.BytesIO(content))
    files = [(n, archive.read(n)) for n in archive.namelist() if not n.endswith(".jpg")]

    fresh = ProjectFactory(workspace=workspace, slug="fresh")
    targets = {name: ImageFactory(project=fresh, original_filename=name) for name in spec}
    report = services.import_annotation_files(project=fresh, actor=manager, files=files, create_classes=True)
    assert report.ok and not report.skipped and len(report.imported) == 3

    def rounded(image):
        return sorted((label, round(x), round(y), round(w), round(h)) for label, x, y, w, h in boxes_of(image))

    for name, boxes in spec.items():
        assert rounded(targets[name]) == sorted(boxes)
    assert set(LabelClass.objects.filter(project=fresh).values_list("name", flat=True)) == {"car", "person", "sign"}
    targets["c.jpg"].refresh_from_db()
    assert targets["c.jpg"].annotation_state == AnnotationState.EMPTY


def test_coco_round_trip_keeps_fractional_pixels(client, manager, project, workspace):
    classes = LabelClass.objects.create(project=project, name="car")
    batch = BatchFactory(project=project, status=BatchStatus.DATASET)
    image = ImageFactory(project=project, batch=batch, original_filename="a.jpg", review_state=ReviewState.APPROVED)
    Annotation.objects.create(image=image, label=classes, x=1.5, y=2.25, width=3.125, height=4)
    client.force_login(manager)
    content = b"".join(
        client.get(reverse("export", args=[workspace.slug, project.slug]) + "?format=coco").streaming_content
    )
    fresh = ProjectFactory(workspace=workspace, slug="fresh")
    target = ImageFactory(project=fresh, original_filename="a.jpg")
    services.import_annotation_files(project=fresh, actor=manager, files=[("c.json", content)], create_classes=True)
    assert boxes_of(target) == [("car", 1.5, 2.25, 3.125, 4)]
    assert coco.parse_document(content.decode())[0][0] == "a.jpg"
    assert yolo.read_names('names: {0: "car", 1: bus}\n', "data.yaml") == ["car", "bus"]
