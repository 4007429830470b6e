"""Pascal VOC XML read with defusedxml: no DTD or entity in any encoding, and VOC as LabelImg and CVAT write it."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards import services
from boards.formats import AnnotationFormatError, voc
from boards.models import Annotation, LabelClass
from tests.api_support import Api, error_of
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db

BODY = (
    "<annotation><filename>a.jpg</filename><object><name>{name}</name>"
    "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>11</xmax><ymax>12</ymax></bndbox></object></annotation>"
)

HOSTILE = {
    "internal-entity": '<!DOCTYPE annotation [<!ENTITY cls "car">]>' + BODY.format(name="&cls;"),
    "billion-laughs": (
        '<!DOCTYPE annotation [<!ENTITY a "lollollollollollollollollollol">'
        + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
        + "]>"
        + BODY.format(name="&j;")
    ),
    "external-entity": '<!DOCTYPE annotation [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + BODY.format(name="&x;"),
    "doctype-only": '<!DOCTYPE annotation SYSTEM "http://example.com/voc.dtd">' + BODY.format(name="car"),
    "parameter-entity": '<!DOCTYPE annotation [<!ENTITY % p SYSTEM "http://example.com/x.dtd"> %p;]>'
    + BODY.format(name="car"),
}


def encoded(text: str, encoding: str) -> bytes:
    """``text`` with an XML declaration naming ``encoding``, in that encoding (a BOM only where the codec adds one)."""
    declared = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}
    name = declared.get(encoding, encoding.upper())
    return f'<?xml version="1.0" encoding="{name}"?>\n{text}'.encode(encoding)


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "iso-8859-1"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_dtds_and_entities_are_refused_in_every_encoding(attack, encoding):
    data = encoded(HOSTILE[attack], encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        assert not data.startswith((b"\xff\xfe", b"\xfe\xff"))  # no byte-order mark
    started = time.perf_counter()
    with pytest.raises(AnnotationFormatError, match="DTD or entities"):
        voc.parse(data, image_width=0, image_height=0)
    with pytest.raises(AnnotationFormatError, match="DTD or entities"):
        voc.filename_in(data)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_dtds_are_refused_in_text_too(attack):
    with pytest.raises(AnnotationFormatError, match="DTD or entities"):
        voc.parse(HOSTILE[attack], image_width=0, image_height=0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_plain_voc_file_reads_in_every_encoding(encoding):
    data = encoded(BODY.format(name="café"), encoding)
    boxes = voc.parse(data, image_width=0, image_height=0)
    assert [(b.label, b.x, b.y, b.width, b.height) for b in boxes] == [("café", 1, 2, 10, 10)]
    assert voc.filename_in(data) == "a.jpg"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_cannot_hide_an_entity_from_the_import(encoding, project, manager):
    """Before, the import decoded these bytes as UTF-8 (NULs and all), found no “<!DOCTYPE”, and expanded it."""
    ImageFactory(project=project, original_filename="a.jpg")
    LabelClass.objects.create(project=project, name="car")
    files = [("a.xml", encoded(HOSTILE["internal-entity"], encoding))]
    report = services.import_annotation_files(project=project, actor=manager, files=files)
    assert not report.ok and "DTD or entities" in report.errors[0].reason
    assert not Annotation.objects.exists()


# As LabelImg saves it (PascalVocWriter), with a non-ASCII class.
LABELIMG = """<annotation>
	<folder>images</folder>
	<filename>straße_01.jpg</filename>
	<path>/home/ana/datasets/straße/images/straße_01.jpg</path>
	<source>
		<database>Unknown</database>
	</source>
	<size>
		<width>64</width>
		<height>48</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>
	<object>
		<name>Fußgänger</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>5</xmin>
			<ymin>6</ymin>
			<xmax>25</xmax>
			<ymax>40</ymax>
		</bndbox>
	</object>
	<object>
		<name>自転車</name>
		<pose>Unspecified</pose>
		<truncated>1</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>30</xmin>
			<ymin>10</ymin>
			<xmax>64</xmax>
			<ymax>48</ymax>
		</bndbox>
	</object>
</annotation>
"""

# As CVAT's "PASCAL VOC 1.1" export writes it: <occluded>, float corners, <attributes>.
CVAT = """<?xml version="1.0" encoding="utf-8"?>
<annotation>
  <folder></folder>
  <filename>frame_000001.jpg</filename>
  <source>
    <database>Unknown</database>
    <annotation>Unknown</annotation>
    <image>Unknown</image>
  </source>
  <size>
    <width>64</width>
    <height>48</height>
    <depth></depth>
  </size>
  <segmented>0</segmented>
  <object>
    <name>car</name>
    <truncated>0</truncated>
    <occluded>1</occluded>
    <difficult>0</difficult>
    <bndbox>
      <xmin>10.5</xmin>
      <ymin>4.25</ymin>
      <xmax>30.75</xmax>
      <ymax>20.0</ymax>
    </bndbox>
    <attributes>
      <attribute>
        <name>color</name>
        <value>red</value>
      </attribute>
    </attributes>
  </object>
</annotation>
"""


def test_it_reads_labelimg_voc_with_non_ascii_classes():
    boxes = voc.parse(LABELIMG.encode(), image_width=0, image_height=0)
    assert [(b.label, b.x, b.y, b.width, b.height) for b in boxes] == [
        ("Fußgänger", 5, 6, 20, 34),
        ("自転車", 30, 10, 34, 38),
    ]
    assert voc.filename_in(LABELIMG.encode()) == "straße_01.jpg"


def test_it_reads_cvat_voc_with_occluded_floats_and_attributes():
    boxes = voc.parse(CVAT.encode(), image_width=0, image_height=0)
    assert [(b.label, b.x, b.y, b.width, b.height) for b in boxes] == [("car", 10.5, 4.25, 20.25, 15.75)]


def test_the_import_page_takes_labelimg_and_cvat_files(client, manager, project):
    street = ImageFactory(project=project, original_filename="straße_01.jpg")
    frame = ImageFactory(project=project, original_filename="frame_000001.jpg")
    client.force_login(manager)
    page = reverse("import", args=[project.workspace.slug, project.slug])
    files = [
        SimpleUploadedFile("straße_01.xml", LABELIMG.encode("utf-16")),
        SimpleUploadedFile("frame_000001.xml", CVAT.encode()),
    ]
    response = client.post(page, {"files": files, "create_classes": "on"})
    assert response.status_code == 200, response.content.decode()[-2000:]
    assert "2 images imported" in response.content.decode()
    assert sorted(Annotation.objects.filter(image=street).values_list("label__name", flat=True)) == [
        "Fußgänger",
        "自転車",
    ]
    assert list(Annotation.objects.filter(image=frame).values_list("x", "y", "width", "height")) == [
        (10.5, 4.25, 20.25, 15.75)
    ]


def test_the_import_page_names_the_hostile_file(client, manager, project):
    ImageFactory(project=project, original_filename="a.jpg")
    client.force_login(manager)
    page = reverse("import", args=[project.workspace.slug, project.slug])
    bomb = SimpleUploadedFile("a.xml", encoded(HOSTILE["billion-laughs"], "utf-16-le"))
    response = client.post(page, {"files": [bomb]})
    assert response.status_code == 422
    body = response.content.decode()
    assert "a.xml" in body and "DTD or entities" in body
    assert not Annotation.objects.exists()


def test_the_api_refuses_an_entity_in_an_annotation_file(client, manager, make_key, project):
    image = ImageFactory(project=project, original_filename="a.jpg")
    api = Api(client, make_key(manager))
    response = api.post(
        f"/dataset/parcels/annotate/{image.pk}",
        {"annotationFile": HOSTILE["internal-entity"]},
        params={"name": "a.xml"},
    )
    assert response.status_code == 400
    assert "DTD or entities" in error_of(response)["message"]
    assert not Annotation.objects.exists()
