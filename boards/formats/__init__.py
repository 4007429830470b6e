"""Annotation files in and out: Pascal VOC XML, COCO JSON and YOLO txt.

Each format module has two pure functions for one image:

- ``parse(text, *, image_width, image_height, filename, labelmap=None) -> list[Box]``
  reads a file's text into boxes in pixels of the original image, or raises
  ``AnnotationFormatError`` with a message a person can act on.
- ``dump(image, boxes) -> str`` writes boxes back out, so that
  ``parse(dump(image, boxes))`` gives the same boxes to the pixel.

``image`` is anything with ``width``, ``height`` and ``original_filename``
(a ``boards.models.Image`` or an ``ImageInfo``). Boxes are
``boards.formats.box.Box`` with a class name as ``label``.

Each module also reads a whole imported file (``read_file``) and writes a
dataset export (``dataset_members``); ``registry`` declares every format once,
and callers find a format there, by extension or by name. The package imports
nothing from the services, views or API above it (``export`` alone reads the
models), so they may import it freely.
"""

from boards.formats.base import (  # noqa: F401
    AnnotationFormatError,
    ImageInfo,
    ImageLike,
    normalize_labelmap,
    number,
)
from boards.formats.box import Box  # noqa: F401
from boards.formats.registry import (  # noqa: F401
    FORMATS,
    Format,
    for_export,
    for_file,
    format_for,
    names_format,
)
