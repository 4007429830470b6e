"""The only code that changes Batchboard's state.

Every function is keyword-only and takes the acting user. Each one checks the
actor's permission itself (django-fsm does not enforce ``permission=`` on a
call), runs in one transaction, moves images with bulk queries and writes a
``BatchEvent`` for every batch it changes. Errors are ``boards.errors``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Value
from django.utils import timezone
from django_fsm import ConcurrentTransition

from accounts.models import User
from accounts.roles import Role, role_at_least
from boards import catalog, imaging, selectors
from boards.errors import (
    ConcurrentChange,
    InvalidInput,
    NotAllowed,
    NotFound,
    StorageRefused,
    TooLarge,
    WrongState,
)
from boards.models import (
    CARD_COUNTS,
    MAX_BATCH_IMAGES,
    PRIORITY_DEFAULT,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    Annotation,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchSource,
    BatchStatus,
    EventKind,
    Image,
    Job,
    JobState,
    LabelClass,
    Project,
    ReviewMark,
    ReviewState,
    Split,
    Tag,
    count_card_images,
    original_upload_to,
    thumbnail_upload_to,
)

log = logging.getLogger(__name__)

STATUS_LABELS = dict(BatchStatus.choices)


# --- helpers -----------------------------------------------------------------


def mark_changed(*batches: Batch | int | None) -> None:
    """Mark batches changed and store the image counts their cards show: two queries.

    Every change to a batch's images (which ones, their annotation or review
    state) ends with this: the board's change check reads ``updated_at``, and
    the stored counts hold while ``counted_at`` equals it. A change that skips
    it costs the board a count, never a wrong number. Callers hold the
    batches' row locks (``_locked``, ``_lock_batches``), taken before they
    changed any image: the counts then include every committed change.
    """
    ids = {b.pk if isinstance(b, Batch) else b for b in batches if b is not None}
    if not ids:
        return
    counted = count_card_images(ids)
    now = timezone.now()
    rows = []
    for pk in ids:
        row = Batch(pk=pk, updated_at=now, counted_at=now)
        row.n_images, row.n_annotated, row.n_reviewed, row.n_prelabeled = counted.get(pk, (0, 0, 0, 0))
        rows.append(row)
    Batch.objects.bulk_update(rows, ["updated_at", "counted_at", *CARD_COUNTS], batch_size=500)


def _event(
    batch: Batch,
    kind: str,
    actor: User | None,
    *,
    from_status: str = "",
    to_status: str = "",
    **detail,
) -> BatchEvent:
    return BatchEvent.objects.create(
        project_id=batch.project_id,
        batch=batch,
        batch_name=batch.name,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        detail=detail,
    )


# Row locks are taken in one order everywhere: the project row (only where a
# project-wide rule needs it, as FOR NO KEY UPDATE so that rows referring to
# the project can still be inserted meanwhile), then batch rows in id order,
# then image rows. A service that starts from an image locks its batch first.
# Two services in one order wait for each other instead of deadlocking, and
# ``mark_changed`` counts a batch's images while its row is locked, so the
# counts it stores include every change committed before.


def _locked(batch: Batch, *, same_status: bool = True) -> Batch:
    """Re-read the batch under a row lock; refuse if it was deleted or (``same_status``) moved meanwhile."""
    try:
        fresh = Batch.objects.select_for_update(of=("self",)).select_related("project").get(pk=batch.pk)
    except Batch.DoesNotExist:
        raise ConcurrentChange("This batch no longer exists; someone deleted it.") from None
    if same_status and fresh.status != batch.status:
        raise ConcurrentChange(f"Someone else moved this batch to {STATUS_LABELS[fresh.status]} meanwhile.")
    return fresh


def _lock_batches(ids: Iterable[int]) -> dict[int, Batch]:
    """Lock these batches' rows, in id order; those that still exist, by id."""
    rows = Batch.objects.select_for_update(of=("self",)).select_related("project").filter(pk__in=set(ids))
    return {batch.pk: batch for batch in rows.order_by("pk")}


def _locked_image(image: Image) -> Image:
    """Re-read the image under a row lock, its batch (``image.batch``) locked first."""
    found = list(Image.objects.filter(pk=image.pk).values_list("batch_id", flat=True))
    if not found:
        raise NotFound("This image no longer exists; someone deleted it.")
    batch = _lock_batches([found[0]]).get(found[0]) if found[0] is not None else None
    fresh = Image.objects.select_for_update(of=("self",)).select_related("project").filter(pk=image.pk).first()
    if fresh is None:
        raise NotFound("This image no longer exists; someone deleted it.")
    if fresh.batch_id != (batch.pk if batch is not None else None):
        raise ConcurrentChange("This image moved to another batch meanwhile; reload and try again.")
    fresh.batch = batch
    return fresh


def _check_transition(batch: Batch, name: str, actor: User, *, verb: str) -> None:
    """Permission first (403), then state (409), then the transition's conditions."""
    method = getattr(batch, name)
    meta = method._django_fsm
    any_transition = next(iter(meta.transitions.values()))
    if not actor.is_authenticated or not any_transition.has_perm(batch, actor):
        raise NotAllowed(f"You do not have permission to {verb} this batch.")
    if not meta.has_transition(batch.status):
        raise WrongState(f"A batch in {STATUS_LABELS[batch.status]} cannot be {_past(verb)}.")


def _past(verb: str) -> str:
    return {
        "assign": "assigned",
        "submit": "submitted",
        "review": "reviewed",
        "move": "moved to Unassigned",
        "archive": "archived",
        "restore": "restored",
    }.get(verb, verb)


def _save_transition(batch: Batch, *also: Batch | None) -> None:
    """Save a transition, then store the card counts of the batch (and ``also``, split off it).

    Callers change the images first: the counts stored are final.
    """
    try:
        batch.save()
    except ConcurrentTransition:
        raise ConcurrentChange("Someone else moved this batch meanwhile; reload and try again.") from None
    mark_changed(batch, *also)


def unique_batch_name(project: Project, base: str, *, exclude: Iterable[str] = ()) -> str:
    """``base``, or ``base (2)``, ``base (3)``… whichever is free in the project."""
    base = base.strip()[:190] or "Batch"
    taken = set(Batch.objects.filter(project=project, name__startswith=base).values_list("name", flat=True)) | set(
        exclude
    )
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def upload_batch_name(at) -> str:
    """Like "Uploaded on 11/22/22 at 1:39 pm", in the server's time zone."""
    local = timezone.localtime(at)
    hour = local.hour % 12 or 12
    return f"Uploaded on {local:%m/%d/%y} at {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


def _parse_image_ids(image_ids: Iterable[int], *, what: str) -> set[int]:
    try:
        ids = {int(i) for i in image_ids}
    except (TypeError, ValueError):
        raise InvalidInput(f"The {what} must be a list of image ids.") from None
    if not ids:
        raise InvalidInput(f"Select at least one image to {what.split()[0]}.")
    return ids


def _check_all_in(ids: set[int], found: int) -> None:
    if found != len(ids):
        raise InvalidInput(f"{len(ids) - found} of the {len(ids)} selected images are not in this batch.")


def _image_ids_in(batch: Batch, image_ids: Iterable[int], *, what: str) -> set[int]:
    ids = _parse_image_ids(image_ids, what=what)
    _check_all_in(ids, Image.objects.filter(batch=batch, pk__in=ids).count())
    return ids


# What splits used to append to a batch's name, and what they append now: a
# part number. ``(N)`` counts only after an old suffix (``unique_batch_name``
# added it there); elsewhere it may be the name's own.
_OLD_SUFFIX = r"\((?:rest|rejected)\)(?:\s*\(\d+\))?"
_PART = r"·\s*part\s+\d+"
_SPLIT_TAIL = re.compile(rf"(?:\s*(?:{_OLD_SUFFIX}|{_PART}))+\s*$")
_STALE_TAIL = re.compile(rf"(?:\s*{_OLD_SUFFIX})+(?=\s*(?:{_PART}\s*)?$)")


def split_name(project: Project, name: str) -> str:
    """The name of a batch split off the batch ``name``: "Name · part 2", then part 3...

    Parts count from the name without its split suffixes, so splitting a
    part again gives the next free part number, never a stacked suffix.
    """
    base = _SPLIT_TAIL.sub("", name).strip()[:180] or "Batch"
    taken = set(Batch.objects.filter(project=project, name__startswith=base).values_list("name", flat=True))
    n = 2
    while f"{base} · part {n}" in taken:
        n += 1
    return unique_batch_name(project, f"{base} · part {n}", exclude=taken)


def _drop_stale_suffix(batch: Batch) -> dict:
    """A batch reaching Dataset sheds a "(rest)" or "(rejected)" it still carries; saved with its transition.

    Returns the event detail naming the old name, if it changed.
    """
    clean = _STALE_TAIL.sub("", batch.name).strip()
    if clean == batch.name or not clean:
        return {}
    if Batch.objects.filter(project_id=batch.project_id, name=clean).exclude(pk=batch.pk).exists():
        clean = split_name(batch.project, clean)
    old, batch.name = batch.name, clean
    return {"renamed_from": old}


def _split_off(
    batch: Batch, image_ids: set[int] | None, *, keep: bool, status: str, actor
) -> tuple[Batch, int]:
    """Move images out of ``batch`` into a new batch split from it; the new batch and how many moved.

    With ``keep`` the ids are the ones that stay and every other image moves;
    otherwise the ids are the ones that move. The new batch is named as a
    part of the old one (``split_name``).
    """
    for attempt in range(5):
        try:
            # Parts of one batch split at once pick the same free "part N": the
            # project's unique name refuses the second, which takes the next.
            with transaction.atomic():
                new = Batch.objects.create(
                    project=batch.project,
                    name=split_name(batch.project, batch.name),
                    priority=batch.priority,
                    status=status,
                    source=BatchSource.SPLIT,
                    uploaded_at=batch.uploaded_at,
                    created_by=actor,
                    split_from=batch,
                )
            break
        except IntegrityError:
            if attempt == 4:
                raise ConcurrentChange("Other splits of this batch are being named right now; try again.") from None
    moving = Image.objects.filter(batch=batch)
    moving = moving.exclude(pk__in=image_ids) if keep else moving.filter(pk__in=image_ids)
    moved = moving.update(batch=new)
    # Both batches' counts are stored by the caller (``mark_changed``), after its transition.
    _event(
        batch,
        EventKind.SPLIT,
        actor,
        from_status=batch.status,
        to_status=batch.status,
        images_moved=moved,
        into_batch=new.pk,
        into_batch_name=new.name,
    )
    _event(
        new,
        EventKind.CREATED,
        actor,
        to_status=status,
        images=moved,
        split_from=batch.pk,
        split_from_name=batch.name,
    )
    return new, moved


# --- uploads -----------------------------------------------------------------


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


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _upload_pool() -> ThreadPoolExecutor | None:
    """One pool per process shared by all uploads, so decoding never oversubscribes the cores."""
    global _pool
    if settings.UPLOAD_WORKERS <= 1:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.UPLOAD_WORKERS, thread_name_prefix="upload")
        return _pool


def _in_parallel(function, items: Sequence) -> list:
    pool = _upload_pool()
    if pool is None or len(items) < 2:
        return [function(item) for item in items]
    return list(pool.map(function, items))


def upload_images(
    *,
    project: Project,
    actor: User,
    files: Sequence,
    batch_name: str | None = None,
    source: str = BatchSource.WEB,
    priority: int | None = None,
    into: Batch | None = None,
) -> UploadResult:
    """Store many image files as one new Unassigned batch.

    Each file is checked on its own: a bad file is reported with a reason and
    the rest land. No good file means no batch. ``into`` continues an upload
    sent in several requests: the images join the batch its first request
    made, which must still be in Unassigned and be the actor's own upload.
    """
    if not actor.has_perm("boards.upload_images", project):
        raise NotAllowed("You do not have permission to upload images to this project.")
    if not files:
        raise InvalidInput("Choose at least one image to upload.")
    if len(files) > MAX_BATCH_IMAGES:
        raise InvalidInput(f"A batch holds at most {MAX_BATCH_IMAGES:,} images; upload fewer at once.")
    if priority is not None:
        _validate_priority(priority)
    if into is not None:
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


def safe_filename(name) -> str:
    """A file name without any folder (either slash): the last part, at most 255 characters.

    "" when nothing usable is left ("", "." or ".."), so that the caller picks
    a fallback: a stored name never climbs out of a folder it is written into.
    """
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    return "" if base in (".", "..") else base


def _display_name(upload) -> str:
    return safe_filename(getattr(upload, "name", "")) or "unnamed"


def _check_upload_target(batch: Batch, project: Project, actor: User, *, adding: int) -> None:
    if (
        batch.project_id != project.pk
        or batch.created_by_id != actor.pk
        or batch.source
        not in (
            BatchSource.WEB,
            BatchSource.API,
        )
    ):
        raise InvalidInput("Images can only be added to a batch you are uploading right now.")
    if batch.status != BatchStatus.UNASSIGNED:
        raise WrongState("This batch has left Unassigned; start a new upload.")
    if Image.objects.filter(batch=batch).count() + adding > MAX_BATCH_IMAGES:
        raise InvalidInput(f"A batch holds at most {MAX_BATCH_IMAGES:,} images; start a new upload for the rest.")


def _store_upload(*, into, project, actor, contents, results, candidates, batch_name, source, priority) -> Batch | None:
    existing = dict(Image.objects.filter(project=project, sha256__in=list(candidates)).values_list("sha256", "pk"))
    for sha, pk in existing.items():
        index, _ = candidates[sha]
        results[index].status = "duplicate"
        results[index].reason = "This image is already in the project."
        results[index].image_id = pk
    fresh = [(i, p) for sha, (i, p) in candidates.items() if sha not in existing]
    if not fresh:
        return None

    now = timezone.now()
    images, files = [], []
    for index, p in fresh:
        image, image_files = _new_image(project, p, contents[index], filename=results[index].filename, at=now)
        images.append(image)
        files += image_files
    # Files first, outside the transaction: the database stays locked only for
    # the few queries below. Paths are content-addressed and a file already
    # there is kept only if it holds the same bytes; the ones written now are
    # removed on failure unless another upload's row took them meanwhile.
    # A process killed before the commit leaves files no row names, which
    # ``manage.py cleanup_files`` removes.
    written = _write_files(files, what="the images")
    try:
        with transaction.atomic():
            if into is not None:
                batch = _locked(into)
                _check_upload_target(batch, project, actor, adding=len(fresh))
            else:
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
            Image.objects.bulk_create(images, batch_size=500)
            mark_changed(batch)
            if into is None:
                _event(batch, EventKind.CREATED, actor, to_status=batch.status, images=len(images), source=source)
            else:
                _event(batch, EventKind.ADDED, actor, images=len(images), source=source)
    except BaseException:
        _delete_unreferenced(written)
        raise
    _ensure_files(files, written)
    for (index, _), image in zip(fresh, images, strict=True):
        results[index].image_id = image.pk
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


COPY_BYTES = 1024 * 1024


def _chunks(content) -> Iterator[bytes]:
    """The bytes of ``content`` (bytes, or a binary file read from its start) in pieces."""
    if isinstance(content, bytes | bytearray | memoryview):
        yield bytes(content)
        return
    content.seek(0)
    while chunk := content.read(COPY_BYTES):
        yield chunk


def _sha256(content) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(content):
        digest.update(chunk)
    return digest.hexdigest()


def _copy(content, handle) -> None:
    for chunk in _chunks(content):
        handle.write(chunk)


def _holds(name: str, content) -> bool:
    """Whether the stored file ``name`` has the same bytes as ``content`` (hashed in chunks)."""
    try:
        with default_storage.open(name, "rb") as stored:
            return _sha256(stored) == _sha256(content)
    except FileNotFoundError:
        return False


def write_beside(path: str, content) -> str:
    """Write ``content`` (bytes or a binary file) to a new temporary file beside ``path``; its path.

    The file reaches the disk before this returns; ``os.replace`` then puts it
    at ``path`` in one step. A process killed before that leaves a ``.part``
    file (``cleanup_files`` removes it), never a torn file at ``path``.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.{secrets.token_hex(4)}.part"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            _copy(content, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if default_storage.file_permissions_mode is not None:
            os.chmod(temp, default_storage.file_permissions_mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def _replace_file(path: str, content) -> None:
    """Write ``content`` to ``path`` whole or not at all."""
    temp = write_beside(path, content)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _write_file(item: tuple[str, Any]) -> bool:
    """Store one file (bytes or a binary file) at its content-addressed name; False if it was already there.

    A file already at the name is trusted only if it holds the same bytes;
    anything else there (a torn or foreign file) is replaced.
    """
    name, content = item
    if isinstance(default_storage, FileSystemStorage):
        path = default_storage.path(name)
        if os.path.exists(path) and _holds(name, content):
            # Fresh again, so that cleanup_files's grace period covers it until this upload commits.
            os.utime(path)
            return False
        _replace_file(path, content)
        return True
    if default_storage.exists(name):
        if _holds(name, content):
            return False
        default_storage.delete(name)
    if isinstance(content, bytes | bytearray | memoryview):
        content = ContentFile(bytes(content))
    else:
        content.seek(0)
        content = File(content, name)
    saved = default_storage.save(name, content)
    if saved != name:  # pragma: no cover - a storage that renamed it: the row must name the file
        default_storage.delete(saved)
        raise OSError(f"The storage saved {name} as {saved}.")
    return True


def _try_write(item: tuple[str, Any]) -> bool | Exception:
    try:
        return _write_file(item)
    except Exception as exc:  # reported below, once every other write has finished
        return exc


def _write_files(files: Sequence[tuple[str, Any]], *, what: str) -> list[str]:
    """Store every file (in parallel); the names written now.

    If any write fails, the ones that succeeded are removed and the storage's
    refusal is raised as ``StorageRefused`` (other errors as they are).
    """
    outcomes = _in_parallel(_try_write, files)
    written = [name for (name, _content), outcome in zip(files, outcomes, strict=True) if outcome is True]
    failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if not failed:
        return written
    _delete_unreferenced(written)
    error = failed[0]
    if not isinstance(error, OSError):
        raise error
    log.error("Storage refused a write of %s", what, exc_info=error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "its storage is full"
    elif isinstance(error, PermissionError) or error.errno == errno.EROFS:
        why = "its storage does not accept writes (read-only, or not permitted)"
    else:
        why = f"writing to its storage failed ({error.strerror or error})"
    raise StorageRefused(
        f"The server could not store {what}: {why}. Nothing from this upload was kept; "
        "try again later, and tell an administrator if it happens again."
    ) from error


def _ensure_files(files: Sequence[tuple[str, Any]], written: Sequence[str]) -> None:
    """After the rows committed: write again any file they rely on that was already there and is gone now.

    A file found at its address was not written by this upload; a failed upload
    of the same image, a deletion or ``cleanup_files`` may have removed it
    between that check and the commit. The upload still holds the content.
    """
    kept = set(written)
    for name, content in files:
        if name in kept or default_storage.exists(name):
            continue
        try:
            _write_file((name, content))
        except OSError:  # the row is committed; the export check (409) will name the missing file
            log.error("Could not write %s again after it vanished", name, exc_info=True)


def _delete_unreferenced(names: Sequence[str]) -> None:
    """Delete files written for rows that were not stored, unless a row stored meanwhile names them."""
    if not names:
        return
    try:
        named = Image.objects.filter(Q(file__in=names) | Q(thumbnail__in=names)).values_list("file", "thumbnail")
        kept = {name for pair in named for name in pair}
    except DatabaseError:  # pragma: no cover - the files stay for cleanup_files
        log.warning("Could not check which of %d files are in use; left for cleanup_files", len(names))
        return
    _delete_files(name for name in names if name not in kept)


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - storage trouble is logged, not fatal
            log.warning("Could not delete %s from storage", name, exc_info=True)


# --- assignment ----------------------------------------------------------------


@dataclass
class AssignResult:
    batch: Batch
    job: Job
    remainder: Batch | None


def assign(
    *,
    batch: Batch,
    actor: User,
    labeler: User,
    reviewer: User | None = None,
    image_ids: Iterable[int] | None = None,
    first: int | None = None,
    job_name: str = "",
) -> AssignResult:
    """Assign a batch, or a selection of its images, to a labeler.

    With a selection (``image_ids``, or the ``first`` N images in upload
    order), the images not selected split off into a new Unassigned batch of
    the same priority. A ``first`` larger than the batch is refused.
    """
    if first is not None and (not isinstance(first, int) or isinstance(first, bool) or first < 1):
        raise InvalidInput("“The first N” is a whole number of at least 1.")
    if first is not None and image_ids is not None:
        raise InvalidInput("Choose images either by id or as “the first N”, not both.")
    with transaction.atomic():
        batch = _locked(batch)
        _check_transition(batch, "assign", actor, verb="assign")
        workspace_id = batch.project.workspace_id
        if not role_at_least(labeler.role_in(workspace_id), Role.LABELER):
            raise InvalidInput(f"{labeler} cannot label in this workspace (needs the labeler role or above).")
        if reviewer is not None and not role_at_least(reviewer.role_in(workspace_id), Role.REVIEWER):
            raise InvalidInput(f"{reviewer} cannot review in this workspace (needs the reviewer role or above).")
        total = batch.images.count()
        if total == 0:
            raise InvalidInput("This batch has no images to assign.")
        if first is not None:
            if first > total:
                raise InvalidInput(
                    f"This batch has only {total} image{'s' if total != 1 else ''}: "
                    f"there are no first {first} to assign; choose at most {total}."
                )
            if first < total:
                image_ids = Image.objects.filter(batch=batch).order_by("pk").values_list("pk", flat=True)[:first]
        remainder = None
        assigned = total
        if image_ids is not None:
            ids = _parse_image_ids(image_ids, what="assign")
            if len(ids) < total:
                remainder, moved = _split_off(batch, ids, keep=True, status=BatchStatus.UNASSIGNED, actor=actor)
                # What stayed is what was selected, unless some ids were not this batch's:
                # one count fewer than checking the selection first (it rolls back).
                _check_all_in(ids, total - moved)
                assigned = len(ids)
            else:
                _check_all_in(ids, Image.objects.filter(batch=batch, pk__in=ids).count())
        from_status = batch.status
        batch.assign()
        _save_transition(batch, remainder)
        job = Job.objects.create(
            batch=batch, name=job_name or batch.name, labeler=labeler, reviewer=reviewer, created_by=actor
        )
        _event(
            batch,
            EventKind.ASSIGNED,
            actor,
            from_status=from_status,
            to_status=batch.status,
            labeler=labeler.email,
            reviewer=reviewer.email if reviewer else None,
            job=job.pk,
            images=assigned,
        )
    return AssignResult(batch=batch, job=job, remainder=remainder)


def rework_message(n: int) -> str:
    """Why a batch with images sent back by a review cannot be submitted yet."""
    return (
        f"{n} image{'s' if n != 1 else ''} sent back by the review still await{'' if n != 1 else 's'} rework: "
        "change {0} or mark {0} “checked, no change needed” in the editor before submitting.".format(
            "them" if n != 1 else "it"
        )
    )


def submit(*, batch: Batch, actor: User) -> Batch:
    """Annotating → Review (review mode) or → Dataset, once every image is done.

    Images sent back by a review (``ReviewState.REJECTED``) must first be
    changed (``save_annotations``) or confirmed unchanged (``confirm_rework``).
    """
    with transaction.atomic():
        # The project first, so that review cannot be turned off between reading review_mode and the move.
        Project.objects.select_for_update(no_key=True).filter(pk=batch.project_id).first()
        batch = _locked(batch)
        _check_transition(batch, "submit", actor, verb="submit")
        counts = batch.images.aggregate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(annotation_state=AnnotationState.UNANNOTATED)),
            rework=Count("pk", filter=Q(review_state=ReviewState.REJECTED)),
        )
        pending = counts["pending"]
        if pending:
            raise WrongState(
                f"{pending} image{'s are' if pending != 1 else ' is'} not annotated yet; "
                "annotate or mark them empty before submitting."
            )
        if not counts["total"]:
            raise WrongState("This batch has no images to submit.")
        if counts["rework"]:
            raise WrongState(rework_message(counts["rework"]))
        from_status = batch.status
        batch.images.update(review_state=ReviewState.PENDING)
        batch.submit()
        renamed = _drop_stale_suffix(batch) if batch.status == BatchStatus.DATASET else {}
        _save_transition(batch)
        Job.objects.filter(batch=batch, state=JobState.ANNOTATING).update(
            state=JobState.IN_REVIEW if batch.status == BatchStatus.REVIEW else JobState.COMPLETE,
            updated_at=timezone.now(),
        )
        _event(batch, EventKind.SUBMITTED, actor, from_status=from_status, to_status=batch.status, **renamed)
    return batch


# --- review --------------------------------------------------------------------


@dataclass
class ReviewResult:
    approved: Batch | None
    rejected: Batch | None


APPROVE = "approve"
REJECT = "reject"


def record_decision(*, image: Image, actor: User, decision: str, comment: str = "") -> Image:
    """One reviewer decision on one image of a batch in Review."""
    if decision not in (APPROVE, REJECT):
        raise InvalidInput("A decision is either approve or reject.")
    with transaction.atomic():
        image = _locked_image(image)
        batch = image.batch
        if batch is None:
            raise WrongState("This image is not in a batch.")
        if not actor.has_perm("boards.review_batch", batch):
            raise NotAllowed("You do not have permission to review this batch.")
        if batch.status != BatchStatus.REVIEW:
            raise WrongState(f"A batch in {STATUS_LABELS[batch.status]} cannot be reviewed.")
        image.review_state = ReviewState.APPROVED if decision == APPROVE else ReviewState.REJECTED
        image.review_comment = comment.strip() if decision == REJECT else ""
        image.save(update_fields=["review_state", "review_comment"])
        mark_changed(batch)
    return image


def review(
    *,
    batch: Batch,
    actor: User,
    approved: Iterable[int] = (),
    rejected: Iterable[int] = (),
    comments: Mapping[int, str] | None = None,
    all: str | None = None,  # noqa: A002 - reads best at the call site: review(all=APPROVE)
    comment: str = "",
) -> ReviewResult:
    """Finish the review of a batch.

    Decisions come from ``approved``/``rejected`` (or ``all``) plus any recorded
    earlier with ``record_decision``; every image needs one. Approved images go
    to Dataset; rejected ones go back to Annotating, to the same labeler, split
    off as their own batch when the decisions are mixed.
    """
    comments = dict(comments or {})
    with transaction.atomic():
        batch = _locked(batch)
        _check_transition(batch, "approve", actor, verb="review")
        images = Image.objects.filter(batch=batch)
        if all is not None:
            if all not in (APPROVE, REJECT):
                raise InvalidInput("'all' is either approve or reject.")
            images.update(
                review_state=ReviewState.APPROVED if all == APPROVE else ReviewState.REJECTED,
                review_comment=comment.strip() if all == REJECT else "",
            )
        else:
            approved_ids = _image_ids_in(batch, approved, what="approve") if approved else set()
            rejected_ids = _image_ids_in(batch, rejected, what="reject") if rejected else set()
            if approved_ids & rejected_ids:
                raise InvalidInput(
                    f"{len(approved_ids & rejected_ids)} images are both approved and rejected; choose one for each."
                )
            if approved_ids:
                images.filter(pk__in=approved_ids).update(review_state=ReviewState.APPROVED, review_comment="")
            if rejected_ids:
                images.filter(pk__in=rejected_ids).update(
                    review_state=ReviewState.REJECTED, review_comment=comment.strip()
                )
            commented = [
                Image(pk=pk, review_comment=text.strip()) for pk, text in comments.items() if int(pk) in rejected_ids
            ]
            if commented:
                Image.objects.bulk_update(commented, ["review_comment"], batch_size=500)
        counts = dict(images.order_by().values("review_state").annotate(n=Count("pk")).values_list("review_state", "n"))
        pending = counts.get(ReviewState.PENDING, 0)
        if pending:
            raise InvalidInput(
                f"{pending} image{'s' if pending != 1 else ''} still need{'s' if pending == 1 else ''} "
                "a decision: approve or reject every image."
            )
        n_approved = counts.get(ReviewState.APPROVED, 0)
        n_rejected = counts.get(ReviewState.REJECTED, 0)
        if n_rejected:
            images.filter(review_state=ReviewState.REJECTED).update(rejections=F("rejections") + 1)
            _keep_review_comments(images.filter(review_state=ReviewState.REJECTED), actor)
        job = batch.current_job
        if n_rejected == 0:
            _finish(batch, actor, "approve", approved=n_approved)
            if job:
                Job.objects.filter(pk=job.pk).update(state=JobState.COMPLETE, updated_at=timezone.now())
            return ReviewResult(approved=batch, rejected=None)
        if n_approved == 0:
            _finish(batch, actor, "reject", rejected=n_rejected)
            if job:
                Job.objects.filter(pk=job.pk).update(state=JobState.ANNOTATING, updated_at=timezone.now())
            return ReviewResult(approved=None, rejected=batch)
        rejected_ids = set(images.filter(review_state=ReviewState.REJECTED).values_list("pk", flat=True))
        back, _moved = _split_off(batch, rejected_ids, keep=False, status=BatchStatus.ANNOTATING, actor=actor)
        if job:
            Job.objects.create(
                batch=back,
                name=back.name,
                labeler_id=job.labeler_id,
                reviewer_id=job.reviewer_id,
                created_by=actor,
            )
            Job.objects.filter(pk=job.pk).update(state=JobState.COMPLETE, updated_at=timezone.now())
        _event(
            back,
            EventKind.REJECTED,
            actor,
            from_status=BatchStatus.REVIEW,
            to_status=BatchStatus.ANNOTATING,
            rejected=n_rejected,
            labeler=job.labeler.email if job else None,
        )
        _finish(batch, actor, "approve", also=(back,), approved=n_approved)
    return ReviewResult(approved=batch, rejected=back)


def _finish(batch: Batch, actor: User, name: str, *, also: Sequence[Batch] = (), **detail) -> None:
    """The review's transition of ``batch``, then its counts (and those of ``also``, split off it) stored."""
    from_status = batch.status
    getattr(batch, name)()
    if name == "approve":
        detail |= _drop_stale_suffix(batch)
    _save_transition(batch, *also)
    kind = EventKind.APPROVED if name == "approve" else EventKind.REJECTED
    _event(batch, kind, actor, from_status=from_status, to_status=batch.status, **detail)


def _keep_review_comments(images, actor: User) -> None:
    """Keep each rejected image's comment as a mark on the whole image: the history a later review shows."""
    now = timezone.now()
    rows = [
        ReviewMark(
            image_id=pk, x=0, y=0, width=w, height=h, comment=text, from_comment=True, author=actor, created_at=now
        )
        for pk, w, h, text in images.exclude(review_comment="").values_list("pk", "width", "height", "review_comment")
    ]
    ReviewMark.objects.bulk_create(rows, batch_size=1000)


# --- review marks: comments pinned to a box or a region ----------------------------

MARK_COMMENT_LIMIT = 1000


def _may_mark(actor: User, image: Image) -> Batch:
    """The image's batch, if the actor may review it now: reviewers and up, on a batch in Review."""
    batch = image.batch
    if batch is None:
        raise WrongState("This image is not in a batch.")
    if not actor.is_authenticated or not actor.has_perm("boards.review_batch", batch):
        raise NotAllowed("Only reviewers can mark boxes; you do not have permission to review this batch.")
    if batch.status != BatchStatus.REVIEW:
        raise WrongState(f"Marks are added during a review; this batch is in {STATUS_LABELS[batch.status]}.")
    return batch


def _mark_region(region, image: Image) -> tuple[float, float, float, float]:
    if not isinstance(region, list | tuple) or len(region) != 4:
        raise InvalidInput("A region is x, y, width and height in pixels of the image.")
    for value in region:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise InvalidInput("A region's x, y, width and height must be numbers.")
    x, y, w, h = (float(v) for v in region)
    if w < 1 or h < 1:
        raise InvalidInput("Draw a region at least one pixel wide and high.")
    if x < 0 or y < 0 or x + w > image.width or y + h > image.height:
        raise InvalidInput(f"The region reaches outside the {image.width}×{image.height} image.")
    return x, y, w, h


def add_review_mark(
    *,
    image: Image,
    actor: User,
    comment: str,
    annotation: Annotation | int | None = None,
    region: Sequence[float] | None = None,
) -> ReviewMark:
    """Pin a reviewer's comment to one of the image's boxes (``annotation``) or to a ``region``
    (x, y, width, height in pixels of the image) while its batch is in Review."""
    if not isinstance(comment, str) or "\x00" in comment:
        raise InvalidInput("A mark's comment is text without NUL characters.")
    comment = comment.strip()
    if not comment:
        raise InvalidInput("Write a comment for the mark: what should the labeler change?")
    if len(comment) > MARK_COMMENT_LIMIT:
        raise InvalidInput(
            f"A mark's comment is at most {MARK_COMMENT_LIMIT:,} characters; this one has {len(comment):,}."
        )
    if (annotation is None) == (region is None):
        raise InvalidInput("Point at a box or draw a region: one of the two.")
    with transaction.atomic():
        image = _locked_image(image)
        batch = _may_mark(actor, image)
        if annotation is not None:
            box_id = annotation.pk if isinstance(annotation, Annotation) else annotation
            box = Annotation.objects.filter(pk=box_id, image=image).first()
            if box is None:
                raise InvalidInput("That box is not on this image; reload it to see its boxes.")
            x, y, w, h = box.x, box.y, box.width, box.height
        else:
            box = None
            x, y, w, h = _mark_region(region, image)
        mark = ReviewMark.objects.create(
            image=image, annotation=box, x=x, y=y, width=w, height=h, comment=comment, author=actor
        )
        _event(batch, EventKind.MARKED, actor, image=image.pk, mark=mark.pk, box=box.pk if box else None)
        mark_changed(batch)
    return mark


def delete_review_mark(*, mark: ReviewMark, actor: User) -> None:
    """Remove a mark of the review under way; those of earlier reviews are history and stay."""
    with transaction.atomic():
        image = _locked_image(mark.image)
        batch = _may_mark(actor, image)
        fresh = ReviewMark.objects.filter(pk=mark.pk, image=image).first()
        if fresh is None:
            raise NotFound("This mark no longer exists; someone removed it.")
        start = selectors.review_round_start(batch)
        if start is not None and fresh.created_at < start:
            raise WrongState("This mark was left by an earlier review: it is history and stays.")
        fresh.delete()
        _event(batch, EventKind.UNMARKED, actor, image=image.pk, mark=mark.pk)
        mark_changed(batch)


def approve(*, batch: Batch, actor: User) -> ReviewResult:
    return review(batch=batch, actor=actor, all=APPROVE)


def reject(*, batch: Batch, actor: User, comment: str = "") -> ReviewResult:
    return review(batch=batch, actor=actor, all=REJECT, comment=comment)


# --- moving back, archiving, deleting ------------------------------------------


def move_to_unassigned(*, batch: Batch, actor: User, keep_annotations: bool = False) -> Batch:
    """Back to Unassigned: annotations are removed, or kept as pre-labels."""
    with transaction.atomic():
        batch = _locked(batch)
        _check_transition(batch, "move_to_unassigned", actor, verb="move")
        from_status = batch.status
        removed = prelabeled = 0
        if keep_annotations:
            prelabeled = Annotation.objects.filter(image__batch=batch).values("image_id").distinct().count()
        else:
            removed, _ = Annotation.objects.filter(image__batch=batch).delete()
        batch.images.update(
            annotation_state=AnnotationState.UNANNOTATED,
            review_state=ReviewState.PENDING,
            review_comment="",
            annotated_by=None,
            rejections=0,
        )
        # Every job ends, a finished one too: the batch waits for a new assignment and its card names nobody.
        Job.objects.filter(batch=batch).exclude(state=JobState.CANCELLED).exclude(state=JobState.COMPLETE).update(
            state=JobState.CANCELLED, updated_at=timezone.now()
        )
        batch.move_to_unassigned()
        _save_transition(batch)
        _event(
            batch,
            EventKind.UNASSIGNED,
            actor,
            from_status=from_status,
            to_status=batch.status,
            kept_annotations=keep_annotations,
            annotations_removed=removed,
            prelabeled_images=prelabeled,
        )
    return batch


def archive(*, batch: Batch, actor: User) -> Batch:
    """Unassigned → Archived: the images leave the batch and are free again."""
    with transaction.atomic():
        batch = _locked(batch)
        _check_transition(batch, "archive", actor, verb="archive")
        released = batch.images.update(batch=None, archived_from=batch)
        batch.archive()
        _save_transition(batch)
        _event(
            batch,
            EventKind.ARCHIVED,
            actor,
            from_status=BatchStatus.UNASSIGNED,
            to_status=batch.status,
            images_released=released,
        )
    return batch


def delete_batch(*, batch: Batch, actor: User) -> int:
    """Delete an Unassigned batch with its images and their files, for good.

    Returns how many images went.
    """
    with transaction.atomic():
        batch = _locked(batch)
        if not actor.is_authenticated or not actor.has_perm("boards.delete_batch", batch):
            raise NotAllowed("You do not have permission to delete this batch.")
        if batch.status != BatchStatus.UNASSIGNED:
            raise WrongState(
                f"Only batches in Unassigned can be deleted; this one is in "
                f"{STATUS_LABELS[batch.status]}. Move it to Unassigned first."
            )
        files = [name for pair in batch.images.values_list("file", "thumbnail") for name in pair]
        count = len(files) // 2
        _event(
            batch,
            EventKind.DELETED,
            actor,
            from_status=batch.status,
            images_deleted=count,
            batch_id=batch.pk,
        )
        Annotation.objects.filter(image__batch=batch).delete()
        Image.objects.filter(batch=batch).delete()
        batch.delete()
        transaction.on_commit(lambda: _delete_unreferenced(files))
    return count


def set_priority(*, batch: Batch, actor: User, priority: int) -> Batch:
    _validate_priority(priority)
    with transaction.atomic():
        batch = _locked(batch, same_status=False)  # deleted meanwhile: 409, as for a move
        if not actor.is_authenticated or not actor.has_perm("boards.change_batch_priority", batch):
            raise NotAllowed("You do not have permission to change this batch's priority.")
        old = batch.priority
        if old != priority:
            Batch.objects.filter(pk=batch.pk).update(priority=priority)
            mark_changed(batch)
            batch.priority = priority
            _event(batch, EventKind.PRIORITY, actor, old=old, new=priority)
    return batch


def _validate_priority(priority) -> None:
    if not isinstance(priority, int) or not PRIORITY_HIGHEST <= priority <= PRIORITY_LOWEST:
        raise InvalidInput(
            f"Priority is a whole number from {PRIORITY_HIGHEST} (highest) to {PRIORITY_LOWEST} (lowest)."
        )


# --- moving a card ---------------------------------------------------------------


class NeedsInput(InvalidInput):
    """The move needs a choice first (a labeler, or what to do with annotations)."""

    def __init__(self, message: str, *, dialog: str):
        super().__init__(message)
        self.dialog = dialog


def move_batch(
    *,
    batch: Batch,
    actor: User,
    to: str,
    labeler: User | None = None,
    reviewer: User | None = None,
    image_ids: Iterable[int] | None = None,
    first: int | None = None,
    keep_annotations: bool | None = None,
    comment: str = "",
    seen_in: str | None = None,
) -> Batch:
    """Move a card to another column: the one entry point of the board and the API.

    Runs the service for that pair of columns. Raises ``NeedsInput`` when the
    move needs a choice first: a labeler for Annotating, and whether to keep
    the annotations when going back to Unassigned. ``seen_in`` is the column the
    person saw the card in; if it has moved since, the move is refused.
    """
    here = batch.status
    if seen_in and seen_in != here:
        raise ConcurrentChange(f"Someone else moved this batch to {STATUS_LABELS.get(here, here)} meanwhile.")
    if to == here:
        return batch
    label_to = STATUS_LABELS.get(to)
    if label_to is None:
        raise InvalidInput(f"There is no column “{to}”.")
    if here == BatchStatus.UNASSIGNED and to == BatchStatus.ANNOTATING:
        _check_transition(batch, "assign", actor, verb="assign")
        if labeler is None:
            raise NeedsInput("Choose a labeler for this batch.", dialog="assign")
        return assign(
            batch=batch, actor=actor, labeler=labeler, reviewer=reviewer, image_ids=image_ids, first=first
        ).batch
    if here == BatchStatus.ANNOTATING and to in (BatchStatus.REVIEW, BatchStatus.DATASET):
        review_mode = batch.project.review_mode
        if to == BatchStatus.DATASET and review_mode:
            raise WrongState("This project reviews every batch: submit it to Review first.")
        if to == BatchStatus.REVIEW and not review_mode:
            raise WrongState("This project has no review step: submit goes straight to Dataset.")
        return submit(batch=batch, actor=actor)
    if here == BatchStatus.REVIEW and to == BatchStatus.DATASET:
        return approve(batch=batch, actor=actor).approved
    if here == BatchStatus.REVIEW and to == BatchStatus.ANNOTATING:
        return reject(batch=batch, actor=actor, comment=comment).rejected
    if to == BatchStatus.UNASSIGNED and here in (BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET):
        _check_transition(batch, "move_to_unassigned", actor, verb="move")
        if keep_annotations is None:
            raise NeedsInput("Remove the annotations, or keep them as pre-labels?", dialog="unassign")
        return move_to_unassigned(batch=batch, actor=actor, keep_annotations=keep_annotations)
    if here == BatchStatus.UNASSIGNED and to == BatchStatus.ARCHIVED:
        return archive(batch=batch, actor=actor)
    if here == BatchStatus.ARCHIVED and to == BatchStatus.UNASSIGNED:
        return restore_batch(batch=batch, actor=actor)
    raise WrongState(f"A batch cannot move from {STATUS_LABELS[here]} to {label_to}.")


# --- annotations ---------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A box in pixels of the original image; ``label`` is a class name or id."""

    label: str | int
    x: float
    y: float
    width: float
    height: float


def _may_edit_annotations(actor: User, image: Image) -> None:
    batch = image.batch
    if batch is not None and batch.status == BatchStatus.ANNOTATING:
        if not actor.is_authenticated or not actor.has_perm("boards.annotate_batch", batch):
            raise NotAllowed("You do not have permission to annotate this batch.")
        if not role_at_least(actor.role_in(batch.workspace_id), Role.REVIEWER):
            job = batch.current_job
            if job is None or job.labeler_id != actor.pk:
                raise NotAllowed("This batch is assigned to someone else.")
        return
    if batch is None or batch.status == BatchStatus.UNASSIGNED:
        # Importing annotations (pre-labels) is a manager's job.
        if not actor.is_authenticated or not actor.has_perm("boards.upload_images", image.project):
            raise NotAllowed("You do not have permission to import annotations into this project.")
        return
    raise WrongState(
        f"Annotations can change only while the batch is in Annotating; this one is in {STATUS_LABELS[batch.status]}."
    )


def _clip(box: Box, image: Image) -> tuple[float, float, float, float] | None:
    x0, y0 = max(0.0, box.x), max(0.0, box.y)
    x1, y1 = min(float(image.width), box.x + box.width), min(float(image.height), box.y + box.height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def save_annotations(
    *,
    image: Image,
    actor: User,
    boxes: Sequence[Box],
    expected_version: int | None = None,
    empty: bool = False,
    create_labels: bool = False,
    clip: bool = True,
) -> Image:
    """Replace an image's boxes in one go.

    ``expected_version`` guards against two editors overwriting each other: a
    save based on an older version is refused with ``ConcurrentChange``. An
    image with no boxes is ``empty`` when the labeler says so, else unannotated.
    Boxes reaching outside the image are clipped (or refused when ``clip`` is
    off); boxes wholly outside it are refused with a reason.
    """
    with transaction.atomic():
        image = _locked_image(image)
        _may_edit_annotations(actor, image)
        if expected_version is not None and expected_version != image.annotation_version:
            raise ConcurrentChange(
                f"This image was saved elsewhere meanwhile (now version {image.annotation_version}); "
                "reload it to see the latest boxes."
            )
        if boxes and empty:
            raise InvalidInput("An image with boxes cannot also be marked empty.")
        labels = {c.name: c for c in LabelClass.objects.filter(project=image.project)}
        by_id = {c.pk: c for c in labels.values()}
        rows = []
        for n, box in enumerate(boxes, start=1):
            for value in (box.x, box.y, box.width, box.height):
                if not isinstance(value, int | float) or value != value:  # NaN is not a number here
                    raise InvalidInput(f"Box {n}: x, y, width and height must be numbers.")
            if box.width <= 0 or box.height <= 0:
                raise InvalidInput(f"Box {n}: width and height must be greater than zero.")
            label = by_id.get(box.label) if isinstance(box.label, int) else labels.get(str(box.label).strip())
            if label is None:
                name = str(box.label).strip()
                if not create_labels or isinstance(box.label, int) or not name:
                    raise InvalidInput(f"Box {n}: there is no class “{str(box.label)[:100]}” in this project.")
                label = labels[name] = _new_label_from_import(image.project, name, n)
            clipped = _clip(box, image)
            if clipped is None:
                raise InvalidInput(f"Box {n} lies wholly outside the {image.width}×{image.height} image.")
            if not clip and clipped != (box.x, box.y, box.width, box.height):
                raise InvalidInput(f"Box {n} reaches outside the {image.width}×{image.height} image.")
            x, y, w, h = clipped
            rows.append(Annotation(image=image, label=label, x=x, y=y, width=w, height=h))
        before = _box_set(image.annotations.values_list("label_id", "x", "y", "width", "height"))
        before_state = image.annotation_state
        image.annotations.all().delete()
        Annotation.objects.bulk_create(rows)
        if rows:
            image.annotation_state = AnnotationState.ANNOTATED
        else:
            image.annotation_state = AnnotationState.EMPTY if empty else AnnotationState.UNANNOTATED
        image.annotation_version += 1
        image.annotated_by = None if image.annotation_state == AnnotationState.UNANNOTATED else actor
        unchanged = before_state == image.annotation_state and before == _box_set(
            (r.label_id, r.x, r.y, r.width, r.height) for r in rows
        )
        if (
            image.review_state == ReviewState.REJECTED
            and not unchanged
            and image.batch
            and image.batch.status == BatchStatus.ANNOTATING
        ):
            # Fixed since the review; the reviewer's comment stays until the next decision.
            # The same boxes saved again are no fix: ``confirm_rework`` says so explicitly.
            image.review_state = ReviewState.PENDING
        image.save(update_fields=["annotation_state", "annotation_version", "annotated_by", "review_state"])
        mark_changed(image.batch_id)
    return image


def _box_set(boxes) -> list[tuple]:
    """Boxes as a sorted list of (class, x, y, width, height), to compare two saves of an image."""
    return sorted((label, round(x, 3), round(y, 3), round(w, 3), round(h, 3)) for label, x, y, w, h in boxes)


def confirm_rework(*, image: Image, actor: User) -> Image:
    """The labeler checked an image sent back by a review and it needs no change.

    The image no longer awaits rework (as if it had been changed), so the
    batch may be submitted again; the reviewer's comment stays until the next
    decision. Who may edit the image's boxes may confirm it.
    """
    with transaction.atomic():
        image = _locked_image(image)
        batch = image.batch
        if batch is None or batch.status != BatchStatus.ANNOTATING:
            where = STATUS_LABELS[batch.status] if batch is not None else "no batch"
            raise WrongState(f"Only images of a batch in Annotating await rework; this one is in {where}.")
        _may_edit_annotations(actor, image)
        if image.review_state != ReviewState.REJECTED:
            raise WrongState("This image does not await rework: it was not sent back, or it was changed since.")
        image.review_state = ReviewState.PENDING
        image.save(update_fields=["review_state"])
        _event(
            batch,
            EventKind.CHECKED,
            actor,
            from_status=batch.status,
            to_status=batch.status,
            image=image.pk,
            image_name=image.original_filename,
        )
        mark_changed(batch)
    return image


# --- label classes and project settings ------------------------------------------

HOTKEYS = range(1, 10)
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class _Unchanged:
    """Marks a keyword left out of ``update_label_class``: that field stays as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


def _may_manage(project: Project, actor: User) -> None:
    if not actor.is_authenticated or not actor.has_perm("boards.manage_project", project):
        raise NotAllowed("Only the project's managers and owners may change its settings.")


def _new_label_from_import(project: Project, name: str, n: int) -> LabelClass:
    """The new class an imported box names, if the database can store its name."""
    limit = LabelClass._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidInput(f"Box {n}: a class name has at most {limit} characters.")
    if "\x00" in name:
        raise InvalidInput(f"Box {n}: a class name cannot hold a NUL character.")
    return LabelClass.objects.create(project=project, name=name)


def _clean_name(project: Project, name, *, exclude: int | None = None) -> str:
    name = str(name or "").strip()
    if not name:
        raise InvalidInput("A class needs a name.")
    limit = LabelClass._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidInput(f"A class name has at most {limit} characters.")
    taken = LabelClass.objects.filter(project=project, name__iexact=name).exclude(pk=exclude).first()
    if taken is not None:
        raise InvalidInput(f"There is already a class “{taken.name}” in this project.")
    return name


def _clean_color(color) -> str:
    color = str(color or "").strip()
    if not _COLOR.match(color):
        raise InvalidInput(f"“{color}” is not a colour: write it like #3b82f6.")
    return color.lower()


def _clean_hotkey(project: Project, hotkey, *, exclude: int | None = None) -> int | None:
    if hotkey is None or hotkey == "":
        return None
    try:
        hotkey = int(hotkey)
    except (TypeError, ValueError):
        raise InvalidInput("A hotkey is a digit from 1 to 9.") from None
    if hotkey not in HOTKEYS:
        raise InvalidInput("A hotkey is a digit from 1 to 9.")
    holder = LabelClass.objects.filter(project=project, hotkey=hotkey).exclude(pk=exclude).first()
    if holder is not None:
        raise InvalidInput(f"Hotkey {hotkey} already belongs to “{holder.name}”; clear it there first.")
    return hotkey


def create_label_class(
    *, project: Project, actor: User, name: str, color: str = "#3b82f6", hotkey: int | None = None
) -> LabelClass:
    """Add a class to a project. Names are unique in a project (ignoring case), hotkeys 1–9 too."""
    with transaction.atomic():
        _may_manage(project, actor)
        # One settings change at a time per project, so the name and hotkey checks hold.
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        return LabelClass.objects.create(
            project=project,
            name=_clean_name(project, name),
            color=_clean_color(color),
            hotkey=_clean_hotkey(project, hotkey),
        )


def update_label_class(
    *,
    label: LabelClass,
    actor: User,
    name: str = UNCHANGED,
    color: str = UNCHANGED,
    hotkey: int | None = UNCHANGED,
) -> LabelClass:
    """Rename, recolour or re-key a class. Its boxes keep pointing at it, so a rename keeps them.

    ``hotkey=None`` clears the hotkey; a keyword left out leaves that field alone.
    """
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).get(pk=label.project_id)
        _may_manage(project, actor)
        try:
            label = LabelClass.objects.get(pk=label.pk, project=project)
        except LabelClass.DoesNotExist:
            raise ConcurrentChange("This class no longer exists; someone deleted it.") from None
        if name is not UNCHANGED:
            label.name = _clean_name(project, name, exclude=label.pk)
        if color is not UNCHANGED:
            label.color = _clean_color(color)
        if hotkey is not UNCHANGED:
            label.hotkey = _clean_hotkey(project, hotkey, exclude=label.pk)
        label.save(update_fields=["name", "color", "hotkey"])
    return label


@dataclass(frozen=True)
class LabelDeleted:
    name: str
    boxes: int
    images: int
    reopened: int  # images left with no box that went back to unannotated


OPEN_STATUSES = (BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING)


def delete_label_class(*, label: LabelClass, actor: User) -> LabelDeleted:
    """Delete a class and every box of it.

    Images that lose boxes get a new edit version, so an editor open on them
    reloads instead of saving boxes of a class that is gone. Those left with no
    box at all go back to unannotated while their work is still open
    (Unassigned or Annotating); in Review and Dataset they keep their state.
    """
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).get(pk=label.project_id)
        _may_manage(project, actor)
        try:
            label = LabelClass.objects.get(pk=label.pk, project=project)
        except LabelClass.DoesNotExist:
            raise ConcurrentChange("This class no longer exists; someone deleted it.") from None
        image_ids = set(Annotation.objects.filter(label=label).values_list("image_id", flat=True).distinct())
        _lock_batches(Batch.objects.filter(images__annotations__label=label).values_list("pk", flat=True).distinct())
        boxes, _ = Annotation.objects.filter(label=label).delete()
        touched = Image.objects.filter(pk__in=image_ids)
        touched.update(annotation_version=F("annotation_version") + 1)
        reopened = (
            touched.filter(annotation_state=AnnotationState.ANNOTATED, annotations__isnull=True)
            .filter(Q(batch__isnull=True) | Q(batch__status__in=OPEN_STATUSES))
            .update(annotation_state=AnnotationState.UNANNOTATED, annotated_by=None)
        )
        mark_changed(*Batch.objects.filter(images__in=image_ids).values_list("pk", flat=True).distinct())
        name = label.name
        label.delete()
    return LabelDeleted(name=name, boxes=boxes, images=len(image_ids), reopened=reopened)


def set_review_mode(*, project: Project, actor: User, review_mode: bool) -> Project:
    """Turn the project's review step on or off.

    Turning it off is refused while batches wait in Review: the board would
    hide them from everyone.
    """
    with transaction.atomic():
        locking = Project.objects.select_for_update(no_key=True, of=("self",))
        project = locking.select_related("workspace").get(pk=project.pk)
        _may_manage(project, actor)
        review_mode = bool(review_mode)
        if project.review_mode and not review_mode:
            waiting = Batch.objects.filter(project=project, status=BatchStatus.REVIEW).count()
            if waiting:
                raise WrongState(
                    f"{waiting} batch{'es are' if waiting != 1 else ' is'} waiting in Review; "
                    "approve or reject them before turning review off."
                )
        if project.review_mode != review_mode:
            project.review_mode = review_mode
            project.save(update_fields=["review_mode", "updated_at"])
    return project


# --- API: one-image uploads, tags, image deletion, jobs, annotation import --------
#
# What the Roboflow-compatible API needs beyond the board's services. The same
# rules apply: keyword-only, the actor's permission checked here, one
# transaction, bulk queries.

MAX_TAGS_PER_IMAGE = 50
MAX_TAG_LENGTH = 100
MAX_IMAGES_PER_DELETE = 10_000


@dataclass
class ImageUpload:
    image_id: int
    duplicate: bool
    batch: Batch | None


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
    """
    if not actor.is_authenticated or not actor.has_perm("boards.upload_images", project):
        raise NotAllowed("You do not have permission to upload images to this project.")
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


def _valid_split(split: str | None) -> str:
    split = (split or "").strip().lower()
    if split not in Split.values:
        raise InvalidInput("The split is one of train, valid or test.")
    return split


def _valid_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list | tuple):
        raise InvalidInput("Tags are a list of names.")
    result: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("Every tag is a non-empty name.")
        if len(tag.strip()) > MAX_TAG_LENGTH:
            raise InvalidInput(f"A tag has at most {MAX_TAG_LENGTH} characters.")
        if tag.strip() not in result:
            result.append(tag.strip())
    if len(result) > MAX_TAGS_PER_IMAGE:
        raise InvalidInput(f"An image has at most {MAX_TAGS_PER_IMAGE} tags.")
    return result


def _batch_for_upload(project: Project, actor: User, batch_name: str | None, now) -> tuple[Batch, bool]:
    """The Unassigned batch this upload joins, or a new one; ``(batch, created)``.

    Uploads to a project pass here one at a time: the project's row stays
    locked until the upload commits, so uploads of one name sent at once find,
    or make, one batch (never "X" and "X (2)"). The lock is FOR NO KEY UPDATE:
    other work on the project goes on meanwhile.
    """
    wanted = (batch_name or "").strip()[:190] or upload_batch_name(now)
    Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
    latest = (
        Batch.objects.filter(project=project, upload_name=wanted, status=BatchStatus.UNASSIGNED)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is not None:
        # Lock it, and check again: it may have been assigned meanwhile.
        batch = Batch.objects.select_for_update(of=("self",)).filter(pk=latest, status=BatchStatus.UNASSIGNED).first()
        if batch is not None and Image.objects.filter(batch=batch).count() < MAX_BATCH_IMAGES:
            batch.project = project
            return batch, False
    batch = Batch.objects.create(
        project=project,
        name=unique_batch_name(project, wanted),
        upload_name=wanted,
        source=BatchSource.API,
        uploaded_at=now,
        created_by=actor,
    )
    return batch, True


def _store_one(*, project, actor, data, processed, name, batch_name, split, tags) -> ImageUpload:
    existing = Image.objects.filter(project=project, sha256=processed.sha256).values_list("pk", flat=True).first()
    if existing is not None:
        return ImageUpload(image_id=existing, duplicate=True, batch=None)
    now = timezone.now()
    image, files = _new_image(project, processed, data, filename=name, at=now, split=split)
    # Files first, outside the transaction, as upload_images does; content-addressed,
    # so only the files written now are removed if the rows cannot be stored.
    written = _write_files(files, what="the image")
    try:
        with transaction.atomic():
            batch, created = _batch_for_upload(project, actor, batch_name, now)
            image.batch = batch
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
    return ImageUpload(image_id=image.pk, duplicate=False, batch=batch)


def _tags_named(project: Project, names: Sequence[str]) -> dict[str, int]:
    """{name: tag id} for ``names``, creating the tags the project lacks."""
    found = dict(Tag.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    missing = [n for n in names if n not in found]
    if missing:
        Tag.objects.bulk_create([Tag(project=project, name=n) for n in missing], ignore_conflicts=True)
        found = dict(Tag.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    return found


def _add_tags(project: Project, image_ids: Sequence[int], names: Sequence[str]) -> None:
    through = Image.tags.through
    ids = _tags_named(project, names)
    through.objects.bulk_create(
        [through(image_id=i, tag_id=t) for i in image_ids for t in ids.values()], ignore_conflicts=True
    )


TAG_OPERATIONS = ("add", "remove", "set")


def change_image_tags(*, image: Image, actor: User, operation: str, tags: Sequence[str]) -> list[str]:
    """Add, remove or set an image's tags; returns its tags afterwards, sorted.

    Tagging is for the project's managers and owners (``boards.tag_images``), as in the catalog.
    """
    project = image.project
    if not actor.is_authenticated or not actor.has_perm("boards.tag_images", project):
        raise NotAllowed("Only the project's managers and owners may tag images.")
    if operation not in TAG_OPERATIONS:
        raise InvalidInput("The operation is one of add, remove or set.")
    names = _valid_tags(tags)
    through = Image.tags.through
    with transaction.atomic():
        # Only the image's row: tags change no batch, so no batch lock is needed before it.
        image = Image.objects.select_for_update(of=("self",)).filter(pk=image.pk).first()
        if image is None:
            raise NotFound("This image no longer exists; someone deleted it.")
        if operation in ("remove", "set"):
            drop = through.objects.filter(image_id=image.pk)
            drop = drop.filter(tag__name__in=names) if operation == "remove" else drop.exclude(tag__name__in=names)
            drop.delete()
        if operation in ("add", "set") and names:
            if len(set(image.tags.values_list("name", flat=True)) | set(names)) > MAX_TAGS_PER_IMAGE:
                raise InvalidInput(f"An image has at most {MAX_TAGS_PER_IMAGE} tags.")
            _add_tags(project, [image.pk], names)
        return sorted(image.tags.values_list("name", flat=True))


def delete_images(*, project: Project, actor: User, image_ids: Iterable) -> int:
    """Delete images for good: only images in Unassigned batches or in no batch.

    All or nothing: if any image is elsewhere on the board, nothing is deleted
    and the error names the batches in the way. Returns how many images went.
    """
    if not actor.is_authenticated or not actor.has_perm("boards.delete_batch", project):
        raise NotAllowed("You do not have permission to delete images in this project.")
    if isinstance(image_ids, str | bytes) or not isinstance(image_ids, Iterable):
        raise InvalidInput("Send the images to delete as a list of image ids.")
    try:
        ids = {int(i) for i in image_ids if not isinstance(i, bool)}
    except (TypeError, ValueError):
        raise InvalidInput("Send the images to delete as a list of image ids.") from None
    if not ids:
        raise InvalidInput("Name at least one image to delete.")
    if len(ids) > MAX_IMAGES_PER_DELETE:
        raise InvalidInput(f"Delete at most {MAX_IMAGES_PER_DELETE:,} images at once.")
    with transaction.atomic():
        # Their batches first, then the images: the order every service locks in.
        locked = _lock_batches(
            Image.objects.filter(project=project, pk__in=ids, batch__isnull=False).values_list("batch_id", flat=True)
        )
        rows = list(
            Image.objects.select_for_update(of=("self",))
            .filter(project=project, pk__in=ids)
            .values_list("pk", "batch_id", "batch__name", "batch__status", "file", "thumbnail")
        )
        if any(r[1] is not None and r[1] not in locked for r in rows):
            raise ConcurrentChange("Some of these images moved to another batch meanwhile; try again.")
        missing = sorted(ids - {r[0] for r in rows})
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + ("…" if len(missing) > 10 else "")
            raise NotFound(f"{len(missing)} of the images are not in this project: {shown}.")
        blocked: dict[str, str] = {}
        for _pk, _batch_id, batch_name, status, _f, _t in rows:
            if status not in (None, BatchStatus.UNASSIGNED):
                blocked[batch_name] = STATUS_LABELS[status]
        if blocked:
            n = sum(1 for r in rows if r[3] not in (None, BatchStatus.UNASSIGNED))
            where = "; ".join(f"“{name}” is in {label}" for name, label in sorted(blocked.items())[:5])
            raise WrongState(
                f"{n} of the images are in batches past Unassigned ({where}). Only images in Unassigned "
                "batches or in no batch can be deleted: move those batches to Unassigned first, or leave "
                "their images out."
            )
        per_batch: dict[int, int] = {}
        for _pk, batch_id, *_rest in rows:
            if batch_id is not None:
                per_batch[batch_id] = per_batch.get(batch_id, 0) + 1
        for batch in Batch.objects.filter(pk__in=per_batch):
            _event(
                batch,
                EventKind.REMOVED,
                actor,
                from_status=batch.status,
                to_status=batch.status,
                images_removed=per_batch[batch.pk],
            )
        Annotation.objects.filter(image_id__in=ids).delete()
        Image.tags.through.objects.filter(image_id__in=ids).delete()
        Image.objects.filter(pk__in=ids).delete()
        mark_changed(*per_batch)
        files = [name for r in rows for name in (r[4], r[5])]
        transaction.on_commit(lambda: _delete_unreferenced(files))
    return len(rows)


def create_job(
    *,
    batch: Batch,
    actor: User,
    labeler: User,
    reviewer: User | None = None,
    num_images: int | None = None,
    name: str = "",
) -> AssignResult:
    """Assign the first ``num_images`` images of a batch (all when None) as a job.

    The rest split off into a new Unassigned batch, as on the board. A reviewer
    who is the labeler and lacks the reviewer role means no separate review,
    which is what Roboflow asks of workspaces without review roles.
    """
    if num_images is not None and (not isinstance(num_images, int) or isinstance(num_images, bool) or num_images < 1):
        raise InvalidInput("num_images is a whole number of at least 1.")
    if (
        reviewer is not None
        and reviewer.pk == labeler.pk
        and not role_at_least(reviewer.role_in(batch.project.workspace_id), Role.REVIEWER)
    ):
        reviewer = None
    return assign(
        batch=batch,
        actor=actor,
        labeler=labeler,
        reviewer=reviewer,
        first=num_images,
        job_name=name.strip()[:200],
    )


def import_annotation(*, image: Image, actor: User, boxes: Sequence[Box], overwrite: bool = False) -> Image:
    """Replace an image's boxes with imported ones (an annotation file sent by the API).

    An image that is already annotated (or marked empty) keeps its boxes
    unless ``overwrite``. New class names become classes of the project when
    the actor may manage it; otherwise every label must already exist.
    """
    with transaction.atomic():
        image = _locked_image(image)
        _may_edit_annotations(actor, image)
        if image.annotation_state != AnnotationState.UNANNOTATED and not overwrite:
            raise WrongState("This image is already annotated; send overwrite=true to replace its boxes.")
        return save_annotations(
            image=image,
            actor=actor,
            boxes=boxes,
            empty=not boxes,
            create_labels=actor.has_perm("boards.manage_project", image.project),
        )


# --- annotation import -------------------------------------------------------------


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


def _read_import_files(files: Sequence[tuple[str, bytes]], index: _ImageIndex, report: ImportReport) -> list[_Wanted]:
    """Parse every file; malformed ones go to ``report.errors``, unmatched ones to ``report.skipped``."""
    from boards.formats import AnnotationFormatError, coco, format_for, voc, yolo

    texts: list[tuple[str, str | bytes]] = []
    for name, data in files:
        if name.lower().endswith(".xml"):
            texts.append((name, data))  # XML names its own encoding: the parser reads the bytes
            continue
        try:
            texts.append((name, data.decode("utf-8-sig")))
        except UnicodeDecodeError:
            report.errors.append(ImportLine(file=name, reason="This is not a UTF-8 text file."))
    names_files = [(name, text) for name, text in texts if yolo.is_names_file(name)]
    classes = None
    if len(names_files) > 1:
        report.errors.append(
            ImportLine(file=names_files[1][0], reason=f"Send one class names file; “{names_files[0][0]}” is one.")
        )
    elif names_files:
        try:
            classes = yolo.read_names(names_files[0][1], names_files[0][0])
        except AnnotationFormatError as exc:
            report.errors.append(ImportLine(file=names_files[0][0], reason=str(exc)))
    wanted: list[_Wanted] = []

    def want(file: str, boxes: list, *names: str) -> None:
        image, why = index.find(*names)
        if image is None:
            report.skipped.append(ImportLine(file=file, boxes=len(boxes), reason=why))
        else:
            wanted.append(_Wanted(file=file, image_id=image[0], image_name=image[1], boxes=boxes))

    for name, text in texts:
        if yolo.is_names_file(name):
            continue
        try:
            module = format_for(name)
            if module is coco:
                for file_name, boxes in coco.parse_document(text):
                    want(f"{name}: {file_name}", boxes, file_name)
            elif module is voc:
                boxes = voc.parse(text, image_width=0, image_height=0, filename=name)
                want(name, boxes, voc.filename_in(text), name)
            else:
                if classes is None:
                    raise AnnotationFormatError(
                        "YOLO labels number their classes: send the names too (data.yaml, classes.txt or obj.names)."
                    )
                image, why = index.find(name)
                if image is None:
                    report.skipped.append(ImportLine(file=name, reason=why))
                    continue
                boxes = yolo.parse(text, image_width=image[2], image_height=image[3], filename=name, labelmap=classes)
                wanted.append(_Wanted(file=name, image_id=image[0], image_name=image[1], boxes=boxes))
        except AnnotationFormatError as exc:
            report.errors.append(ImportLine(file=name, reason=str(exc)))
    return wanted


IMPORTABLE = "Annotations can be imported only into images without a batch or in an Unassigned batch"


def import_annotation_files(
    *,
    project: Project,
    actor: User,
    files: Sequence[tuple[str, bytes]],
    create_classes: bool = False,
    clip: bool = True,
    overwrite: bool = False,
) -> ImportReport:
    """Import annotation files (VOC XML, COCO JSON, YOLO txt with its class names) into a project's images.

    Files are matched to images by file name. A malformed file stops the whole
    import: nothing is written and the report says which file and why. Otherwise,
    in one transaction, each matched image gets the file's boxes unless it is
    skipped with a reason: its batch is past Unassigned, it is already annotated
    (and ``overwrite`` is off), a class is unknown (and ``create_classes`` is
    off), or a box reaches outside the image (clipped when ``clip``, refused
    when not; a box wholly outside is always refused).
    """
    if not actor.is_authenticated or not actor.has_perm("boards.manage_project", project):
        raise NotAllowed("Only the project's managers and owners may import annotations.")
    report = ImportReport()
    wanted = _read_import_files(files, _ImageIndex(project), report)
    if report.errors:
        return report
    with transaction.atomic():
        known = set(LabelClass.objects.filter(project=project).values_list("name", flat=True))
        images: dict[int, Image] = {}
        ids = [w.image_id for w in wanted]
        # Every batch involved locked up front, in id order, before the images one by one.
        _lock_batches(
            batch_id
            for start in range(0, len(ids), 500)
            for batch_id in Image.objects.filter(pk__in=ids[start : start + 500]).values_list("batch_id", flat=True)
            if batch_id is not None
        )
        for start in range(0, len(ids), 500):
            chunk = Image.objects.filter(pk__in=ids[start : start + 500]).select_related("batch")
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


# --- the image catalog: batches from a filter, a selection or a sample ------------
#
# The catalog picks images with a ``catalog.CatalogFilter`` or a list of ids.
# Images move with one UPDATE … WHERE id IN (SELECT …) whatever their number;
# tags are linked with one INSERT … SELECT per tag. Nothing here saves one image
# at a time.


@dataclass
class CatalogBatchResult:
    batch: Batch
    taken: int
    preview: catalog.BatchPreview

    def to_dict(self) -> dict:
        return {
            "batch": {
                "id": self.batch.pk,
                "name": self.batch.name,
                "priority": self.batch.priority,
                "status": self.batch.status,
                "sample_seed": self.batch.sample_seed,
            },
            "taken": self.taken,
            **{k: v for k, v in self.preview.to_dict().items() if k != "would_take"},
        }


def _new_batch_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the batch a name.")
    if len(name) > Batch._meta.get_field("name").max_length:
        raise InvalidInput("A batch name has at most 200 characters.")
    return name


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput(f"There is already a batch named “{name}” in this project; choose another name.")


def _create_catalog_batch(*, project: Project, actor: User, name: str, priority: int, seed: int | None) -> Batch:
    if Batch.objects.filter(project=project, name=name).exists():
        raise _name_taken(name)
    try:
        with transaction.atomic():
            return Batch.objects.create(
                project=project,
                name=name,
                priority=priority,
                source=BatchSource.CATALOG,
                created_by=actor,
                sample_seed=seed,
            )
    except IntegrityError:  # the same name, created a moment ago by someone else
        raise _name_taken(name) from None


def create_batch_from_images(
    *,
    project: Project,
    actor: User,
    name: str,
    priority: int = PRIORITY_DEFAULT,
    filters: catalog.CatalogFilter | None = None,
    image_ids: Iterable[int] | None = None,
    sample: catalog.Sample | Mapping | None = None,
) -> CatalogBatchResult:
    """A new Unassigned batch of the free images that ``filters`` or ``image_ids`` pick.

    Images already in a batch are left out and counted (by that batch's
    status): an image is never in two batches. ``sample`` takes ``n`` of the
    free ones, at random with a seed (stored on the batch, so the same seed
    over the same images picks the same sample) or the first ``n`` by upload
    time or file name. More than ``MAX_BATCH_IMAGES`` is an error naming the
    limit, never a silent cut. ``catalog.preview_batch`` counts the same
    numbers without creating anything.
    """
    if not actor.is_authenticated or not actor.has_perm("boards.create_batch", project):
        raise NotAllowed("You do not have permission to create batches in this project.")
    name = _new_batch_name(name)
    _validate_priority(priority)
    sample = catalog.Sample.parse(sample)
    with transaction.atomic():
        images = catalog.selected_images(project, filters=filters, image_ids=image_ids)
        preview = catalog.preview_of(images, sample)
        if preview.would_take == 0:
            raise InvalidInput(
                "No free image is selected. " + (preview.left_out_reason() or "Nothing matches the filter.")
            )
        if preview.over_limit:
            raise InvalidInput(preview.limit_error())
        seed = sample.seed if sample is not None and sample.mode == catalog.RANDOM else None
        batch = _create_catalog_batch(project=project, actor=actor, name=name, priority=priority, seed=seed)
        free = images.filter(batch__isnull=True)
        if sample is None:
            taken = free.update(batch=batch)
        else:
            chosen = free.order_by(*sample.ordering()).values("pk")[: sample.n]
            taken = Image.objects.filter(pk__in=chosen, batch__isnull=True).update(batch=batch)
        if taken > MAX_BATCH_IMAGES:  # more images became free since they were counted
            raise InvalidInput(replace(preview, would_take=taken).limit_error())
        if taken == 0:
            raise ConcurrentChange("The selected images joined another batch meanwhile; nothing was taken.")
        mark_changed(batch)
        _event(
            batch,
            EventKind.CREATED,
            actor,
            to_status=batch.status,
            images=taken,
            source=BatchSource.CATALOG,
            left_out=preview.left_out,
            left_out_by_status=preview.in_batches,
            filter=dict(filters.items()) if filters is not None else None,
            sample=sample.describe() if sample is not None else None,
            sample_seed=seed,
        )
    return CatalogBatchResult(batch=batch, taken=taken, preview=preview)


def restore_batch(*, batch: Batch, actor: User) -> Batch:
    """Archived → Unassigned, with the images it had, while every one of them is still free."""
    with transaction.atomic():
        batch = _locked(batch)
        _check_transition(batch, "restore", actor, verb="restore")
        had, free = catalog.restorable(batch)
        if free < had:
            raise _not_restorable(batch, had - free, had)
        restored = Image.objects.filter(archived_from=batch, batch__isnull=True).update(batch=batch, archived_from=None)
        if restored < had:  # taken by a new batch while this one waited for the images' row locks
            raise _not_restorable(batch, had - restored, had)
        batch.restore()
        _save_transition(batch)
        _event(
            batch,
            EventKind.RESTORED,
            actor,
            from_status=BatchStatus.ARCHIVED,
            to_status=batch.status,
            images_restored=restored,
        )
    return batch


def _not_restorable(batch: Batch, gone: int, had: int) -> WrongState:
    return WrongState(
        f"{gone:,} of the {had:,} images of “{batch.name}” joined other batches since it was archived, "
        "so it cannot be restored as it was. Its images are never in two batches."
    )


def merge_batches(*, project: Project, actor: User, batches: Iterable[Batch | int], name: str) -> Batch:
    """Merge two or more Unassigned batches into one named ``name``.

    The batch first on the board (highest priority, then oldest) keeps its
    place and takes the others' images and the highest priority among them;
    the others are deleted, their history kept under their names with a
    "merged" event. At most ``MAX_BATCH_IMAGES`` images in all.
    """
    if not actor.is_authenticated or not actor.has_perm("boards.merge_batches", project):
        raise NotAllowed("You do not have permission to merge batches in this project.")
    name = _new_batch_name(name)
    try:
        ids = {b.pk if isinstance(b, Batch) else int(b) for b in batches}
    except (TypeError, ValueError):
        raise InvalidInput("Choose the batches to merge by their numbers.") from None
    if len(ids) < 2:
        raise InvalidInput("Choose two or more batches to merge.")
    with transaction.atomic():
        # Locked in id order, as everywhere; then first on the board first.
        locked = _lock_batches(Batch.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
        chosen = sorted(locked.values(), key=lambda b: (b.priority, b.uploaded_at, b.pk))
        if len(chosen) != len(ids):
            raise InvalidInput(f"{len(ids) - len(chosen)} of the chosen batches are not in this project.")
        for batch in chosen:
            if batch.status != BatchStatus.UNASSIGNED:
                raise WrongState(
                    f"Only batches in Unassigned can be merged; “{batch.name}” is in {STATUS_LABELS[batch.status]}."
                )
        counts = dict(Image.objects.filter(batch__in=chosen).order_by().values_list("batch_id").annotate(n=Count("pk")))
        total = sum(counts.values())
        if total > MAX_BATCH_IMAGES:
            raise InvalidInput(
                f"Together these batches hold {total:,} images; a batch holds at most {MAX_BATCH_IMAGES:,}. "
                "Merge fewer of them."
            )
        if Batch.objects.filter(project=project, name=name).exclude(pk__in=ids).exists():
            raise _name_taken(name)
        keep, others = chosen[0], chosen[1:]
        priority = min(b.priority for b in chosen)
        Image.objects.filter(batch__in=others).update(batch=keep)
        now = timezone.now()
        BatchEvent.objects.bulk_create(
            BatchEvent(
                project_id=project.pk,
                batch=other,
                batch_name=other.name,
                kind=EventKind.MERGED,
                from_status=BatchStatus.UNASSIGNED,
                actor=actor,
                at=now,
                detail={"into_batch": keep.pk, "into_batch_name": name, "images": counts.get(other.pk, 0)},
            )
            for other in others
        )
        Batch.objects.filter(pk__in=[b.pk for b in others]).delete()
        Batch.objects.filter(pk=keep.pk).update(name=name, priority=priority, sample_seed=None)
        mark_changed(keep)
        old_name = keep.name
        keep.refresh_from_db()
        _event(
            keep,
            EventKind.MERGED,
            actor,
            from_status=BatchStatus.UNASSIGNED,
            to_status=BatchStatus.UNASSIGNED,
            images=total,
            old_name=old_name,
            priority=priority,
            merged=[{"id": b.pk, "name": b.name, "images": counts.get(b.pk, 0)} for b in others],
        )
    return keep


@dataclass
class TagResult:
    images: int  # in the selection
    added: int  # (image, tag) pairs made; an image that had the tag already is not counted
    removed: int


def tag_images(
    *,
    project: Project,
    actor: User,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    filters: catalog.CatalogFilter | None = None,
    image_ids: Iterable[int] | None = None,
) -> TagResult:
    """Add and remove tags (by name) on every image a filter or a list of ids picks.

    The catalog's bulk twin of ``change_image_tags``, with the same rules: a tag
    the project lacks is created, and an image has at most
    ``MAX_TAGS_PER_IMAGE`` tags (an addition that would pass that is refused
    whole, saying how many images are in the way).
    """
    if not actor.is_authenticated or not actor.has_perm("boards.tag_images", project):
        raise NotAllowed("You do not have permission to tag images in this project.")
    to_add, to_remove = _valid_tags(list(add)), _valid_tags(list(remove))
    if not to_add and not to_remove:
        raise InvalidInput("Name at least one tag to add or remove.")
    both = [n for n in to_add if n in to_remove]
    if both:
        raise InvalidInput(f"“{both[0]}” is both added and removed; choose one.")
    through = Image.tags.through
    with transaction.atomic():
        images = catalog.selected_images(project, filters=filters, image_ids=image_ids)
        selected = images.count()
        added = removed = 0
        if to_remove:
            removed, _ = through.objects.filter(
                tag__project=project, tag__name__in=to_remove, image_id__in=images.values("pk")
            ).delete()
        if to_add:
            full = (
                through.objects.filter(image_id__in=images.values("pk"))
                .exclude(tag__name__in=to_add)
                .values("image_id")
                .annotate(n=Count("pk"))
                .filter(n__gt=MAX_TAGS_PER_IMAGE - len(to_add))
                .count()
            )
            if full:
                raise InvalidInput(
                    f"{full:,} of the selected images would have more than {MAX_TAGS_PER_IMAGE} tags; "
                    "an image has at most that many."
                )
            for tag_id in _tags_named(project, to_add).values():
                added += _link_tag(images, tag_id, through)
    return TagResult(images=selected, added=added, removed=removed)


def _link_tag(images, tag_id: int, through) -> int:
    """INSERT INTO <image tags> (image_id, tag_id) SELECT id, <tag> FROM <images without it>."""
    rows = images.exclude(tags=tag_id).order_by().annotate(tag_ref=Value(tag_id)).values_list("pk", "tag_ref")
    select_sql, params = rows.query.sql_with_params()
    qn = connection.ops.quote_name
    columns = ", ".join(qn(through._meta.get_field(f).column) for f in ("image", "tag"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(through._meta.db_table)} ({columns}) {select_sql}", params)  # noqa: S608
        return cursor.rowcount
