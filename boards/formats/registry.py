"""The annotation formats, each declared once: how a file is recognised, read and written.

Importing finds a file's format by its extension here, exporting by the name
the export page sends, and the one-image API by the extension again: none of
them asks which module it holds. A new format is one more ``Format`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

from boards.formats import coco, voc, yolo
from boards.formats.base import AnnotationFormatError, Dataset, Found, Member


@dataclass(frozen=True)
class Format:
    """One annotation format.

    - ``module`` has ``parse(text, *, image_width, image_height, filename, labelmap)``
      and ``dump(image, boxes)`` for one image.
    - ``read(name, text, *, classes)`` reads an imported file into the images it gives
      boxes for; ``classes`` are the names a names file of the same import gave (or None).
      ``reads_bytes``: the file is read from its bytes, since it names its own encoding.
    - ``names_file`` tells a file that gives class names rather than boxes (YOLO's
      ``data.yaml``, ``classes.txt``, ``obj.names``), and ``read_names(text, name)`` reads it.
    - ``archive(dataset)`` gives a dataset export's files, zipped; ``document(dataset)``,
      when set, is an unsplit export as one file of ``media_type`` instead.
      ``holds_images``: the archive holds the image files, so they must all be in storage.
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    module: ModuleType
    read: Callable[..., list[Found]]
    archive: Callable[[Dataset], Iterable[Member]]
    holds_images: bool = True
    document: Callable[[Dataset], Iterable[str]] | None = None
    media_type: str = "application/zip"
    reads_bytes: bool = False
    names_file: Callable[[str], bool] | None = None
    read_names: Callable[[str, str], list[str]] | None = None


FORMATS: tuple[Format, ...] = (
    Format(
        name="voc",
        title="Pascal VOC",
        extensions=("xml",),
        module=voc,
        read=voc.read_file,
        reads_bytes=True,
        archive=voc.dataset_members,
    ),
    Format(
        name="coco",
        title="COCO",
        extensions=("json",),
        module=coco,
        read=coco.read_file,
        archive=coco.dataset_members,
        holds_images=False,
        document=coco.dataset_json,
        media_type="application/json",
    ),
    Format(
        name="yolo",
        title="YOLO",
        extensions=("txt",),
        module=yolo,
        read=yolo.read_file,
        names_file=yolo.is_names_file,
        read_names=yolo.read_names,
        archive=yolo.dataset_members,
    ),
)

BY_EXTENSION = {ext: fmt for fmt in FORMATS for ext in fmt.extensions}
BY_NAME = {fmt.name: fmt for fmt in FORMATS}
# The export page offers them in this order.
EXPORT_NAMES = ("coco", "yolo", "voc")


def _one_of(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def find(filename: str) -> Format | None:
    """The format of an annotation file, by its extension, or None."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return BY_EXTENSION.get(ext)


def for_file(filename: str) -> Format:
    """The format of an annotation file, by its extension, or an error saying which names are known."""
    found = find(filename)
    if found is None:
        known = _one_of([f".{ext} ({fmt.title})" for ext, fmt in BY_EXTENSION.items()])
        raise AnnotationFormatError(f"Cannot tell the format of “{filename}”: name it {known}.")
    return found


def names_format(filename: str) -> Format | None:
    """The format whose class names file this is (YOLO's ``data.yaml``, ``classes.txt``), or None."""
    return next((fmt for fmt in FORMATS if fmt.names_file is not None and fmt.names_file(filename)), None)


def for_export(name: str) -> Format:
    """The format an export asks for by name (``coco``, ``yolo``, ``voc``)."""
    if name not in BY_NAME:
        raise AnnotationFormatError(f"“{name}” is not an export format: choose {_one_of(list(EXPORT_NAMES))}.")
    return BY_NAME[name]


def format_for(filename: str) -> ModuleType:
    """The module that parses and dumps one image's boxes in a file's format, by its extension."""
    return for_file(filename).module
