"""Importing annotation files (VOC, COCO, YOLO) into a project's images."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import User
from boards.formats import registry
from boards.formats.base import AnnotationFormatError, Found
from boards.formats.box import Box
from boards.models import AnnotationState, BatchStatus, Image, LabelClass, Project
from boards.services.annotations import _clip, save_annotations
from boards.services.common import STATUS_LABELS, lock_batches
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState
from core.permissions import require


@dataclass
class ImportLine:
    """One line of an import report: a file (and the image it matched), with what happened."""

    file: str
    image: str = ""
    boxes: int = 0
    clipped: int = 0
    reason: str = ""


@dataclass
class ImportReport:
    imported: list[ImportLine] = field(default_factory=list)
    skipped: list[ImportLine] = field(default_factory=list)
    errors: list[ImportLine] = field(default_factory=list)
    created_classes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Wanted:
    file: str
    image_id: int
    image_name: str
    boxes: list


class _ImageIndex:
    """The project's images by file name, and by name without its extension."""

    def __init__(self, project: Project):
        self.by_name: dict[str, list[tuple[int, str, int, int]]] = {}
        self.by_stem: dict[str, list[tuple[int, str, int, int]]] = {}
        for row in Image.objects.filter(project=project).values_list("pk", "original_filename", "width", "height"):
            name = os.path.basename(row[1].replace("\\", "/")).lower()
            self.by_name.setdefault(name, []).append(row)
            self.by_stem.setdefault(name.rsplit(".", 1)[0], []).append(row)

    def find(self, *names: str) -> tuple[tuple[int, str, int, int] | None, str]:
        """The image the first usable name matches, or None and why not."""
        for name in names:
            name = os.path.basename(name.replace("\\", "/")).lower()
            if not name:
                continue
            for found in (self.by_name.get(name), self.by_stem.get(name.rsplit(".", 1)[0])):
                if found and len(found) == 1:
                    return found[0], ""
                if found:
                    return None, f"“{name}” matches {len(found)} images of this project; rename one."
        shown = next((n for n in names if n), "")
        return None, f"No image of this project is named like “{os.path.basename(shown)}”."


PROGRESS_EVERY = 200


def _read_import_files(
    files: Sequence[tuple[str, bytes]], index: _ImageIndex, report: ImportReport, progress=None
) -> list[_Wanted]:
    """Parse every file; malformed ones go to ``report.errors``, unmatched ones to ``report.skipped``."""
    texts: list[tuple[str, str | bytes]] = []
    for name, data in files:
        found = registry.find(name)
        if found is not None and found.reads_bytes:
            texts.append((name, data))  # XML names its own encoding: the parser reads the bytes
            continue
        try:
            texts.append((name, data.decode("utf-8-sig")))
        except UnicodeDecodeError:
            report.errors.append(ImportLine(file=name, reason="This is not a UTF-8 text file."))
    classes = _read_class_names(texts, report)
    wanted: list[_Wanted] = []
    for read, (name, text) in enumerate(texts, start=1):
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
        if registry.names_format(name) is not None:
            continue
        try:
            for found in registry.for_file(name).read(name, text, classes=classes):
                _want(found, index, report, wanted)
        except AnnotationFormatError as exc:
            report.errors.append(ImportLine(file=name, reason=str(exc)))
    if progress is not None:
        progress(len(files))
    return wanted


def _read_class_names(texts: Sequence[tuple[str, str | bytes]], report: ImportReport) -> list[str] | None:
    """The class names the import's one names file gives (YOLO's data.yaml, classes.txt), if it sent one."""
    names_files = [(name, text) for name, text in texts if registry.names_format(name) is not None]
    if len(names_files) > 1:
        report.errors.append(
            ImportLine(file=names_files[1][0], reason=f"Send one class names file; “{names_files[0][0]}” is one.")
        )
    elif names_files:
        name, text = names_files[0]
        try:
            return registry.names_format(name).read_names(text, name)
        except AnnotationFormatError as exc:
            report.errors.append(ImportLine(file=name, reason=str(exc)))
    return None


def _want(found: Found, index: _ImageIndex, report: ImportReport, wanted: list[_Wanted]) -> None:
    """The boxes a file gives one image, for the image its names find (skipped, with why, when none does)."""
    image, why = index.find(*found.names)
    if image is None:
        report.skipped.append(ImportLine(file=found.file, boxes=len(found.boxes), reason=why))
        return
    boxes = found.boxes_in(image[2], image[3])
    wanted.append(_Wanted(file=found.file, image_id=image[0], image_name=image[1], boxes=boxes))


IMPORTABLE = "Annotations can be imported only into images without a batch or in an Unassigned batch"


def import_annotation_files(
    *,
    project: Project,
    actor: User,
    files: Sequence[tuple[str, bytes]],
    create_classes: bool = False,
    clip: bool = True,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    finish: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import annotation files (VOC XML, COCO JSON, YOLO txt with its class names) into a project's images.

    Files are matched to images by file name. A malformed file stops the whole
    import: nothing is written and the report says which file and why. Otherwise,
    in one transaction, each matched image gets the file's boxes unless it is
    skipped with a reason: its batch is past Unassigned, it is already annotated
    (and ``overwrite`` is off), a class is unknown (and ``create_classes`` is
    off), or a box reaches outside the image (clipped when ``clip``, refused
    when not; a box wholly outside is always refused).

    ``progress`` is told how many files have been read so far, every ``PROGRESS_EVERY`` files and
    once all are, before anything is written (a background import's progress). ``finish`` is
    called with the report inside the import's transaction, after the last write: a background
    import records that it is done in the same commit (and an exception there undoes the import).
    """
    only_managers = "Only the project's managers and owners may import annotations."
    require(actor, "boards.manage_project", project, message=only_managers)
    report = ImportReport()
    wanted = _read_import_files(files, _ImageIndex(project), report, progress)
    if report.errors:
        return report
    with transaction.atomic():
        known = set(LabelClass.objects.filter(project=project).values_list("name", flat=True))
        images: dict[int, Image] = {}
        ids = [w.image_id for w in wanted]
        # Every batch involved locked up front, in id order, before the images one by one.
        lock_batches(
            batch_id
            for start in range(0, len(ids), 500)
            for batch_id in Image.objects.filter(pk__in=ids[start : start + 500]).values_list(
                "placement__batch_id", flat=True
            )
            if batch_id is not None
        )
        for start in range(0, len(ids), 500):
            chunk = Image.objects.filter(pk__in=ids[start : start + 500]).select_related("placement__batch")
            images.update((image.pk, image) for image in chunk)
        done: set[int] = set()
        for item in wanted:
            line = ImportLine(file=item.file, image=item.image_name, boxes=len(item.boxes))
            image = images[item.image_id]
            reason = _import_refusal(image, item, known, done, create_classes=create_classes, overwrite=overwrite)
            clipped = 0
            if not reason:
                clipped, reason = _count_clipped(image, item.boxes, clip=clip)
            if reason:
                line.reason = reason
                report.skipped.append(line)
                continue
            try:
                save_annotations(
                    image=image, actor=actor, boxes=item.boxes, empty=not item.boxes, create_labels=create_classes
                )
            except ServiceErrorTypes as exc:
                line.reason = exc.message
                report.skipped.append(line)
                continue
            new = {str(b.label).strip() for b in item.boxes} - known
            report.created_classes += sorted(new)
            known |= new
            done.add(image.pk)
            line.clipped = clipped
            report.imported.append(line)
        if finish is not None:
            finish(report)
    return report


ServiceErrorTypes = (NotAllowed, WrongState, InvalidInput, ConcurrentChange)


def _import_refusal(image: Image, item: _Wanted, known: set[str], done: set[int], **options) -> str:
    if image.pk in done:
        return f"Another file already gave “{image.original_filename}” its boxes in this import."
    if image.batch is not None and image.batch.status != BatchStatus.UNASSIGNED:
        return f"{IMPORTABLE}; its batch “{image.batch.name}” is in {STATUS_LABELS[image.batch.status]}."
    if image.annotation_state != AnnotationState.UNANNOTATED and not options["overwrite"]:
        return "The image is already annotated; tick “replace existing annotations” to overwrite."
    unknown = sorted({str(b.label).strip() for b in item.boxes} - known)
    if unknown and not options["create_classes"]:
        return f"No class {', '.join(f'“{u}”' for u in unknown)} in this project; tick “create unknown classes”."
    return ""


def _count_clipped(image: Image, boxes: Sequence[Box], *, clip: bool) -> tuple[int, str]:
    """How many boxes reach outside the image, or why the image is refused."""
    clipped = 0
    for n, box in enumerate(boxes, start=1):
        if box.width <= 0 or box.height <= 0:
            return 0, f"Box {n} ({box.label}) has no area."
        inside = _clip(box, image)
        if inside is None:
            return 0, f"Box {n} ({box.label}) lies wholly outside the {image.width}×{image.height} image."
        if inside != (box.x, box.y, box.width, box.height):
            if not clip:
                return 0, f"Box {n} ({box.label}) reaches outside the {image.width}×{image.height} image."
            clipped += 1
    return clipped, ""
