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


NAMES_FILES = ("classes.txt", "obj.names", "data.yaml", "data.yml")


def is_names_file(filename: str) -> bool:
    """Whether a file gives the class names rather than boxes."""
    name = filename.rsplit("/", 1)[-1].lower()
    return name in NAMES_FILES or name.endswith((".names", ".yaml", ".yml"))


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_names(text: str, filename: str) -> list[str]:
    """Class names in number order, from ``classes.txt``/``*.names`` (one a line) or a ``data.yaml``.

    Reads the ``names:`` of a data.yaml as a list (``[a, b]`` or ``- a`` lines)
    or a mapping (``{0: a}`` or ``0: a`` lines).
    """
    if not filename.lower().endswith((".yaml", ".yml")):
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise AnnotationFormatError("The class names file is empty.")
        return names
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if not line.startswith("names:"):
            continue
        rest = line[len("names:") :].split(" #", 1)[0].strip()
        items: list[tuple[str, str]] = []
        if rest.startswith("[") and rest.endswith("]"):
            items = [(str(i), _unquote(v)) for i, v in enumerate(rest[1:-1].split(",")) if v.strip()]
        elif rest.startswith("{") and rest.endswith("}"):
            for pair in rest[1:-1].split(","):
                if pair.strip():
                    key, _, value = pair.partition(":")
                    items.append((key.strip(), _unquote(value)))
        elif rest:
            raise AnnotationFormatError("data.yaml: “names” must be a list or a mapping of class numbers to names.")
        else:
            for follow in lines[n + 1 :]:
                if not follow.strip() or follow.lstrip().startswith("#"):
                    continue
                if not follow[:1].isspace() and not follow.startswith("-"):
                    break
                entry = follow.strip()
                if entry.startswith("-"):
                    items.append((str(len(items)), _unquote(entry[1:])))
                else:
                    key, _, value = entry.partition(":")
                    items.append((key.strip(), _unquote(value)))
        names = normalize_labelmap(dict(items))
        if not names:
            raise AnnotationFormatError("data.yaml: “names” lists no classes.")
        if sorted(names, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(names))]:
            raise AnnotationFormatError("data.yaml: the class numbers in “names” must run 0, 1, 2, …")
        return [names[str(i)] for i in range(len(names))]
    raise AnnotationFormatError("data.yaml has no “names” entry.")
