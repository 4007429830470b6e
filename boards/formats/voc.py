"""Pascal VOC XML for one image.

Boxes are ``xmin, ymin, xmax, ymax`` in pixels of the image, read as written
(no 1-based shift): that is how Roboflow and most tools export VOC.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for the Element type and ParseError
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from boards.formats.base import (
    AnnotationFormatError,
    Dataset,
    Found,
    ImageLike,
    Member,
    normalize_labelmap,
    number,
    stem,
)
from boards.formats.box import Box


def _safe_root(data: str | bytes) -> ET.Element:
    """The root element, parsed by defusedxml with every DTD refused.

    Bytes are read as sent, so the parser itself finds the encoding (a BOM, a
    UTF-16 byte pattern, the XML declaration) and nothing can hide a DTD from it.
    No VOC file has a DTD; refusing one rules out entity expansion and
    external entities whatever the encoding.
    """
    try:
        try:
            return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        except ValueError as exc:
            # expat reads UTF-8, UTF-16 and single-byte encodings itself; a file declaring a
            # multi-byte one (Shift JIS, GBK, Big5, EUC-KR) is decoded here and parsed as text.
            if not isinstance(data, bytes) or "multi-byte" not in str(exc):
                raise
            text = data.decode(_declared_encoding(data))
            return SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise AnnotationFormatError(
            "The XML declares a DTD or entities, which VOC files never do; remove the <!DOCTYPE …> part."
        ) from None
    except ET.ParseError as exc:
        raise AnnotationFormatError(f"This is not well-formed XML ({exc}).") from None
    except (LookupError, UnicodeError, ValueError) as exc:
        raise AnnotationFormatError(f"The XML's encoding cannot be read ({str(exc)[:200]}).") from None


_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")


def _declared_encoding(data: bytes) -> str:
    """The encoding an ASCII-compatible XML declaration names (a LookupError when it names none)."""
    found = _DECLARATION.match(data[:200])
    if found is None:
        raise LookupError("no encoding is declared")
    return found.group(1).decode("ascii")


def parse(text: str | bytes, *, image_width: int, image_height: int, filename: str = "", labelmap=None) -> list[Box]:
    root = _safe_root(text)
    if root.tag != "annotation":
        raise AnnotationFormatError(f"A VOC file starts with <annotation>, not <{root.tag}>.")
    names = normalize_labelmap(labelmap)
    boxes = []
    for n, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise AnnotationFormatError(f"Object {n} has no <name>.")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise AnnotationFormatError(f"Object {n} ({name}) has no <bndbox>.")
        values = {}
        for key in ("xmin", "ymin", "xmax", "ymax"):
            raw = bndbox.findtext(key)
            if raw is None:
                raise AnnotationFormatError(f"Object {n} ({name}) has no <{key}>.")
            values[key] = number(raw.strip(), f"Object {n} ({name}) <{key}>")
        if values["xmax"] <= values["xmin"] or values["ymax"] <= values["ymin"]:
            raise AnnotationFormatError(f"Object {n} ({name}) has xmax/ymax not beyond xmin/ymin.")
        boxes.append(
            Box(
                label=names.get(name, name),
                x=values["xmin"],
                y=values["ymin"],
                width=values["xmax"] - values["xmin"],
                height=values["ymax"] - values["ymin"],
            )
        )
    return boxes


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0").rstrip(".")


def dump(image: ImageLike, boxes: list[Box]) -> str:
    lines = [
        "<annotation>",
        "\t<folder></folder>",
        f"\t<filename>{escape(image.original_filename)}</filename>",
        "\t<size>",
        f"\t\t<width>{image.width}</width>",
        f"\t\t<height>{image.height}</height>",
        "\t\t<depth>3</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for box in boxes:
        lines += [
            "\t<object>",
            f"\t\t<name>{escape(str(box.label))}</name>",
            "\t\t<pose>Unspecified</pose>",
            "\t\t<truncated>0</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{_num(box.x)}</xmin>",
            f"\t\t\t<ymin>{_num(box.y)}</ymin>",
            f"\t\t\t<xmax>{_num(box.x + box.width)}</xmax>",
            f"\t\t\t<ymax>{_num(box.y + box.height)}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def filename_in(text: str | bytes) -> str:
    """The image file name a VOC file names in ``<filename>``, or ""."""
    return (_safe_root(text).findtext("filename") or "").strip()


def read_file(name: str, data: str | bytes, *, classes: list[str] | None = None) -> list[Found]:
    """An imported VOC file: its boxes, for the image its ``<filename>`` names (or, failing that, its own name).

    Each object names its class, so ``classes`` (a names file's) is not used.
    """
    boxes = parse(data, image_width=0, image_height=0, filename=name)
    return [Found(file=name, names=(filename_in(data), name), boxes=boxes)]


# --- a dataset export -------------------------------------------------------------


def dataset_members(dataset: Dataset) -> Iterator[Member]:
    """Each image beside its ``.xml``, in a folder per split when split."""
    parts = [("", None)] if dataset.splits is None else [(f"{s}/", s) for s in dataset.split_names()]
    for prefix, split in parts:
        for image, boxes, name in dataset.rows(split):
            yield Member(f"{prefix}{name}", storage_name=image.file.name)
            yield Member(f"{prefix}{stem(name)}.xml", text=dump(_Named(image, name), boxes))


@dataclass(frozen=True)
class _Named:
    """An image under the name it has in the archive."""

    image: Any
    original_filename: str

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height
