"""Stored files: content-addressed writes (whole or not at all), clean-up, the upload pool."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef, Q

from boards.models import Asset, Image
from core.errors import StorageRefused

log = logging.getLogger("boards.services")


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
    # An object store: the object is written (whole or not at all) without first asking whether one is
    # there. Uploads write only pictures their workspace does not hold, so one rarely is; asking would
    # double the requests, and writing again makes an orphan fresh for cleanup_files's grace period.
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
        kept = set()
        for model in (Image, Asset):  # a project's image, or the workspace catalog's asset
            named = model.objects.filter(Q(file__in=names) | Q(thumbnail__in=names)).values_list("file", "thumbnail")
            kept |= {name for pair in named for name in pair}
    except DatabaseError:  # pragma: no cover - the files stay for cleanup_files
        log.warning("Could not check which of %d files are in use; left for cleanup_files", len(names))
        return
    _delete_files(name for name in names if name not in kept)


CATALOG_LOCK = 0x63617461  # the advisory lock space of the workspace catalogs ("cata")


def lock_catalog(workspace_id: int, *, exclusive: bool) -> None:
    """Keep a project joining a workspace's assets and a drop of its unused assets apart, until the
    transaction ends: joiners ("Add batch to project") share the lock, a delete that may drop assets
    holds it alone. Every holder takes it before any row lock (a delete before it locks its batches),
    so it never waits for it while holding rows another holder needs. One lock instead of a row lock
    on each of up to 25,000 assets. PostgreSQL only: SQLite runs one writing transaction at a time."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        # The lock's key is two 32-bit numbers: ids past 2**31 share one with a smaller id (more waiting, never less).
        cursor.execute(f"SELECT {function}(%s, %s)", [CATALOG_LOCK, workspace_id & 0x7FFFFFFF])


def _drop_orphan_assets(asset_ids: Iterable[int]) -> int:
    """Delete these workspace catalog assets if no project uses them any more; how many went.

    Called after a delete of images in the same transaction, which holds
    ``lock_catalog`` alone: no project joins one of them meanwhile. The files of
    the assets that go are deleted after the commit by ``_delete_unreferenced``.
    """
    ids = sorted(set(asset_ids))
    if not ids:
        return 0
    orphans = Asset.objects.filter(pk__one_of=ids).exclude(Exists(Image.objects.filter(asset=OuterRef("pk"))))
    # One statement and no cascade (the collector's way would delete the images it found): an image a
    # racing request made of one of them meanwhile fails the reference check (a foreign key on SQLite,
    # a trigger on PostgreSQL), rolling this back, rather than going with it.
    return orphans._raw_delete(orphans.db)


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - storage trouble is logged, not fatal
            log.warning("Could not delete %s from storage", name, exc_info=True)
