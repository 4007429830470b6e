"""YOLO class names: data.yaml read with PyYAML as Ultralytics, Roboflow and CVAT write it, and written back."""

import io
import time
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards import services
from boards.formats import AnnotationFormatError, yolo
from boards.models import Annotation, BatchStatus, LabelClass, ReviewState
from tests.factories import BatchFactory, ImageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

# As Ultralytics ships it (ultralytics/cfg/datasets/coco8.yaml), cut to the first classes.
COCO8 = """\
# Ultralytics 🚀 AGPL-3.0 License - https://ultralytics.com/license

# COCO8 dataset (first 8 images from COCO train2017) by Ultralytics
# Documentation: https://docs.ultralytics.com/datasets/detect/coco8/
# Example usage: yolo train data=coco8.yaml
# parent
# ├── ultralytics
# └── datasets
#     └── coco8 ← downloads here (1 MB)

# Train/val/test sets as 1) dir: path/to/imgs, 2) file: path/to/imgs.txt, or 3) list: [path/to/imgs1, path/to/imgs2, ..]
path: coco8 # dataset root dir
train: images/train # train images (relative to 'path') 4 images
val: images/val # val images (relative to 'path') 4 images
test: # test images (optional)

# Classes
names:
  0: person
  1: bicycle
  2: car
  3: motorcycle
  4: airplane

# Download script/URL (optional)
download: https://github.com/ultralytics/assets/releases/download/v0.0.0/coco8.zip
"""

# As Roboflow's "YOLOv8" export writes it.
ROBOFLOW = """\
train: ../train/images
val: ../valid/images
test: ../test/images

nc: 3
names: ['cardboard box', 'person', "pallet jack"]

roboflow:
  workspace: acme-logistics
  project: warehouse-2k4mf
  version: 3
  license: CC BY 4.0
  url: https://universe.roboflow.com/acme-logistics/warehouse-2k4mf/dataset/3
"""

# CVAT's "YOLO 1.1" export: obj.names, one class a line.
CVAT_OBJ_NAMES = "car\ntraffic light\nstop sign\n"

HOSTILE_NAMES = ["café", 'say "hi"', "a, b", "x: y", "#hash", "it's", "[bracket]", "{brace}", "- dash", "yes", "007"]


def read(text, filename="data.yaml"):
    return yolo.read_names(text, filename)


def test_it_reads_coco8_as_ultralytics_writes_it():
    assert read(COCO8) == ["person", "bicycle", "car", "motorcycle", "airplane"]


def test_it_reads_roboflows_export_with_nc_and_the_roboflow_block():
    assert read(ROBOFLOW) == ["cardboard box", "person", "pallet jack"]


def test_it_reads_cvats_obj_names():
    assert read(CVAT_OBJ_NAMES, "obj.names") == ["car", "traffic light", "stop sign"]


@pytest.mark.parametrize(
    "text",
    [
        'names: [café, \'say "hi"\', "a, b"]\n',
        'names:\n  - café\n  - \'say "hi"\'\n  - "a, b"  # a comment\n',
        "names:\n  0: café\n  1: 'say \"hi\"'\n  2: a, b\n",
        'names: {0: café, 1: \'say "hi"\', 2: "a, b"}\n',
        "names: {'1': 'say \"hi\"', '0': café, '2': 'a, b'}\n",
        'nc: 3\nnames: ["caf\\u00e9", "say \\"hi\\"", "a, b"]\n',
        '\ufeffnames:\n- café\n- say "hi"\n- a, b\n',
    ],
    ids=["flow-list", "block-list", "block-map", "flow-map", "string-keys", "json-escapes", "bom-unindented"],
)
def test_every_form_real_tools_write_gives_the_same_names(text):
    assert read(text.lstrip("\ufeff")) == ["café", 'say "hi"', "a, b"]


def test_the_old_export_line_that_the_subset_reader_split_into_broken_names():
    # What Batchboard's export wrote before: JSON strings in a flow list.
    assert read('path: .\nnc: 3\nnames: ["caf\\u00e9", "say \\"hi\\"", "a, b"]\n') == ["café", 'say "hi"', "a, b"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("names: [a, b\n", "not valid YAML on line"),
        ("names:\n  - a\n - b\n", "not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("just text\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("train: images\n", "no “names” entry"),
        ("names: car\n", "must be a list of names or a mapping"),
        ("names: []\n", "lists no classes"),
        ("names: [car, '']\n", "class 1 has no name"),
        ("names: [car, '  ']\n", "class 1 has no name"),
        ("names: [car, [a, b]]\n", "class 1's name is a list, not a name"),
        ("names:\n  0: car\n  2: bus\n", "without gaps; 1 is missing"),
        ("names:\n  1: car\n  2: bus\n", "0 is missing"),
        ("names: {0: car, -1: bus}\n", "keys must be class numbers"),
        ("names: {0: car, one: bus}\n", "keys must be class numbers"),
        ("names: {0: car, '0': bus}\n", "the key '0' appears twice"),
        ("nc: 4\nnames: [a, b, c]\n", "says nc: 4, but “names” lists 3 classes"),
        ("nc: three\nnames: [a, b, c]\n", "“nc” must be the number of classes"),
        ("names: [a]\n---\nnames: [b]\n", "not valid YAML"),
        ("names: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ],
)
def test_malformed_data_yaml_is_a_clear_error(text, says):
    with pytest.raises(AnnotationFormatError) as error:
        read(text)
    assert says in str(error.value)


def test_aliases_are_refused_so_a_billion_laughs_cannot_expand():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 10):
        prev, cur = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 10)}]")
    lines.append("names: *j")
    bomb = "\n".join(lines) + "\n"
    started = time.perf_counter()
    with pytest.raises(AnnotationFormatError) as error:
        read(bomb)
    assert "alias *a" in str(error.value)
    assert time.perf_counter() - started < 1
    # safe_load alone would build 10**10 strings from these 700 bytes.
    with pytest.raises(AnnotationFormatError, match="alias"):
        read("base: &b car\nnames: [*b]\n")


def test_huge_or_deeply_nested_yaml_is_refused_quickly():
    with pytest.raises(AnnotationFormatError, match="over 1,000,000 characters"):
        read("names:\n" + "  - car\n" * 200_000)
    with pytest.raises(AnnotationFormatError, match="nests too deeply|not valid YAML"):
        read("names: " + "[" * 50_000 + "]" * 50_000 + "\n")


def test_the_writer_writes_what_pyyaml_and_the_reader_read_back():
    text = yolo.data_yaml(HOSTILE_NAMES, {"train": "train/images", "val": "valid/images"})
    data = yaml.safe_load(text)
    # Ultralytics reads data.yaml with yaml.safe_load and takes names as {number: name}.
    assert data["names"] == dict(enumerate(HOSTILE_NAMES))
    assert data["nc"] == len(HOSTILE_NAMES) and data["train"] == "train/images"
    assert "café" in text  # written as UTF-8, not \\u escapes
    assert read(text) == HOSTILE_NAMES


# --- through the export view and the import page -----------------------------------


@pytest.fixture
def hostile_dataset(project):
    classes = {n: LabelClass.objects.create(project=project, name=n) for n in HOSTILE_NAMES}
    batch = BatchFactory(project=project, status=BatchStatus.DATASET)
    image = ImageFactory(project=project, batch=batch, original_filename="a.jpg", review_state=ReviewState.APPROVED)
    for n, name in enumerate(HOSTILE_NAMES):
        Annotation.objects.create(image=image, label=classes[name], x=n, y=n, width=10, height=8)
    return image


@pytest.mark.parametrize("split", ["", "&split=50,50,0"])
def test_names_with_commas_quotes_colons_hashes_and_accents_survive_export_then_import(
    split, client, manager, project, workspace, hostile_dataset
):
    client.force_login(manager)
    response = client.get(reverse("export", args=[workspace.slug, project.slug]) + "?format=yolo" + split)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = archive.read("data.yaml").decode()
    assert yaml.safe_load(data)["names"] == dict(enumerate(sorted(HOSTILE_NAMES)))

    fresh = ProjectFactory(workspace=workspace, slug="fresh")
    target = ImageFactory(project=fresh, original_filename="a.jpg")
    uploads = [
        SimpleUploadedFile(name.rsplit("/", 1)[-1], archive.read(name))
        for name in archive.namelist()
        if name.endswith((".txt", ".yaml"))
    ]
    page = reverse("import", args=[workspace.slug, fresh.slug])
    response = client.post(page, {"files": uploads, "create_classes": "on"})
    assert response.status_code == 200, response.content.decode()[-2000:]
    assert "1 image imported" in response.content.decode()
    assert set(LabelClass.objects.filter(project=fresh).values_list("name", flat=True)) == set(HOSTILE_NAMES)
    got = sorted((a.label.name, round(a.x), round(a.y)) for a in Annotation.objects.filter(image=target))
    assert got == sorted((name, n, n) for n, name in enumerate(HOSTILE_NAMES))


def test_a_roboflow_export_imports_with_its_data_yaml(project, manager):
    image = ImageFactory(project=project, original_filename="dock_0001.jpg")
    for name in ("cardboard box", "person", "pallet jack"):
        LabelClass.objects.create(project=project, name=name)
    files = [("data.yaml", ROBOFLOW.encode()), ("train/labels/dock_0001.txt", b"2 0.5 0.5 0.25 0.5\n")]
    report = services.import_annotation_files(project=project, actor=manager, files=files)
    assert report.ok and len(report.imported) == 1
    assert [(a.label.name, a.x, a.y) for a in Annotation.objects.filter(image=image)] == [("pallet jack", 24, 12)]


def test_a_data_yaml_that_disagrees_with_itself_imports_nothing(project, manager):
    ImageFactory(project=project, original_filename="a.jpg")
    files = [("data.yaml", b"nc: 2\nnames: [car]\n"), ("a.txt", b"0 0.5 0.5 0.25 0.5\n")]
    report = services.import_annotation_files(project=project, actor=manager, files=files)
    assert not report.ok and "nc: 2" in report.errors[0].reason
    assert not Annotation.objects.exists()


def test_plain_names_that_yaml_would_read_as_numbers_or_booleans_keep_their_text():
    # Digit datasets and hand-written files name classes 0..9, "no", "on", "1e3";
    # Ultralytics turns them into text, and so do we, as written.
    text = "nc: 6\nnames: [0, 12, no, On, 1e3, ~]\n"
    assert read(text) == ["0", "12", "no", "On", "1e3", "~"]
    assert read("names:\n  0: 7\n  1: yes # comment\n") == ["7", "yes"]
