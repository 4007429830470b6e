"""Work done by a worker: starting it, running it with progress, cancelling it, and a stopped worker.

Workers are ``manage.py db_worker`` processes (django-tasks with django-tasks-db): each takes
queued tasks from the database, so they may run on any machine that reaches it. ``start_export``
records a ``BackgroundTask`` and enqueues ``run_background_task`` with its id in the same
transaction (the database task backend stores the queue entry beside it, so both exist or
neither). A worker runs ``run_task``: it claims the task, works, reports ``done`` of ``total`` and
beats (``beat_at``) after every page of images, and stops at the next page once someone asks it
to cancel. What it makes is written to a temporary file and stored only when whole, and the row
says "done" only after that: a worker killed half way leaves nothing that looks finished.
``reap_stalled`` finds running tasks whose worker has gone (on PostgreSQL, the task's advisory
lock is free; elsewhere, the worker's process is gone) and queues them again (up to
``BACKGROUND_ATTEMPTS`` runs in all) or fails them with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django_tasks import task as django_task

from accounts.models import User
from boards.formats import export as export_format
from boards.formats import registry
from boards.models import Batch, BatchStatus, LabelClass, Project
from boards.models.background import OPEN_STATUSES, BackgroundTask, TaskKind, TaskStatus
from boards.services.importing import import_annotation_files
from core.errors import InvalidInput, NotAllowed, ServiceError, WrongState
from core.permissions import require

log = logging.getLogger("boards.background")

EXPORT_FOLDER = "exports"
IMPORT_FOLDER = "imports"  # an import's files, kept until its worker has read them
SNAPSHOT_TRIES = 3


class Cancelled(Exception):
    """The task was cancelled (or given up on as stalled) while it ran: stop, keep nothing."""


# --- starting and stopping ------------------------------------------------------------


def start_export(
    *,
    project: Project,
    actor: User,
    fmt: str,
    batch: Batch | None = None,
    ratio: tuple[int, int, int] | None = None,
    seed: int = 0,
) -> BackgroundTask:
    """Queue an export of the project's dataset (or one Dataset batch) for a worker."""
    if not actor.has_perm("boards.view_project", project):
        raise NotAllowed("Only members of the project's workspace may export it.")
    registry.for_export(fmt)
    if batch is not None and batch.status != BatchStatus.DATASET:
        raise WrongState("Only a batch in the Dataset column can be exported.")
    params = {
        "format": fmt,
        "batch": batch.pk if batch else None,
        "split": list(ratio) if ratio else None,
        "seed": seed,
    }
    return _queue(project=project, actor=actor, kind=TaskKind.EXPORT, params=params)


def _queue(
    *,
    project: Project,
    actor: User,
    kind: str,
    params: dict,
    total: int | None = None,
    check: Callable[[], None] | None = None,
) -> BackgroundTask:
    """Record a task and put it on the queue, in one transaction, if the person has room for one
    (``BACKGROUND_OPEN_PER_PERSON``) and ``check`` does not refuse. Decided under the project's row
    lock, so that two presses at once cannot both pass. Tasks whose worker died are seen to first."""
    reap_stalled()
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        open_ones = BackgroundTask.objects.filter(project=project, started_by=actor, status__in=OPEN_STATUSES).count()
        if open_ones >= settings.BACKGROUND_OPEN_PER_PERSON:
            raise WrongState(
                f"You already have {open_ones} tasks waiting or running in this project; "
                "start another once one of them has finished (or cancel one)."
            )
        if check is not None:
            check()
        task = BackgroundTask.objects.create(project=project, kind=kind, started_by=actor, params=params, total=total)
        _enqueue(task)
    return task


@django_task()
def run_background_task(task_id: int) -> None:
    """What a worker (``manage.py db_worker``) is handed: the id of the task to run."""
    run_task(task_id)


def start_import(
    *,
    project: Project,
    actor: User,
    files: Sequence[tuple[str, bytes]],
    create_classes: bool = False,
    clip: bool = True,
    overwrite: bool = False,
) -> BackgroundTask:
    """Queue an import of annotation files for a worker: the files are kept in storage (one zip)
    until it has run; the report is the one ``import_annotation_files`` gives."""
    require(actor, "boards.manage_project", project, message="Only the project's managers and owners may import.")
    if not files:
        raise InvalidInput("Choose the annotation files to import.")
    with tempfile.TemporaryFile() as temp:
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as bundle:
            for n, (name, data) in enumerate(files):
                bundle.writestr(f"{n:06d}/{name}", data)
        temp.seek(0)
        # Stored before the task exists (outside its transaction); cleanup_files drops it if no task does.
        kept = default_storage.save(f"{IMPORT_FOLDER}/{project.pk}/{uuid.uuid4().hex}.zip", File(temp, "files.zip"))
    options = {"create_classes": create_classes, "clip": clip, "overwrite": overwrite}
    try:
        return _queue(
            project=project,
            actor=actor,
            kind=TaskKind.IMPORT,
            params={"files": len(files), "bundle": kept, **options},
            total=len(files),
        )
    except BaseException:
        default_storage.delete(kept)
        raise


def _enqueue(task: BackgroundTask) -> None:
    entry = run_background_task.enqueue(task.pk)
    task.queue_id = str(entry.id)
    BackgroundTask.objects.filter(pk=task.pk).update(queue_id=task.queue_id)


def cancel(*, task: BackgroundTask, actor: User) -> BackgroundTask:
    """Stop a task: one still waiting is cancelled at once, a running one at its worker's next page."""
    if actor.pk != task.started_by_id and not actor.has_perm("boards.manage_project", task.project):
        raise NotAllowed("Only the person who started it, or the project's managers, may cancel it.")
    this = BackgroundTask.objects.filter(pk=task.pk)
    stopped = this.filter(status=TaskStatus.QUEUED).update(
        status=TaskStatus.CANCELLED, finished_at=timezone.now(), error="Cancelled before a worker took it."
    ) or this.filter(status=TaskStatus.RUNNING).update(cancel_requested=True)
    task.refresh_from_db()
    if not stopped:
        raise WrongState(f"This task has already ended ({task.get_status_display().lower()}).")
    return task


def _worker_gone(task: BackgroundTask, cutoff) -> bool:
    """Whether the worker running ``task`` has stopped (killed, out of memory, its machine gone).

    On PostgreSQL: the task's advisory lock is free, which the server makes it the moment the
    worker's connection ends. Elsewhere (SQLite: one machine): its process is gone, or, for a
    worker on another machine, it has not beaten since ``cutoff``.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [TASK_LOCK, _lock_key(task.pk)])
            if not cursor.fetchone()[0]:
                return False
        _hold(task.pk, release=True)  # the probe took it
        return True
    host, _, process = task.worker.partition("/")
    if host == socket.gethostname() and process:
        pid = process.partition(":")[0]
        return _process_tag(int(pid)) != process if pid.isdigit() else True
    return task.beat_at is None or task.beat_at < cutoff


def _process_tag(pid: int) -> str:
    """``pid:start time`` of a living process (its start time from /proc, so that a new process
    given the same pid is not taken for it), ``pid:`` where /proc is missing, "" once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ""
    except OSError:  # no /proc here: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return f"{pid}:"
    fields = stat.rsplit(")", 1)[1].split()
    return f"{pid}:{fields[19]}" if fields[0] != "Z" else ""  # a zombie has finished


def reap_when_due(project: Project) -> None:
    """The Tasks page's look for stalled work (it polls every 2 s for each viewer): the project's own
    running tasks every time (one query while none runs, and a killed worker shows at the next
    poll); the whole site, waiting tasks included, at most every quarter of
    ``BACKGROUND_STALL_SECONDS``, by the first caller past that time."""
    if cache.add("background:reaped", True, timeout=max(1, settings.BACKGROUND_STALL_SECONDS // 4)):
        reap_stalled()
    else:
        reap_stalled(project=project)


def reap_stalled(*, now=None, project: Project | None = None) -> int:
    """Running tasks whose worker has stopped (``_worker_gone``) run again while they have attempts
    left (``BACKGROUND_ATTEMPTS`` runs in all), else fail with the reason; and waiting tasks whose
    queue entry a worker took and never ran (it died before it could claim the task) go back on
    the queue. With ``project``, only that project's running tasks. How many were found."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BACKGROUND_STALL_SECONDS)
    found = _requeue_lost(cutoff) if project is None else 0
    running = BackgroundTask.objects.filter(status=TaskStatus.RUNNING)
    if project is not None:
        running = running.filter(project=project)
    for pk in running.values_list("pk", flat=True):
        with transaction.atomic():
            # Decided on the locked row: another reaper may have queued it again meanwhile, and a
            # worker claimed it (a new run, with its own worker and lock).
            task = BackgroundTask.objects.select_for_update().filter(pk=pk, status=TaskStatus.RUNNING).first()
            if task is None or not _worker_gone(task, cutoff):
                continue
            found += 1
            if task.attempts < settings.BACKGROUND_ATTEMPTS and not task.cancel_requested:
                log.warning("Task %s lost its worker; queued again (attempt %s done)", task.pk, task.attempts)
                task.status, task.done, task.error = TaskStatus.QUEUED, 0, ""
                task.save(update_fields=["status", "done", "error"])
                _enqueue(task)
            else:
                log.warning("Task %s lost its worker; failed", task.pk)
                task.status, task.finished_at = TaskStatus.FAILED, now
                task.error = (
                    "The worker stopped while it ran (killed, out of memory, or its machine went away), "
                    f"{task.attempts} time{'s' if task.attempts != 1 else ''}; nothing of it was kept. Start it again."
                )
                if task.cancel_requested:
                    task.status, task.error = TaskStatus.CANCELLED, "Cancelled."
                task.save(update_fields=["status", "finished_at", "error"])
    return found


def _requeue_lost(cutoff) -> int:
    """Waiting tasks whose queue entry is gone, or was taken by a worker longer ago than the
    cutoff without the task being claimed (a worker claims it at once when it lives): queued again."""
    from django_tasks_db.models import DBTaskResult

    waiting = dict(
        BackgroundTask.objects.filter(status=TaskStatus.QUEUED, created_at__lt=cutoff)
        .exclude(queue_id="")
        .values_list("queue_id", "pk")
    )
    if not waiting:
        return 0
    alive = {
        str(entry)
        for entry in DBTaskResult.objects.filter(pk__in=list(waiting))
        .exclude(status="RUNNING", started_at__lt=cutoff)
        .exclude(status__in=("SUCCESSFUL", "FAILED"))
        .values_list("pk", flat=True)
    }
    lost = [pk for queue_id, pk in waiting.items() if str(uuid.UUID(queue_id)) not in alive]
    for pk in lost:
        with transaction.atomic():
            task = BackgroundTask.objects.select_for_update().filter(pk=pk, status=TaskStatus.QUEUED).first()
            if task is not None:
                log.warning("Task %s was taken off the queue but never run; queued again", pk)
                _enqueue(task)
    return len(lost)


# --- the worker's side --------------------------------------------------------------------


TASK_LOCK = 0x7461736B  # the advisory lock space of running background tasks ("task")


def _lock_key(task_id: int) -> int:
    return task_id & 0x7FFFFFFF


def _hold(task_id: int, *, release: bool = False) -> None:
    """Take (or give back) the task's session advisory lock on PostgreSQL: held while a worker runs
    it, and freed by the server if the worker dies. A no-op elsewhere."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_unlock" if release else "pg_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [TASK_LOCK, _lock_key(task_id)])


def run_task(task_id: int) -> None:
    """Run one task (called by the worker). Ends it done, failed or cancelled; never raises."""
    now = timezone.now()
    _hold(task_id)  # before it shows as running, so that a running task's lock is always held
    try:
        claimed = BackgroundTask.objects.filter(pk=task_id, status=TaskStatus.QUEUED).update(
            status=TaskStatus.RUNNING,
            started_at=now,
            beat_at=now,
            attempts=F("attempts") + 1,
            done=0,
            worker=f"{socket.gethostname()}/{_process_tag(os.getpid())}"[:160],
        )
        if not claimed:  # cancelled while it waited, or run already
            return
        task = BackgroundTask.objects.select_related("project__workspace").get(pk=task_id)
        try:
            RUNNERS[task.kind](task)
        except Cancelled:
            _end(task, TaskStatus.CANCELLED, error="Cancelled.")
        except ServiceError as exc:
            _end(task, TaskStatus.FAILED, error=exc.message)
        except Exception:
            log.exception("Task %s failed", task_id)
            _end(task, TaskStatus.FAILED, error="It failed on the server; the administrators can read why in its log.")
    finally:
        _hold(task_id, release=True)
    purge_expired_exports()


def _this_run(task: BackgroundTask):
    """The task's row while this run owns it: still running, and not claimed again since (a run's
    number is its ``attempts``), so a run given up on can no longer write."""
    return BackgroundTask.objects.filter(pk=task.pk, status=TaskStatus.RUNNING, attempts=task.attempts)


def _end(task: BackgroundTask, status: str, **fields) -> bool:
    """Record how the running task ended; False if this run no longer owns it (given up on meanwhile)."""
    now = timezone.now()
    return bool(_this_run(task).update(status=status, finished_at=now, beat_at=now, **fields))


def _beat(task: BackgroundTask, done: int, **fields) -> None:
    """Progress, and a sign of life; raises ``Cancelled`` once someone asked to stop (or gave up on it)."""
    if not _this_run(task).filter(cancel_requested=False).update(done=done, beat_at=timezone.now(), **fields):
        raise Cancelled


def _fingerprint(job: export_format.Export) -> tuple:
    """What changes whenever the exported images, their boxes or the classes do: how many images and
    which (a sum of ids), their boxes' versions (one goes up with every save), the classes' names."""
    images = job.images.order_by().aggregate(n=Count("pk"), ids=Sum("pk"), versions=Sum("annotation_version"))
    classes = tuple(LabelClass.objects.filter(project=job.project).order_by("pk").values_list("pk", "name"))
    return images["n"], images["ids"], images["versions"], classes


def _run_export(task: BackgroundTask) -> None:
    project, params = task.project, task.params
    fmt = params["format"]
    batch = Batch.objects.filter(project=project, pk=params["batch"]).first() if params.get("batch") else None
    if params.get("batch") and (batch is None or batch.status != BatchStatus.DATASET):
        raise WrongState("The batch is no longer in the Dataset column, so there is nothing to export.")
    ratio = tuple(params["split"]) if params.get("split") else None
    checked = None  # the (count, id sum) whose stored files were checked: again only for other images
    for attempt in range(SNAPSHOT_TRIES):
        job = export_format.Export.of(project, batch=batch, ratio=ratio, seed=params.get("seed", 0))
        before = _fingerprint(job)
        if before[:2] != checked:  # a file per image (a request each on S3): not again for a box edited
            export_format.check_files(job, fmt)
            checked = before[:2]
        total = before[0]
        _beat(task, 0, total=total)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            _beat(task, done)

        job.progress = progress
        content_type, ext = export_format.content_type(job, fmt)
        download = export_format.download_name(project.slug, batch.pk if batch else None, fmt, ext)
        with tempfile.TemporaryFile(dir=settings.EXPORT_TEMP_DIR or None) as temp:
            for piece in export_format.stream(job, fmt):
                temp.write(piece)
            if _fingerprint(job) != before:
                log.info("Export task %s: the dataset changed while it was written (try %s)", task.pk, attempt + 1)
                continue
            _beat(task, total)
            size = temp.tell()
            temp.seek(0)
            name = default_storage.save(f"{EXPORT_FOLDER}/{project.pk}/{task.pk}/{download}", File(temp, download))
        expires = timezone.now() + timedelta(days=settings.EXPORT_RETENTION_DAYS)
        report = {"images": total, "format": fmt, "content_type": content_type, "tries": attempt + 1}
        if not _end(
            task,
            TaskStatus.DONE,
            file=name,
            file_size=size,
            download_name=download,
            expires_at=expires,
            done=total,
            report=report,
        ):
            default_storage.delete(name)  # given up on while it stored the archive: keep nothing
        return
    raise WrongState(
        f"The dataset changed while it was exported, {SNAPSHOT_TRIES} times in a row (images moved, "
        "boxes saved or classes renamed), so no archive matches one moment. Export again when it is quieter."
    )


def _run_import(task: BackgroundTask) -> None:
    """Read the kept files, import them (one transaction, as in a request), record the report.

    Progress counts the files read; the writing that follows is one transaction, so it shows as a
    whole (a cancel asked then comes too late), and the task is marked done in that transaction.
    The kept files are deleted once it has ended; a worker killed before keeps them for the next run."""
    params = task.params
    owned = True  # whether this run still owns the task when it stops (else the next run needs the files)
    try:
        with default_storage.open(params["bundle"], "rb") as kept, zipfile.ZipFile(kept) as bundle:
            files = [(member.split("/", 1)[1], bundle.read(member)) for member in sorted(bundle.namelist())]
        _beat(task, 0, total=len(files))

        def finish(report) -> None:  # in the import's own transaction: done and imported, or neither
            if not _end(task, TaskStatus.DONE, report=asdict(report), done=len(files)):
                raise Cancelled  # given up on meanwhile: undo, the run that took over imports

        report = import_annotation_files(
            project=task.project,
            actor=task.started_by,
            files=files,
            create_classes=params["create_classes"],
            clip=params["clip"],
            overwrite=params["overwrite"],
            progress=lambda read: _beat(task, read),
            finish=finish,
        )
        if report.errors:
            _end(task, TaskStatus.FAILED, report=asdict(report), error="Malformed files: nothing was imported.")
    except Cancelled:
        owned = _this_run(task).exists()  # a person's cancel (still this run's), or a takeover
        raise
    finally:
        if owned:
            default_storage.delete(params["bundle"])


RUNNERS = {TaskKind.EXPORT: _run_export, TaskKind.IMPORT: _run_import}


# --- archives ----------------------------------------------------------------------------


def purge_expired_exports(*, now=None) -> int:
    """Delete the archives past their retention; the tasks stay in the history. How many went."""
    now = now or timezone.now()
    gone = 0
    for task in BackgroundTask.objects.filter(expires_at__lte=now).exclude(file=""):
        try:
            default_storage.delete(task.file)
        except OSError:
            log.warning("Could not delete the expired export %s", task.file, exc_info=True)
            continue
        BackgroundTask.objects.filter(pk=task.pk).update(file="")
        gone += 1
    return gone
