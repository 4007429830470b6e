"""What every format module shares: its error, the shapes it reads and writes, two checks.

Nothing here imports Django or the rest of the app, so the readers and writers
stay pure functions that tests and scripts can call on their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from boards.formats.box import Box
from core import params


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


def refuse_lone_surrogates(document, where: str = "") -> None:
    """A parsed JSON or YAML document whose escapes made a lone surrogate (``"\\ud800"``) is refused:
    no page, report or database can hold it. ``where`` begins the message (the file's name)."""
    bad = params.first_surrogate(document)
    if bad is not None:
        raise AnnotationFormatError(f"{where}“{bad[:100]}” holds {params.LONE_SURROGATE}.")


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


# --- importing: what one file says about the project's images ----------------------


@dataclass(frozen=True)
class Found:
    """One image an imported file gives boxes for: the names to find it by, and its boxes.

    ``file`` names it in the import's report. ``names`` are tried in order
    (the first usable one decides). A format that writes pixels gives
    ``boxes`` at once; one that writes fractions of the image (YOLO) gives
    ``scaled`` instead, read once the image, and so its size, is found.
    """

    file: str
    names: tuple[str, ...]
    boxes: list[Box] = field(default_factory=list)
    scaled: Callable[[int, int], list[Box]] | None = None

    def boxes_in(self, width: int, height: int) -> list[Box]:
        """The boxes in pixels of an image ``width`` × ``height``."""
        return self.boxes if self.scaled is None else self.scaled(width, height)


# --- exporting: what a dataset writer reads and writes -----------------------------


class Dataset(Protocol):
    """The images a dataset export writes, as ``boards.formats.export.Export`` gives them.

    An image has ``pk``, ``width``, ``height`` and ``file.name`` (its storage name);
    ``rows`` names each one uniquely in the archive.
    """

    classes: list[str]
    splits: dict[int, str] | None

    def split_names(self) -> Sequence[str]: ...

    def pages(self, only_split: str | None = None) -> Iterator[list[tuple[Any, list[Box]]]]: ...

    def rows(self, only_split: str | None = None) -> Iterator[tuple[Any, list[Box], str]]: ...


def stem(name: str) -> str:
    """A file name without its last extension: the name its annotation file takes beside it."""
    return name.rsplit(".", 1)[0] if "." in name else name


@dataclass(frozen=True)
class Member:
    """One file of an archive: its text, or the storage name of an image to copy in."""

    name: str
    text: str | Iterable[str] | None = None
    storage_name: str | None = None
