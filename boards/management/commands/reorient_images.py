"""Turn upright the stored images uploaded before uploads were auto-oriented.

An original stored with an EXIF orientation of 2–8 is rewritten upright (as
uploads are now), its width and height corrected and its thumbnail made
again. Its boxes were drawn over the picture as the browser showed it: turned
upright and stretched into the stored width × height. So each box keeps its
fractions of the picture and is rescaled to the new width and height.

The database is changed first, in one transaction per chunk; the new files,
written beforehand under temporary names, are renamed over the old ones after
it commits. A run stopped part-way is finished by running the command again:
an image whose width and height are already upright only gets its files
rewritten, and its boxes are left alone.
"""

import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F

from boards import imaging
from boards.models import Annotation, Asset, Batch, Image, thumbnail_upload_to
from boards.services import mark_changed, write_beside


@dataclass
class _Turn:
    image: Image
    stored: tuple[int, int]  # width, height of the file as stored
    upright: tuple[int, int]
    files: list[tuple[str, bytes | BinaryIO | str]]  # storage name, and new content or a temporary path beside it
    names_thumbnail: bool = False  # the row had no thumbnail and now names one


class Command(BaseCommand):
    help = "Rewrite stored images whose EXIF orientation is 2–8 upright, with their sizes, thumbnails and boxes."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count the images that would be turned.")
        parser.add_argument("--chunk", type=int, default=100, help="Images per transaction (default 100).")

    def handle(self, *args, dry_run=False, chunk=100, **options):
        found = resized = boxes = 0
        pending: list[_Turn] = []
        images = Image.objects.exclude(file="").only(
            "pk", "project_id", "sha256", "file", "thumbnail", "width", "height"
        )
        seen: set[str] = set()  # a file several projects' images name (one asset) is turned once, for all
        for image in images.order_by("pk").iterator(chunk_size=500):
            if image.file.name in seen:
                continue
            seen.add(image.file.name)
            turn = self._inspect(image, prepare=not dry_run)
            if turn is None:
                continue
            found += 1
            if dry_run:
                continue
            pending.append(turn)
            if len(pending) >= max(1, chunk):
                r, b = self._apply(pending)
                resized, boxes, pending = resized + r, boxes + b, []
        if pending:
            r, b = self._apply(pending)
            resized, boxes = resized + r, boxes + b
        if dry_run:
            self.stdout.write(f"{found} image{'s' if found != 1 else ''} would be turned upright (dry run).")
        else:
            self.stdout.write(
                f"{found} image{'s' if found != 1 else ''} turned upright; "
                f"{resized} got new width and height, {boxes} box{'es' if boxes != 1 else ''} rescaled."
            )

    def _inspect(self, image: Image, *, prepare: bool) -> _Turn | None:
        try:
            with default_storage.open(image.file.name, "rb") as handle:
                orientation, stored = imaging.read_orientation(handle)
                if orientation == 1:
                    return None
                if not prepare:
                    return _Turn(image, stored, stored, [])
                processed = imaging.process(handle)
                if processed.oriented is None:
                    return None
        except (OSError, imaging.ImageRejected, SyntaxError, ValueError) as exc:
            self.stderr.write(f"Image {image.pk} ({image.file.name}) skipped: {exc}")
            return None
        upright = (processed.width, processed.height)
        if (image.width, image.height) not in (stored, upright):
            self.stderr.write(
                f"Image {image.pk} skipped: it is recorded as {image.width}×{image.height} "
                f"but its file is {stored[0]}×{stored[1]}."
            )
            return None
        names_thumbnail = not image.thumbnail.name
        if names_thumbnail:
            image.thumbnail.name = thumbnail_upload_to(image, "t.jpg")
        files = [
            (image.file.name, _prepare(image.file.name, processed.oriented)),
            (image.thumbnail.name, _prepare(image.thumbnail.name, processed.thumbnail)),
        ]
        return _Turn(image, stored, upright, files, names_thumbnail)

    def _apply(self, turns: list[_Turn]) -> tuple[int, int]:
        """One transaction for the rows of a chunk, then the files renamed into place."""
        # Images still at their stored size get the upright one; their boxes
        # keep their fractions of the picture. Grouped by size: one update each.
        # Every row naming a turned file is resized: each project's image of it, and its catalog asset.
        groups: dict[tuple[tuple[int, int], tuple[int, int]], list[str]] = defaultdict(list)
        for turn in turns:
            if (turn.image.width, turn.image.height) == turn.stored and turn.stored != turn.upright:
                groups[(turn.stored, turn.upright)].append(turn.image.file.name)
        resized = boxes = 0
        try:
            with transaction.atomic():
                names = [t.image.file.name for t in turns]
                batch_ids = sorted(
                    set(
                        Image.objects.filter(file__in=names, placement__isnull=False).values_list(
                            "placement__batch_id", flat=True
                        )
                    )
                )
                list(Batch.objects.select_for_update().filter(pk__in=batch_ids).order_by("pk").values_list("pk"))
                for ((old_w, old_h), (new_w, new_h)), files in groups.items():
                    # Only rows still at the stored size: a concurrent or earlier run's change is not applied twice.
                    rows = Image.objects.filter(file__in=files, width=old_w, height=old_h)
                    ids = list(rows.values_list("pk", flat=True))
                    Asset.objects.filter(file__in=files, width=old_w, height=old_h).update(width=new_w, height=new_h)
                    sx, sy = new_w / old_w, new_h / old_h
                    boxes += Annotation.objects.filter(image_id__in=ids).update(
                        x=F("x") * sx, y=F("y") * sy, width=F("width") * sx, height=F("height") * sy
                    )
                    resized += Image.objects.filter(pk__in=ids).update(
                        width=new_w, height=new_h, annotation_version=F("annotation_version") + 1
                    )
                if missing := [t.image for t in turns if t.names_thumbnail]:
                    Image.objects.bulk_update(missing, ["thumbnail"])
                mark_changed(*batch_ids)
        except BaseException:
            for turn in turns:
                _discard(turn.files)
            raise
        for turn in turns:
            _install(turn.files)
        return resized, boxes


def _prepare(name: str, data: bytes | BinaryIO) -> bytes | BinaryIO | str:
    """Write ``data`` beside ``name`` under a temporary name (on a local disk); else keep it."""
    if not isinstance(default_storage, FileSystemStorage):
        return data
    return write_beside(default_storage.path(name), data)


def _install(files: list[tuple[str, bytes | BinaryIO | str]]) -> None:
    for name, content in files:
        if isinstance(content, str):
            os.replace(content, default_storage.path(name))
        else:
            default_storage.delete(name)
            if not isinstance(content, bytes):
                content.seek(0)
                content = content.read()
            default_storage.save(name, ContentFile(content))


def _discard(files: list[tuple[str, bytes | BinaryIO | str]]) -> None:
    for _name, content in files:
        if isinstance(content, str):
            with contextlib.suppress(OSError):
                os.unlink(content)
