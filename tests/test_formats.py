"""Annotation files: VOC, COCO and YOLO parse and write one image's boxes, to the pixel."""

import json

import pytest

from boards.formats import AnnotationFormatError, ImageInfo, coco, format_for, voc, yolo
from boards.formats.box import Box

IMAGE = ImageInfo(width=640, height=480, original_filename="street-001.jpg")
BOXES = [
    Box("car", 10, 20, 100, 50),
    Box("person", 300.5, 120.25, 40.75, 90.5),
    Box("car", 0, 0, 640, 480),
]


def close(a: list[Box], b: list[Box], tolerance: float) -> bool:
    return len(a) == len(b) and all(
        x.label == y.label
        and all(abs(getattr(x, f) - getattr(y, f)) <= tolerance for f in ("x", "y", "width", "height"))
        for x, y in zip(a, b, strict=True)
    )


def parse(module, text, **kwargs):
    return module.parse(
        text, image_width=IMAGE.width, image_height=IMAGE.height, filename=IMAGE.original_filename, **kwargs
    )


@pytest.mark.parametrize("module", [voc, coco])
def test_voc_and_coco_round_trip_exactly(module):
    assert parse(module, module.dump(IMAGE, BOXES)) == BOXES


def test_yolo_round_trips_to_the_pixel():
    text = yolo.dump(IMAGE, BOXES, classes=["car", "person"])
    assert text.splitlines()[0] == "0 0.093750 0.093750 0.156250 0.104167"
    assert close(parse(yolo, text, labelmap=["car", "person"]), BOXES, tolerance=0.01)


def test_yolo_takes_labelmaps_as_dicts_with_string_or_int_keys():
    text = "1 0.5 0.5 0.25 0.5\n"
    expected = [Box("person", 240, 120, 160, 240)]
    assert parse(yolo, text, labelmap={"0": "car", "1": "person"}) == expected
    assert parse(yolo, text, labelmap={0: "car", 1: "person"}) == expected


def test_yolo_without_a_labelmap_uses_the_class_numbers():
    assert parse(yolo, "3 0.5 0.5 0.5 0.5") == [Box("3", 160, 120, 320, 240)]


def test_yolo_default_classes_are_sorted_and_listed_for_the_labelmap():
    text = yolo.dump(IMAGE, [Box("zebra", 0, 0, 64, 48), Box("ant", 0, 0, 64, 48)])
    assert [line.split()[0] for line in text.splitlines()] == ["1", "0"]
    assert yolo.labelmap_text(["ant", "zebra"]) == "ant\nzebra\n"


def test_voc_applies_a_labelmap_and_ignores_other_elements():
    text = voc.dump(IMAGE, [Box("c1", 1, 2, 3, 4)])
    assert parse(voc, text, labelmap={"c1": "car"}) == [Box("car", 1, 2, 3, 4)]


def test_voc_escapes_names():
    boxes = [Box("a<b & c>", 1, 1, 2, 2)]
    assert parse(voc, voc.dump(ImageInfo(10, 10, "x&y.jpg"), boxes)) == boxes


def test_coco_picks_the_image_by_file_name_among_many():
    document = {
        "images": [{"id": 1, "file_name": "other.jpg"}, {"id": 2, "file_name": "train/street-001.jpg"}],
        "categories": [{"id": 7, "name": "car"}],
        "annotations": [
            {"image_id": 1, "category_id": 7, "bbox": [1, 1, 1, 1]},
            {"image_id": 2, "category_id": 7, "bbox": [5, 6, 7, 8]},
        ],
    }
    assert parse(coco, json.dumps(document)) == [Box("car", 5, 6, 7, 8)]


def test_coco_matches_a_renamed_extension():
    document = {
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "street-001.png"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 2, 2]}],
    }
    assert parse(coco, json.dumps(document)) == [Box("car", 0, 0, 2, 2)]


@pytest.mark.parametrize(
    ("module", "text", "message"),
    [
        (voc, "<annotation><object>", "not well-formed"),
        (voc, "<root/>", "starts with <annotation>"),
        (voc, "<annotation><object><bndbox/></object></annotation>", "no <name>"),
        (voc, "<annotation><object><name>a</name></object></annotation>", "no <bndbox>"),
        (voc, "<annotation><object><name>a</name><bndbox><xmin>1</xmin></bndbox></object></annotation>", "no <ymin>"),
        (
            voc,
            "<annotation><object><name>a</name><bndbox><xmin>x</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>"
            "</bndbox></object></annotation>",
            "not a number",
        ),
        (
            voc,
            "<annotation><object><name>a</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>"
            "</bndbox></object></annotation>",
            "not beyond",
        ),
        (voc, '<!DOCTYPE a [<!ENTITY x "y">]><annotation/>', "DTD"),
        (coco, "{not json", "not valid JSON"),
        (coco, "[]", "an object"),
        (coco, '{"annotations": [{"bbox": [1, 2, 3]}]}', "bbox"),
        (coco, '{"annotations": [{"bbox": [1, 2, 3, "x"]}]}', "not a number"),
        (coco, '{"annotations": [{"bbox": [1, 2, 3, 4], "category_id": 9}]}', "no category names"),
        (coco, '{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}]}', "none is named"),
        (coco, '{"annotations": [{"bbox": [1, 2, 3, NaN], "category_id": 1}], "categories": [{"id": 1}]}', "finite"),
        (yolo, "0 0.5 0.5 0.5", "has 4 values"),
        (yolo, "car 0.5 0.5 0.5 0.5", "not a class number"),
        (yolo, "0 0.5 x 0.5 0.5", "not a number"),
    ],
)
def test_malformed_files_raise_a_clear_error(module, text, message):
    with pytest.raises(AnnotationFormatError, match=message):
        parse(module, text)


def test_a_yolo_class_missing_from_the_labelmap_is_an_error():
    with pytest.raises(AnnotationFormatError, match="not in the labelmap"):
        parse(yolo, "2 0.5 0.5 0.5 0.5", labelmap=["car"])


@pytest.mark.parametrize("labelmap", ["car", 5, {"0": ""}, ["car", None]])
def test_bad_labelmaps_are_errors(labelmap):
    with pytest.raises(AnnotationFormatError, match="labelmap"):
        parse(yolo, "0 0.5 0.5 0.5 0.5", labelmap=labelmap)


def test_the_error_is_a_value_error():
    assert issubclass(AnnotationFormatError, ValueError)


@pytest.mark.parametrize(("name", "module"), [("a.xml", voc), ("b.JSON", coco), ("dir/c.txt", yolo)])
def test_the_extension_picks_the_format(name, module):
    assert format_for(name) is module


def test_an_unknown_extension_is_an_error():
    with pytest.raises(AnnotationFormatError, match=r"\.xml \(Pascal VOC\)"):
        format_for("labels.csv")
