"""YOLO darknet txt for one image: ``class cx cy w h`` per line, normalized to 0–1.

The class is a number; the labelmap names it (``{"0": "car"}`` or
``["car", ...]``). Without one the numbers themselves become the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

from boards.formats import AnnotationFormatError, ImageLike, normalize_labelmap, number
from boards.services import Box


def parse(text: str, *, image_width: int, image_height: int, filename: str = "", labelmap=None) -> list[Box]:
    if image_width <= 0 or image_height <= 0:
        raise AnnotationFormatError("YOLO boxes need the image's size.")
    names = normalize_labelmap(labelmap)
    boxes = []
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 5:
            raise AnnotationFormatError(
                f"Line {n} has {len(fields)} values; a YOLO box is “class x_center y_center width height”."
            )
        cls = fields[0]
        if not cls.isdigit():
            raise AnnotationFormatError(f"Line {n}: the class “{cls}” is not a class number.")
        cls = str(int(cls))
        if names and cls not in names:
            raise AnnotationFormatError(f"Line {n}: class {cls} is not in the labelmap.")
        cx, cy, w, h = (number(v, f"Line {n}") for v in fields[1:])
        width, height = w * image_width, h * image_height
        boxes.append(
            Box(
                label=names.get(cls, cls),
                x=cx * image_width - width / 2,
                y=cy * image_height - height / 2,
                width=width,
                height=height,
            )
        )
    return boxes


def dump(image: ImageLike, boxes: list[Box], *, classes: Sequence[str] | None = None) -> str:
    """One line per box; ``classes`` orders the class numbers (default: sorted names)."""
    order = list(classes) if classes is not None else sorted({str(b.label) for b in boxes})
    index = {name: i for i, name in enumerate(order)}
    lines = []
    for box in boxes:
        if str(box.label) not in index:
            raise AnnotationFormatError(f"The class “{box.label}” is not among the classes given.")
        cx = (box.x + box.width / 2) / image.width
        cy = (box.y + box.height / 2) / image.height
        lines.append(
            f"{index[str(box.label)]} {cx:.6f} {cy:.6f} {box.width / image.width:.6f} {box.height / image.height:.6f}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def labelmap_text(classes: Sequence[str]) -> str:
    """The classes file (``classes.txt`` / ``obj.names``) that goes with ``dump``'s output."""
    return "".join(f"{name}\n" for name in classes)
