"""COCO JSON for one image.

A COCO file may describe many images; ``parse`` takes the boxes of the one
whose ``file_name`` matches ``filename`` (or the only image there is). ``bbox``
is ``[x, y, width, height]`` from the top-left corner, in pixels.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator

from boards.formats.base import (
    AnnotationFormatError,
    Dataset,
    Found,
    ImageLike,
    Member,
    normalize_labelmap,
    number,
    refuse_lone_surrogates,
)
from boards.formats.box import Box

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _basename(name: str) -> str:
    return posixpath.basename(str(name).replace("\\", "/"))


def _pick_image(images: list, filename: str) -> dict | None:
    if not images:
        return None
    if len(images) == 1:
        return images[0]
    wanted = _basename(filename)
    stem = wanted.rsplit(".", 1)[0]
    for image in images:
        name = _basename(image.get("file_name", ""))
        if name == wanted or name.rsplit(".", 1)[0] == stem:
            return image
    raise AnnotationFormatError(f"The COCO file describes {len(images)} images and none is named “{wanted}”.")


def _read(text: str, labelmap) -> tuple[dict, list[dict], dict[str, str]]:
    """The document, its images, and class names by category id (a labelmap overrides)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer of thousands of digits
        raise AnnotationFormatError(f"This is not valid JSON ({str(exc)[:200]}).") from None
    # A lone surrogate can only come from an escape: walk the document only when it has one.
    if _SURROGATE_ESCAPE.search(text):
        refuse_lone_surrogates(data)
    if not isinstance(data, dict) or not isinstance(data.get("annotations", []), list):
        raise AnnotationFormatError("A COCO file is an object with an “annotations” list.")
    images = data.get("images") or []
    categories = data.get("categories") or []
    if not isinstance(images, list) or not all(isinstance(i, dict) for i in images):
        raise AnnotationFormatError("“images” must be a list of objects.")
    if not isinstance(categories, list) or not all(isinstance(c, dict) for c in categories):
        raise AnnotationFormatError("“categories” must be a list of objects.")
    names = {str(c.get("id")): str(c.get("name", "")).strip() for c in categories}
    names.update(normalize_labelmap(labelmap))
    return data, images, names


def _box(ann: dict, n: int, names: dict[str, str]) -> Box:
    """Annotation number ``n`` as a box, or a clear error."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise AnnotationFormatError(f"Annotation {n} needs a “bbox” of [x, y, width, height].")
    x, y, w, h = (number(v, f"Annotation {n} bbox") for v in bbox)
    category = str(ann.get("category_id"))
    label = names.get(category)
    if not label:
        raise AnnotationFormatError(f"Annotation {n} has category_id {category}, which no category names.")
    return Box(label=label, x=x, y=y, width=w, height=h)


def parse(text: str, *, image_width: int, image_height: int, filename: str = "", labelmap=None) -> list[Box]:
    data, images, names = _read(text, labelmap)
    image = _pick_image(images, filename)
    boxes = []
    for n, ann in enumerate(data.get("annotations", []), start=1):
        if not isinstance(ann, dict):
            raise AnnotationFormatError(f"Annotation {n} is not an object.")
        if image is not None and "image_id" in ann and ann["image_id"] != image.get("id"):
            continue
        boxes.append(_box(ann, n, names))
    return boxes


def dump(image: ImageLike, boxes: list[Box]) -> str:
    labels = sorted({str(b.label) for b in boxes})
    ids = {name: i for i, name in enumerate(labels, start=1)}
    document = {
        "info": {"description": "Exported from Batchboard"},
        "images": [{"id": 1, "file_name": image.original_filename, "width": image.width, "height": image.height}],
        "categories": [{"id": ids[name], "name": name, "supercategory": "none"} for name in labels],
        "annotations": [
            {
                "id": n,
                "image_id": 1,
                "category_id": ids[str(box.label)],
                "bbox": [box.x, box.y, box.width, box.height],
                "area": box.width * box.height,
                "iscrowd": 0,
                "segmentation": [],
            }
            for n, box in enumerate(boxes, start=1)
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def parse_document(text: str, *, labelmap=None) -> list[tuple[str, list[Box]]]:
    """Every image a COCO file describes, by file name, with its boxes (none for an image without any)."""
    data, images, names = _read(text, labelmap)
    by_id: dict[str, list[Box]] = {}
    files: list[tuple[str, list[Box]]] = []
    for n, image in enumerate(images, start=1):
        name = _basename(image.get("file_name", ""))
        if not name:
            raise AnnotationFormatError(f"Image {n} has no “file_name”.")
        key = str(image.get("id"))
        if key in by_id:
            raise AnnotationFormatError(f"Two images have the id {image.get('id')!r}.")
        by_id[key] = []
        files.append((name, by_id[key]))
    for n, ann in enumerate(data.get("annotations", []), start=1):
        if not isinstance(ann, dict):
            raise AnnotationFormatError(f"Annotation {n} is not an object.")
        boxes = by_id.get(str(ann.get("image_id")))
        if boxes is None:
            raise AnnotationFormatError(f"Annotation {n} has image_id {ann.get('image_id')!r}, which no image has.")
        boxes.append(_box(ann, n, names))
    return files


def read_file(name: str, text: str, *, classes: list[str] | None = None) -> list[Found]:
    """An imported COCO file: every image it describes, found by its ``file_name``.

    Its categories name the classes, so ``classes`` (a names file's) is not used.
    """
    return [
        Found(file=f"{name}: {file_name}", names=(file_name,), boxes=boxes) for file_name, boxes in parse_document(text)
    ]


# --- a dataset export -------------------------------------------------------------


def dataset_json(dataset: Dataset, only_split: str | None = None) -> Iterator[str]:
    """A COCO document in pieces: the images, then their boxes, reading the images twice."""
    ids = {name: n for n, name in enumerate(dataset.classes, start=1)}
    head = {"info": {"description": "Exported from Batchboard"}, "licenses": []}
    yield json.dumps(head)[:-1] + ', "categories": '
    yield json.dumps([{"id": i, "name": name, "supercategory": "none"} for name, i in ids.items()])
    yield ', "images": ['
    first = True
    for image, _boxes, name in dataset.rows(only_split):
        entry = {"id": image.pk, "file_name": name, "width": image.width, "height": image.height}
        yield ("" if first else ", ") + json.dumps(entry)
        first = False
    yield '], "annotations": ['
    first, n = True, 0
    for page in dataset.pages(only_split):
        parts = []
        for image, boxes in page:
            for box in boxes:
                n += 1
                entry = {
                    "id": n,
                    "image_id": image.pk,
                    "category_id": ids[box.label],
                    "bbox": [box.x, box.y, box.width, box.height],
                    "area": box.width * box.height,
                    "iscrowd": 0,
                    "segmentation": [],
                }
                parts.append(json.dumps(entry))
        if parts:
            yield ("" if first else ", ") + ", ".join(parts)
            first = False
    yield "]}\n"


def dataset_members(dataset: Dataset) -> Iterator[Member]:
    """A split dataset: ``<split>/_annotations.coco.json`` for each split (no images)."""
    for split in dataset.split_names():
        yield Member(f"{split}/_annotations.coco.json", text=dataset_json(dataset, split))
