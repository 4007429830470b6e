"""YOLO darknet txt for one image: ``class cx cy w h`` per line, normalized to 0–1.

The class is a number; the labelmap names it (``{"0": "car"}`` or
``["car", ...]``). Without one the numbers themselves become the labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import yaml

from boards.formats.base import (
    AnnotationFormatError,
    Dataset,
    Found,
    ImageLike,
    Member,
    normalize_labelmap,
    number,
    refuse_lone_surrogates,
    stem,
)
from boards.formats.box import Box

# A class number as YOLO files write it: ASCII digits ("²".isdigit() is true too), at most nine.
_CLASS_NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)


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
        if not _CLASS_NUMBER.fullmatch(cls):
            raise AnnotationFormatError(f"Line {n}: the class “{cls[:40]}” is not a class number.")
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


MAX_NAMES_FILE_CHARS = 1_000_000


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases (``*name``), reading every scalar as its text.

    ``safe_load`` expands every alias into a full copy of what it names, so a
    few hundred bytes of nested aliases become billions of nodes; no data.yaml
    needs them. Plain scalars stay text as written: a class named ``12``,
    ``no`` or ``1e3`` is that name (YAML would read ``no`` as false and
    ``1e3`` as 1000.0), and class numbers and ``nc`` are parsed here.
    """

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):
        # PyYAML keeps the last of two equal keys without a word; a data.yaml
        # naming class 0 twice is a mistake to report.
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                continue  # a list or mapping as a key: PyYAML refuses it below
            if key.strip() in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key.strip()[:40]!r} appears twice", key_node.start_mark
                )
            seen.add(key.strip())
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"found the alias *{event.anchor}, which a data.yaml never needs", event.start_mark
            )
        return super().compose_node(parent, index)


def _load_yaml(text: str, filename: str):
    if len(text) > MAX_NAMES_FILE_CHARS:
        raise AnnotationFormatError(f"{filename} is over {MAX_NAMES_FILE_CHARS:,} characters; a data.yaml is far less.")
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" on line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise AnnotationFormatError(f"{filename} is not valid YAML{line}: {problem}.") from None
    except RecursionError:
        raise AnnotationFormatError(f"{filename} nests too deeply to be a data.yaml.") from None
    finally:
        loader.dispose()


def _class_name(value, number: int, filename: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AnnotationFormatError(f"{filename}: class {number} has no name.")
    if not isinstance(value, str):
        raise AnnotationFormatError(f"{filename}: class {number}'s name is a {type(value).__name__}, not a name.")
    return value.strip()


def _numbered_names(names, filename: str) -> list[str]:
    """The ``names:`` value, a list or a ``{number: name}`` mapping, as names in number order."""
    if isinstance(names, list):
        return [_class_name(value, n, filename) for n, value in enumerate(names)]
    if not isinstance(names, dict):
        raise AnnotationFormatError(
            f"{filename}: “names” must be a list of names or a mapping of class numbers to names."
        )
    numbered: dict[int, str] = {}
    for key, value in names.items():
        if isinstance(key, str) and _CLASS_NUMBER.fullmatch(key.strip()):
            number = int(key)
        else:
            raise AnnotationFormatError(
                f"{filename}: “names” maps {str(key)[:40]!r} to a name; the keys must be class numbers 0, 1, 2, …"
            )
        if number in numbered:
            raise AnnotationFormatError(f"{filename}: class {number} is named twice in “names”.")
        numbered[number] = _class_name(value, number, filename)
    missing = sorted(set(range(len(numbered))) - set(numbered))
    if missing:
        raise AnnotationFormatError(
            f"{filename}: the class numbers in “names” must run 0, 1, 2, … without gaps; {missing[0]} is missing."
        )
    return [numbered[n] for n in range(len(numbered))]


def read_names(text: str, filename: str) -> list[str]:
    """Class names in number order, from ``classes.txt``/``*.names`` (one a line) or a ``data.yaml``.

    A data.yaml is read with PyYAML (safe, no aliases): ``names`` is a list
    (block or flow style) or a mapping of class numbers to names, as
    Ultralytics, Roboflow and CVAT write it. An ``nc`` beside it must agree.
    """
    shown = filename.rsplit("/", 1)[-1] or filename
    if not filename.lower().endswith((".yaml", ".yml")):
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise AnnotationFormatError("The class names file is empty.")
        return names
    data = _load_yaml(text, shown)
    refuse_lone_surrogates(data, f"{shown}: ")  # YAML's "\ud800" escape reads as one
    if not isinstance(data, dict):
        raise AnnotationFormatError(f"{shown} must be a YAML mapping with a “names” entry.")
    if data.get("names") in (None, ""):
        raise AnnotationFormatError(f"{shown} has no “names” entry.")
    names = _numbered_names(data["names"], shown)
    if not names:
        raise AnnotationFormatError(f"{shown}: “names” lists no classes.")
    if "nc" in data:
        nc = data["nc"]
        if not (isinstance(nc, str) and _CLASS_NUMBER.fullmatch(nc.strip())):
            raise AnnotationFormatError(f"{shown}: “nc” must be the number of classes, not {str(nc)[:40]!r}.")
        nc = int(nc)
        if nc != len(names):
            raise AnnotationFormatError(
                f"{shown} says nc: {nc}, but “names” lists {len(names)} classes; make them agree."
            )
    return names


def data_yaml(classes: Sequence[str], folders: dict[str, str]) -> str:
    """A data.yaml as Ultralytics reads it: the split folders, ``nc`` and ``names`` numbered ``0: name``."""
    data: dict = {"path": ".", **folders, "nc": len(classes), "names": dict(enumerate(classes))}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1_000_000)


def read_file(name: str, text: str, *, classes: list[str] | None = None) -> list[Found]:
    """An imported YOLO labels file: boxes for the image of the same name, once its size is known.

    Its classes are numbers, so it needs ``classes``, the names a names file gave.
    """
    if classes is None:
        raise AnnotationFormatError(
            "YOLO labels number their classes: send the names too (data.yaml, classes.txt or obj.names)."
        )

    def scaled(width: int, height: int) -> list[Box]:
        return parse(text, image_width=width, image_height=height, filename=name, labelmap=classes)

    return [Found(file=name, names=(name,), scaled=scaled)]


# --- a dataset export -------------------------------------------------------------


def dataset_members(dataset: Dataset) -> Iterator[Member]:
    """A data.yaml, then ``images/`` and ``labels/`` (under a folder per split when split)."""
    if dataset.splits is None:
        parts = [("", None)]
        folders = {"train": "images", "val": "images"}
    else:
        parts = [(f"{split}/", split) for split in dataset.split_names()]
        folders = {
            key: f"{split}/images"
            for key, split in (("train", "train"), ("val", "valid"), ("test", "test"))
            if split in dataset.split_names()
        }
    yield Member("data.yaml", text=data_yaml(dataset.classes, folders))
    for prefix, split in parts:
        for image, boxes, name in dataset.rows(split):
            yield Member(f"{prefix}images/{name}", storage_name=image.file.name)
            yield Member(f"{prefix}labels/{stem(name)}.txt", text=dump(image, boxes, classes=dataset.classes))
