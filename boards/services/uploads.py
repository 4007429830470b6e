"""Uploads: many files as one batch (the board), one file into a named batch (the API)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from boards import imaging
from boards.models import (
    MAX_BATCH_IMAGES,
    UNARCHIVE,
    Asset,
    Batch,
    BatchSource,
    EventKind,
    Image,
    Project,
    Split,
    attach_assets,
    original_upload_to,
    place_free,
    thumbnail_upload_to,
)
from boards.services.common import (
    _event,
    _validate_priority,
    mark_changed,
    unique_batch_name,
    upload_batch_name,
)
from boards.services.files import _delete_unreferenced, _ensure_files, _in_parallel, _write_files, lock_catalog
from boards.services.tagging import _add_tags, _valid_tags
from boards.services.upload_batches import _batch_for_upload, _check_upload_target, _target
from core.errors import ConcurrentChange, InvalidInput, StorageRefused, TooLarge
from core.filenames import safe_filename
from core.permissions import require

log = logging.getLogger("boards.services")


@dataclass
class FileResult:
    filename: str
    status: str  # "landed", "duplicate" or "rejected"
    reason: str = ""
    image_id: int | None = None

    def to_dict(self) -> dict:
        return {
            "filename": self.filename,
            "status": self.status,
            "reason": self.reason,
            "image_id": self.image_id,
        }


@dataclass
class UploadResult:
    batch: Batch | None
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def landed(self) -> int:
        return self.count("landed")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    def to_dict(self) -> dict:
        return {
            "batch": {"id": self.batch.pk, "name": self.batch.name} if self.batch else None,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "files": [f.to_dict() for f in self.files],
        }


@dataclass
class ImageUpload:
    image_id: int
    duplicate: bool
    batch: Batch | None


def _size_of(upload) -> int:
    size = getattr(upload, "size", None)
    if size is None:
        size = upload.seek(0, os.SEEK_END)
    return size


def _process_one(upload) -> tuple[Any, imaging.ProcessedImage | str]:
    """Check one file from its file object (read in chunks, never whole): the file and what it is, or why not.

    A large request's files are on disk (``FILE_UPLOAD_MAX_MEMORY_SIZE``), so
    memory follows the thumbnail being made, not the upload's size.
    """
    limit = settings.MAX_UPLOAD_FILE_BYTES
    size = _size_of(upload)
    if size > limit:
        return None, f"The file is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:g} MB."
    try:
        upload.seek(0)
        return upload, imaging.process(upload)
    except imaging.ImageRejected as exc:
        return None, str(exc)
    except imaging.NoScratchSpace as exc:
        log.error("No room for a turned photo's temporary file: %s", exc)
        raise StorageRefused(
            f"The server could not store the images: it has no room for temporary files ({exc}). "
            "Nothing from this upload was kept; try again later, and tell an administrator if it happens again."
        ) from None


def upload_images(
    *,
    project: Project,
    actor: User,
    files: Sequence,
    batch_name: str | None = None,
    source: str = BatchSource.WEB,
    priority: int | None = None,
    into: Batch | None = None,
    or_new_batch: bool = False,
) -> UploadResult:
    """Store many image files as one new Unassigned batch.

    Each file is checked on its own: a bad file is reported with a reason and
    the rest land. No good file means no batch. ``into`` continues an upload
    sent in several requests: the images join the batch its first request
    made, which must still be in Unassigned and be the actor's own upload.
    With ``or_new_batch`` (a bucket import's next step), a batch ``into`` that
    cannot take them any more (moved on, deleted or full, as found under its
    row lock) is passed over for a new one instead of refusing the upload.
    """
    require(actor, "boards.upload_images", project, verb="upload images to this project")
    if not files:
        raise InvalidInput("Choose at least one image to upload.")
    if len(files) > MAX_BATCH_IMAGES:
        raise InvalidInput(f"A batch holds at most {MAX_BATCH_IMAGES:,} images; upload fewer at once.")
    if priority is not None:
        _validate_priority(priority)
    if into is not None and not or_new_batch:
        _check_upload_target(into, project, actor, adding=len(files))

    processed = _in_parallel(_process_one, files)

    results: list[FileResult] = []
    candidates: dict[str, tuple[int, imaging.ProcessedImage]] = {}
    contents: dict[int, Any] = {}  # index: the upload's file object, copied into storage in chunks
    for index, (upload, (data, outcome)) in enumerate(zip(files, processed, strict=True)):
        name = _display_name(upload)
        if isinstance(outcome, str):
            results.append(FileResult(name, "rejected", outcome))
        elif outcome.sha256 in candidates:
            first = results[candidates[outcome.sha256][0]].filename
            results.append(FileResult(name, "duplicate", f"Same image as {first} in this upload."))
        else:
            candidates[outcome.sha256] = (index, outcome)
            contents[index] = data
            results.append(FileResult(name, "landed"))

    for _attempt in range(2):
        try:
            batch = _store_upload(
                into=into,
                or_new_batch=or_new_batch,
                project=project,
                actor=actor,
                contents=contents,
                results=results,
                candidates=candidates,
                batch_name=batch_name,
                source=source,
                priority=priority,
            )
            break
        except IntegrityError:
            # Another upload stored one of these images a moment ago; the
            # second pass sees it and reports it as a duplicate.
            continue
    else:  # pragma: no cover - needs two racing uploads twice in a row
        raise ConcurrentChange("Another upload of the same images is running; try again.")
    return UploadResult(batch=batch, files=results)


def upload_image(
    *,
    project: Project,
    actor: User,
    file,
    filename: str | None = None,
    batch_name: str | None = None,
    split: str = "",
    tags: Sequence[str] = (),
) -> ImageUpload:
    """Store one image file in the batch named ``batch_name``.

    Images sent with one batch name land in one batch while that batch is in
    Unassigned: the first creates it, the next ones join it. Once it has moved
    on (or is full), the next image of that name starts a new batch. An image
    already in the project is reported as a duplicate and changes nothing.
    Joining a batch writes no event: the batch is still being uploaded, as a
    browser upload is one event however many files it has.

    The API's twin of ``upload_images``, not a call to it: a bad file is an
    error here rather than a line of a report, and the batch is found by name.
    """
    require(actor, "boards.upload_images", project, verb="upload images to this project")
    split = _valid_split(split)
    tags = _valid_tags(tags)
    limit = settings.MAX_UPLOAD_FILE_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise TooLarge(f"The file is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:g} MB.")
    data, processed = _process_one(file)
    if isinstance(processed, str):
        raise InvalidInput(processed)
    name = safe_filename(filename) or safe_filename(getattr(file, "name", "")) or f"image.{processed.extension}"

    for _attempt in range(3):
        try:
            return _store_one(
                project=project,
                actor=actor,
                data=data,
                processed=processed,
                name=name,
                batch_name=batch_name,
                split=split,
                tags=tags,
            )
        except IntegrityError:
            # The same image, or a batch of the same name, was stored a moment
            # ago by another request; the next pass finds it.
            continue
    raise ConcurrentChange("Another upload of the same image or batch is running; try again.")


def _display_name(upload) -> str:
    return safe_filename(getattr(upload, "name", "")) or "unnamed"


def _store_upload(
    *, into, or_new_batch=False, project, actor, contents, results, candidates, batch_name, source, priority
) -> Batch | None:
    """Store what is new and queue what the workspace already has; the batch (None when nothing joins one).

    Per picture (sha256): already in this project and in a batch, a duplicate
    (named with its batch); in this project but in no batch, it joins the new
    batch; in the workspace catalog but not this project, this project gets it
    without storing the file again; else the file is stored as a new asset.
    """
    known = {
        asset.sha256: asset
        for asset in Asset.objects.filter(workspace_id=project.workspace_id, sha256__in=list(candidates))
    }
    sha_of = {asset.pk: sha for sha, asset in known.items()}
    in_project = {
        sha_of[asset_id]: (pk, batch_name_)
        for asset_id, pk, batch_name_ in Image.objects.filter(project=project, asset_id__in=list(sha_of)).values_list(
            "asset_id", "pk", "placement__batch__name"
        )
    }
    for sha, (pk, queued_in) in in_project.items():
        if queued_in is not None:
            index, _ = candidates[sha]
            results[index].status = "duplicate"
            results[index].reason = f"This image is already in the project, in batch “{queued_in}”."
            results[index].image_id = pk
    free = {sha: pk for sha, (pk, queued_in) in in_project.items() if queued_in is None}
    catalog = {sha: asset for sha, asset in known.items() if sha not in in_project}
    fresh = [(i, p) for sha, (i, p) in candidates.items() if sha not in in_project and sha not in catalog]
    if not fresh and not free and not catalog:
        return None

    now = timezone.now()
    images, files = [], []
    for index, p in fresh:
        image, image_files = _new_image(project, p, contents[index], filename=results[index].filename, at=now)
        images.append(image)
        files += image_files
    for sha, asset in catalog.items():
        index, _ = candidates[sha]
        images.append(Image.of_asset(asset, project=project, original_filename=results[index].filename))
        results[index].reason = "Already in the workspace catalog: added to this project without storing it again."
    # Files first, outside the transaction: the database stays locked only for
    # the few queries below. Paths are content-addressed and a file already
    # there is kept only if it holds the same bytes; the ones written now are
    # removed on failure unless another upload's row took them meanwhile.
    # A process killed before the commit leaves files no row names, which
    # ``manage.py cleanup_files`` removes.
    written = _write_files(files, what="the images")
    try:
        with transaction.atomic():
            _catalog_kept(project, catalog.values())
            batch = _target(into, project, actor, adding=len(images) + len(free), or_new_batch=or_new_batch)
            made = batch is None
            if made:
                batch = Batch.objects.create(
                    project=project,
                    name=unique_batch_name(project, batch_name or upload_batch_name(now)),
                    priority=priority or Batch._meta.get_field("priority").default,
                    source=source,
                    uploaded_at=now,
                    created_by=actor,
                )
            for image in images:
                image.batch = batch
            replaced = attach_assets(images)  # another upload stored one of these pictures a moment ago
            Image.objects.bulk_create(images, batch_size=500)
            queued = set(place_free(Image.objects.filter(pk__in=list(free.values())), batch, setting=UNARCHIVE))
            mark_changed(batch)
            joined = len(images) + len(queued)
            if made:
                _event(batch, EventKind.CREATED, actor, to_status=batch.status, images=joined, source=source)
            else:
                _event(batch, EventKind.ADDED, actor, images=joined, source=source)
    except BaseException:
        _delete_unreferenced(written)
        raise
    _ensure_files(files, written)
    if replaced:
        _delete_unreferenced(replaced)
    for image in images:
        results[candidates[image.sha256][0]].image_id = image.pk
    for sha, pk in free.items():
        result = results[candidates[sha][0]]
        result.image_id = pk
        if pk in queued:
            result.reason = "Already in this project, in no batch: queued into this batch."
        else:
            result.status, result.reason = "duplicate", "This image joined another batch of the project meanwhile."
    return batch


def _new_image(
    project: Project, processed: imaging.ProcessedImage, data: bytes, *, filename: str, at, **fields
) -> tuple[Image, list[tuple[str, bytes]]]:
    """An unsaved image row and the files it names (original, thumbnail), for both upload paths."""
    image = Image(
        project=project,
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
        original_filename=filename,
        uploaded_at=at,
        **fields,
    )
    image.file.name = original_upload_to(image, f"x.{processed.extension}")
    image.thumbnail.name = thumbnail_upload_to(image, "t.jpg")
    # A photo turned upright is stored upright; sha256 stays that of the upload.
    original = data if processed.oriented is None else processed.oriented
    return image, [(image.file.name, original), (image.thumbnail.name, processed.thumbnail)]


def _valid_split(split: str | None) -> str:
    split = (split or "").strip().lower()
    if split not in Split.values:
        raise InvalidInput("The split is one of train, valid or test.")
    return split


def _catalog_kept(project: Project, assets) -> None:
    """First in an upload's transaction: the workspace catalog's lock, shared (with other uploads and
    "Add batch to project"; a delete of pictures no project uses holds it alone), and a check that the
    pictures of the catalog this upload reuses, read before, are still there. One was deleted
    meanwhile: IntegrityError, and the upload goes round again, storing that picture afresh."""
    lock_catalog(project.workspace_id, exclusive=False)
    ids = {asset.pk for asset in assets}
    if ids and Asset.objects.filter(pk__in=ids).count() < len(ids):
        raise IntegrityError("A picture of the workspace catalog was deleted while this upload ran.")


def _store_one(*, project, actor, data, processed, name, batch_name, split, tags) -> ImageUpload:
    asset = Asset.objects.filter(workspace_id=project.workspace_id, sha256=processed.sha256).first()
    existing = (
        Image.objects.filter(project=project, asset=asset).values_list("pk", "placement__batch_id").first()
        if asset
        else None
    )
    now = timezone.now()
    if existing is not None and existing[1] is None:
        return _queue_one(project, actor, existing[0], batch_name, now, split=split, tags=tags)
    if existing is not None:
        return ImageUpload(image_id=existing[0], duplicate=True, batch=None)
    if asset is not None:
        image, files = Image.of_asset(asset, project=project, split=split, original_filename=name), []
    else:
        image, files = _new_image(project, processed, data, filename=name, at=now, split=split)
    # Files first, outside the transaction, as upload_images does; content-addressed,
    # so only the files written now are removed if the rows cannot be stored.
    written = _write_files(files, what="the image")
    try:
        with transaction.atomic():
            _catalog_kept(project, [asset] if asset is not None else [])
            batch, created = _batch_for_upload(project, actor, batch_name, now)
            image.batch = batch
            replaced = attach_assets([image])  # another upload stored this picture a moment ago
            image.save(force_insert=True)
            if tags:
                _add_tags(project, [image.pk], tags)
            mark_changed(batch)
            if created:
                _event(batch, EventKind.CREATED, actor, to_status=batch.status, images=1, source=BatchSource.API)
    except BaseException:
        # Another request may have stored the same image meanwhile: its row now uses these files.
        _delete_unreferenced(written)
        raise
    _ensure_files(files, written)
    if replaced:
        _delete_unreferenced(replaced)
    return ImageUpload(image_id=image.pk, duplicate=False, batch=batch)


def _queue_one(
    project: Project, actor: User, image_id: int, batch_name: str | None, now, *, split: str, tags
) -> ImageUpload:
    """An image the project has in no batch, sent again: it joins the named batch (a duplicate all
    the same), with the split and tags the upload sends."""
    with transaction.atomic():
        batch, created = _batch_for_upload(project, actor, batch_name, now)
        setting = UNARCHIVE | ({"split": split} if split else {})
        if not place_free(Image.objects.filter(pk=image_id), batch, setting=setting):
            if created:
                batch.delete()
            return ImageUpload(image_id=image_id, duplicate=True, batch=None)
        if tags:
            _add_tags(project, [image_id], tags)
        mark_changed(batch)
        if created:
            _event(batch, EventKind.CREATED, actor, to_status=batch.status, images=1, source=BatchSource.API)
    return ImageUpload(image_id=image_id, duplicate=True, batch=batch)
