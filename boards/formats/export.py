"""Dataset export: COCO JSON, YOLO zip and Pascal VOC zip, written while streamed.

Each format's files are written by its module (``dataset_members``, COCO's
``dataset_json``), found through ``registry``; what streams here is a generator
of ``bytes`` chunks for a ``StreamingHttpResponse``. Images are read in pages of ``EXPORT_PAGE_SIZE`` rows (by
primary key), their boxes fetched one page at a time, and archives are written
through ``zipfile`` into a small buffer that is emptied after every member:
memory stays flat however many images the dataset holds. Image files go in
stored, never recompressed.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import random
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from boards.formats import registry
from boards.formats.base import AnnotationFormatError, Member
from boards.formats.box import Box
from boards.formats.spilled_zip import SpillingZipFile
from boards.models import Annotation, Batch, BatchStatus, Image, LabelClass, Project, ReviewState
from core.errors import WrongState
from core.filenames import safe_filename

log = logging.getLogger(__name__)

COPY_CHUNK = 64 * 1024
SPLITS = ("train", "valid", "test")
FORMATS = registry.EXPORT_NAMES


# --- what goes out --------------------------------------------------------------


def dataset_images(project: Project, batch: Batch | None = None) -> QuerySet[Image]:
    """A Dataset batch's images, or the project's dataset.

    The project's dataset is every image in a Dataset batch; when the project
    reviews its work, only the approved ones.
    """
    if batch is not None:
        return Image.objects.filter(placement__batch=batch)
    images = Image.objects.filter(project=project, placement__batch__status=BatchStatus.DATASET)
    if project.review_mode:
        images = images.filter(review_state=ReviewState.APPROVED)
    return images


def parse_split(text: str | None) -> tuple[int, int, int] | None:
    """``"70,20,10"`` as three whole percentages (any sum above zero), or None when not asked."""
    if not text:
        return None
    from core.params import BadParameter, whole_number

    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise BadParameter("split", "not three parts")
        ratio = tuple(whole_number(p, name="split", low=0, high=1_000_000) for p in parts)
    except BadParameter:
        raise AnnotationFormatError(
            "A split is three whole numbers (digits 0-9) for train, valid and test, like 70,20,10."
        ) from None
    if sum(ratio) == 0:
        raise AnnotationFormatError("A split needs at least one part above zero.")
    return ratio  # type: ignore[return-value]


def assign_splits(image_ids: Sequence[int], ratio: Sequence[int], seed: int) -> dict[int, str]:
    """Each image's split: the ids in a shuffle seeded by ``seed``, cut by ``ratio``.

    The same ids, ratio and seed always give the same answer.
    """
    order = sorted(image_ids)
    random.Random(seed).shuffle(order)
    total = sum(ratio)
    n_train = round(len(order) * ratio[0] / total)
    n_valid = round(len(order) * ratio[1] / total) if ratio[2] else len(order) - n_train
    n_valid = min(n_valid, len(order) - n_train)
    result = {}
    for position, image_id in enumerate(order):
        if position < n_train:
            result[image_id] = "train"
        elif position < n_train + n_valid:
            result[image_id] = "valid"
        else:
            result[image_id] = "test"
    return result


@dataclass
class Export:
    """One export's choices: which images, which classes, which splits."""

    project: Project
    images: QuerySet[Image]
    classes: list[str]
    splits: dict[int, str] | None = None
    # Told how many more images were written, after each page (a background export's progress).
    progress: Callable[[int], None] | None = None

    @classmethod
    def of(cls, project: Project, *, batch: Batch | None = None, ratio=None, seed: int = 0) -> Export:
        images = dataset_images(project, batch)
        classes = list(LabelClass.objects.filter(project=project).order_by("name").values_list("name", flat=True))
        splits = None
        if ratio is not None:
            splits = assign_splits(list(images.values_list("pk", flat=True)), ratio, seed)
        return cls(project=project, images=images, classes=classes, splits=splits)

    def split_names(self) -> Sequence[str]:
        return [s for s in SPLITS if s in set(self.splits.values())] if self.splits else ()

    def pages(self, only_split: str | None = None) -> Iterator[list[tuple[Image, list[Box]]]]:
        """Images with their boxes, ``EXPORT_PAGE_SIZE`` at a time, by primary key."""
        images = self.images.only("pk", "file", "width", "height", "original_filename").order_by("pk")
        labels = dict(LabelClass.objects.filter(project=self.project).values_list("pk", "name"))
        after = 0
        while True:
            page = list(images.filter(pk__gt=after)[: settings.EXPORT_PAGE_SIZE])
            if not page:
                return
            after = page[-1].pk
            if only_split is not None:
                page = [image for image in page if self.splits.get(image.pk) == only_split]
            boxes: dict[int, list[Box]] = {image.pk: [] for image in page}
            rows = Annotation.objects.filter(image_id__in=list(boxes)).order_by("image_id", "pk")
            for image_id, label_id, x, y, w, h in rows.values_list("image_id", "label_id", "x", "y", "width", "height"):
                boxes[image_id].append(Box(label=labels.get(label_id, str(label_id)), x=x, y=y, width=w, height=h))
            yield [(image, boxes[image.pk]) for image in page]
            if self.progress is not None:
                self.progress(len(page))

    def rows(self, only_split: str | None = None) -> Iterator[tuple[Image, list[Box], str]]:
        """Images with boxes and a file name unique in the archive (``name_<id>.jpg`` on a clash)."""
        seen: set[int] = set()  # names written, as 8-byte digests: a 100,000-image export keeps 5 MB, not 12
        for page in self.pages(only_split):
            for image, boxes in page:
                suffix = posixpath.splitext(image.file.name)[1] or ".jpg"
                name = safe_filename(image.original_filename) or f"image_{image.pk}{suffix}"
                if _digest(name) in seen:
                    stem, dot, ext = name.rpartition(".")
                    name = f"{stem}_{image.pk}.{ext}" if dot else f"{name}_{image.pk}"
                seen.add(_digest(name))
                yield image, boxes, name


def _digest(name: str) -> int:
    """A name as an archive compares them (case aside), in 8 bytes."""
    return int.from_bytes(hashlib.blake2b(name.lower().encode(), digest_size=8).digest(), "little")


# --- streaming zip ---------------------------------------------------------------


class _Pipe:
    """A write-only file for ``zipfile`` whose contents are taken away as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ExportInterrupted(Exception):
    """A stored file could not be read while its archive was being sent."""


def stream_zip(members: Iterable[Member]) -> Iterator[bytes]:
    """A zip archive of ``members``, yielded in pieces as each is written.

    If a stored file cannot be read on the way, the archive's end (its central
    directory) is never sent and ``ExportInterrupted`` is raised: the server
    cuts the response off, so the client sees a failed download, and what it
    did receive does not open as a zip.
    """
    pipe = _Pipe()
    try:
        yield from _zip_pieces(pipe, members)
    except ExportInterrupted as exc:
        pipe.take()  # the central directory, written as the archive closed: never sent
        log.error("Export cut off: %s", exc)
        raise
    yield pipe.take()


def _stored_chunks(member: Member) -> Iterator[bytes]:
    try:
        with default_storage.open(member.storage_name, "rb") as source:
            while chunk := source.read(COPY_CHUNK):
                yield chunk
    except OSError as exc:
        raise ExportInterrupted(
            f"{member.storage_name} (“{member.name}” in the archive) could not be read: {exc.strerror or exc}"
        ) from exc


def _zip_pieces(pipe: _Pipe, members: Iterable[Member]) -> Iterator[bytes]:
    with SpillingZipFile(pipe, "w", allowZip64=True) as archive:
        for member in members:
            if member.storage_name is not None:
                info = zipfile.ZipInfo(member.name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                with archive.open(info, "w") as target:
                    for chunk in _stored_chunks(member):
                        target.write(chunk)
                        if data := pipe.take():
                            yield data
            else:
                info = zipfile.ZipInfo(member.name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                texts = [member.text] if isinstance(member.text, str) else member.text
                with archive.open(info, "w", force_zip64=True) as target:
                    for text in texts:
                        target.write(text.encode())
                        if data := pipe.take():
                            yield data
            if data := pipe.take():
                yield data


# --- refusing an incomplete archive ----------------------------------------------


MISSING_SHOWN = 10


def _stored(name: str) -> bool:
    """Whether storage holds a non-empty file ``name``: one ``stat`` on the file system."""
    try:
        return bool(name) and default_storage.size(name) > 0
    except OSError:
        return False


def check_files(export: Export, fmt: str) -> None:
    """Refuse, before a byte is sent, an archive that would lack image files.

    COCO's JSON holds no images; YOLO and VOC archives hold every image, so
    each one's file must be in storage and not empty (a write cut off before
    files were written atomically left such files).
    """
    chosen = registry.BY_NAME.get(fmt)
    if chosen is not None and not chosen.holds_images:
        return
    total, missing = 0, []
    rows = export.images.order_by("pk").values_list("pk", "file", "original_filename")
    for pk, name, filename in rows.iterator(chunk_size=2000):
        total += 1
        if not _stored(name):
            missing.append(f"{safe_filename(filename) or 'unnamed'} (image {pk})")
    if missing:
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", …" if len(missing) > MISSING_SHOWN else "")
        raise WrongState(
            f"{len(missing)} of the {total} images' files are missing or empty in storage, so the archive "
            f"would be incomplete: {shown}. Restore those files in storage (from a backup) and export again; "
            "nothing was sent."
        )


# --- the response --------------------------------------------------------------------


def stream(export: Export, fmt: str) -> Iterator[bytes]:
    """The export in format ``fmt``: its one document when it has one and no split asks for folders, else a zip."""
    chosen = registry.for_export(fmt)
    if chosen.document is not None and export.splits is None:
        return (piece.encode() for piece in chosen.document(export))
    return stream_zip(chosen.archive(export))


def content_type(export: Export, fmt: str) -> tuple[str, str]:
    """The response's content type and file extension."""
    chosen = registry.BY_NAME.get(fmt)
    if chosen is not None and chosen.document is not None and export.splits is None:
        return chosen.media_type, chosen.extensions[0]
    return "application/zip", "zip"


def download_name(project_slug: str, batch_id: int | None, fmt: str, ext: str) -> str:
    """What a download of an export is called, streamed or made in the background:
    ``<project>-<batch id, or "dataset">-<format>.<extension>``."""
    return f"{safe_filename(project_slug) or 'project'}-{batch_id or 'dataset'}-{fmt}.{ext}"
