"""Annotation files are input too: hostile ones get a reason, never a 500.

The files go through the import page (bytes, as a browser sends them) and the
API's annotate endpoint (text), on SQLite and PostgreSQL: an integer of
thousands of digits, "²" as a class number, YAML keys that are lists, XML in a
multi-byte encoding, class names PostgreSQL cannot store.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards.formats import ImageInfo, voc
from boards.formats.box import Box
from boards.models import Annotation, LabelClass
from tests.factories import BatchFactory, ImageFactory
from tests.test_api_uploads import annotate, image  # noqa: F401 - the fixture, by name

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000

PAGE_FILES = [
    ("a.txt", "² 0.5 0.5 0.1 0.1\n", "not a class number"),
    ("a.txt", f"{HUGE} 0.5 0.5 0.1 0.1\n", "not a class number"),
    ("a.txt", f"0 {HUGE} 0.5 0.1 0.1\n", "not a finite number"),
    ("a.txt", "0 0.5 0.5 0.1 1e400\n", "not a finite number"),
    ("data.yaml", "names: {[a]: b}\n", "not valid YAML"),
    ("data.yaml", f"nc: {HUGE}\nnames: [a]\n", "must be the number of classes"),
    ("data.yaml", f"names:\n  {HUGE}: a\n", "not valid YAML"),
    ("data.yaml", "names:\n  12345678901: a\n", "must be class numbers"),
    (
        "a.json",
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg"}],
                "annotations": [{"image_id": 1, "category_id": 1, "bbox": [int("9" * 400), 1, 2, 3]}],
            }
        ),
        "is not a number",
    ),
    ("a.json", '{"annotations": [' + "1" * 5000 + "]}", "not valid JSON"),
    ("a.json", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ("a.xml", '<?xml version="1.0" encoding="x-no-such-thing"?><annotation/>', "encoding"),
    # JSON's and YAML's "\ud800" escape reads as a lone surrogate, which no page or database can hold:
    # in a file name no image has, in a class name, in a data.yaml's names.
    *(
        (
            "a.json",
            json.dumps(
                {
                    "images": [{"id": 1, "file_name": file}],
                    "categories": [{"id": 1, "name": name}],
                    "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 3]}],
                }
            ),
            "holds a lone surrogate",
        )
        for file, name in [("b\ud800.jpg", "car"), ("a.jpg", "car\ud800")]
    ),
    ("data.yaml", 'names: ["car\\ud800"]\n', "holds a lone surrogate"),
]


@pytest.fixture
def photo(project):
    return ImageFactory(
        project=project, batch=BatchFactory(project=project), original_filename="a.jpg", width=100, height=80
    )


def post_import(client, project, name, content: bytes):
    page = reverse("import", args=[project.workspace.slug, project.slug])
    return client.post(page, {"files": [SimpleUploadedFile(name, content)], "create_classes": "on"})


PAGE_IDS = [f"{name}-{n}" for n, (name, _text, _says) in enumerate(PAGE_FILES)]


@pytest.mark.parametrize(("name", "text", "says"), PAGE_FILES, ids=PAGE_IDS)
def test_the_import_page_refuses_a_hostile_file_with_its_reason(client, manager, project, photo, name, text, says):
    client.force_login(manager)
    files = [(name, text.encode())]
    if name == "a.txt":
        files.append(("classes.txt", b"car\n"))
    page = reverse("import", args=[project.workspace.slug, project.slug])
    uploads = [SimpleUploadedFile(n, c) for n, c in files]
    response = client.post(page, {"files": uploads, "create_classes": "on"})
    assert response.status_code == 422, response.content[:300]
    assert says in response.content.decode()
    assert not Annotation.objects.filter(image=photo).exists()


@pytest.mark.parametrize("encoding", ["shift_jis", "gbk", "big5", "euc-kr", "euc-jp"])
def test_voc_in_a_multi_byte_encoding_imports_with_its_class_names(client, manager, project, photo, encoding):
    name = {"gbk": "汽车", "big5": "汽車", "euc-kr": "자동차"}.get(encoding, "自動車")
    text = voc.dump(ImageInfo(100, 80, "a.jpg"), [Box(name, 10, 10, 20, 20)])
    text = text.replace('<?xml version="1.0" encoding="utf-8"?>', "").replace("<?xml version='1.0'?>", "")
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n{text.lstrip()}'.encode(encoding)
    client.force_login(manager)
    response = post_import(client, project, "a.xml", data)
    assert response.status_code == 200, response.content.decode()[:500]
    assert list(Annotation.objects.filter(image=photo).values_list("label__name", flat=True)) == [name]


@pytest.mark.parametrize(
    ("label", "says"),
    [("car\x00", "NUL"), ("car\ud800", "lone surrogate"), ("c" * 101, "at most 100 characters")],
)
def test_a_class_name_the_database_cannot_store_is_refused(api, image, label, says):  # noqa: F811
    document = {
        "images": [{"id": 1, "file_name": "photo.jpg", "width": image.width, "height": image.height}],
        "categories": [{"id": 1, "name": label}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
    }
    response = annotate(api, image, json.dumps(document), name="photo.json")
    assert response.status_code == 400 and says in response.json()["error"]["message"]
    assert (
        not LabelClass.objects.filter(project=image.project)
        .exclude(name__in=["car"])
        .filter(name__startswith="c")
        .exists()
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("photo.txt", "² 0.5 0.5 0.1 0.1\n"),
        ("photo.txt", f"{HUGE} 0.5 0.5 0.1 0.1\n"),
        ("photo.json", '{"annotations": [{"bbox": [' + "9" * 400 + ", 1, 2, 3]}]}"),
        ("photo.json", '{"annotations": [' + "1" * 5000 + "]}"),
        ("photo.xml", f"<annotation><object><name>a</name><bndbox><xmin>{HUGE}</xmin></bndbox></object></annotation>"),
    ],
    ids=["unicode-digit-class", "huge-class", "huge-bbox", "huge-int", "huge-voc-number"],
)
def test_the_api_refuses_a_hostile_annotation_file_with_400(api, image, name, text):  # noqa: F811
    response = annotate(api, image, text, name=name, labelmap={"0": "car"})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["message"]
    assert not Annotation.objects.filter(image=image).exists()
