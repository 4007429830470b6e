"""Annotation files in and out: Pascal VOC XML, COCO JSON and YOLO txt.

Each format module has two pure functions for one image:

- ``parse(text, *, image_width, image_height, filename, labelmap=None) -> list[Box]``
  reads a file's text into boxes in pixels of the original image, or raises
  ``AnnotationFormatError`` with a message a person can act on.
- ``dump(image, boxes) -> str`` writes boxes back out, so that
  ``parse(dump(image, boxes))`` gives the same boxes to the pixel.

``image`` is anything with ``width``, ``height`` and ``original_filename``
(a ``boards.models.Image`` or an ``ImageInfo``). Boxes are
``boards.services.Box`` with a class name as ``label``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class AnnotationFormatError(ValueError):
    """The annotation file cannot be read; the message says where and why."""


class ImageLike(Protocol):
    width: int
    height: int
    original_filename: str


@dataclass(frozen=True)
class ImageInfo:
    """The little a writer needs to know about an image."""

    width: int
    height: int
    original_filename: str


def number(value, what: str) -> float:
    """A finite float from ``value``, or a clear error naming ``what``."""
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise AnnotationFormatError(f"{what} is not a number ({str(value)[:40]!r}).") from None
    if not math.isfinite(result):
        raise AnnotationFormatError(f"{what} is not a finite number ({str(value)[:40]!r}).")
    return result


def normalize_labelmap(labelmap) -> dict[str, str]:
    """``{"0": "car"}``, ``{0: "car"}`` or ``["car", ...]`` as ``{"0": "car"}``."""
    if labelmap is None:
        return {}
    if isinstance(labelmap, Sequence) and not isinstance(labelmap, str | bytes):
        items = enumerate(labelmap)
    elif isinstance(labelmap, Mapping):
        items = labelmap.items()
    else:
        raise AnnotationFormatError("The labelmap must map class ids to names, or list the names in order.")
    result = {}
    for key, name in items:
        if not isinstance(name, str | int) or isinstance(name, bool) or not str(name).strip():
            raise AnnotationFormatError(f"The labelmap gives class {key!r} no usable name.")
        result[str(key).strip()] = str(name).strip()
    return result


def format_for(filename: str):
    """The format module for an annotation file name, by its extension."""
    from boards.formats import coco, voc, yolo

    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    modules = {"xml": voc, "json": coco, "txt": yolo}
    if ext not in modules:
        raise AnnotationFormatError(
            f"Cannot tell the format of “{filename}”: name it .xml (Pascal VOC), .json (COCO) or .txt (YOLO)."
        )
    return modules[ext]
