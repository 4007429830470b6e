"""Exports prepared by a worker: queued from the export page, run by ``db_worker`` with progress,
cancelled, retried or failed when their worker stops, downloaded while kept, then purged."""

import io
import json
import os
import socket
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from boards.models import Annotation, BackgroundTask, BatchStatus, Image, LabelClass, ReviewState, TaskStatus
from boards.services import background
from core.errors import NotAllowed, WrongState
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes
from tests.services import psycopg_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(project):
    """A Dataset batch of five approved images with a box each."""
    car = LabelClass.objects.create(project=project, name="car", color="#dc2626")
    batch = BatchFactory(project=project, name="done", status=BatchStatus.DATASET)
    for n in range(5):
        image = ImageFactory(
            project=project,
            batch=batch,
            original_filename=f"dock-{n}.jpg",
            review_state=ReviewState.APPROVED,
            file=ContentFile(jpeg_bytes(color=(n * 40, 80, 40)), name=f"dock-{n}.jpg"),
        )
        Annotation.objects.create(image=image, label=car, x=n, y=2, width=10, height=8)
    return batch


def export_url(project, name="export"):
    return reverse(name, args=[project.workspace.slug, project.slug])


def tasks_url(project):
    return reverse("tasks", args=[project.workspace.slug, project.slug])


def work_off() -> None:
    """What a worker does: every queued task, then stop. In this process, inside the test's
    transaction: the worker's check for stale connections would close that one, so it is skipped."""
    from unittest import mock

    from django_tasks_db.management.commands import db_worker

    with mock.patch.object(db_worker, "close_old_connections", lambda: None):
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", verbosity=0)


def start(client, project, **fields):
    return client.post(export_url(project, "export-start"), {"run": "background", "format": "yolo", **fields})


def streamed(client, project, **query) -> bytes:
    response = client.get(export_url(project), query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_export_page_queues_an_export_for_a_worker(client, viewer, project, dataset):
    client.force_login(viewer)
    response = start(client, project, split="60,20,20", seed="7")
    assert response.status_code == 302 and response["Location"] == tasks_url(project)
    task = BackgroundTask.objects.get()
    assert (task.status, task.kind, task.started_by, task.done, task.total) == ("queued", "export", viewer, 0, None)
    assert task.params == {"format": "yolo", "batch": None, "split": [60, 20, 20], "seed": 7}
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # on the queue, in the same transaction
    page = client.get(tasks_url(project)).content.decode()
    assert "Waiting for a worker" in page and 'hx-trigger="every 2s"' in page


def test_a_worker_writes_the_same_archive_the_download_streams(client, viewer, project, dataset):
    client.force_login(viewer)
    start(client, project, split="60,20,20", seed="7")
    work_off()
    task = BackgroundTask.objects.get()
    assert task.status == TaskStatus.DONE, task.error
    assert (task.done, task.total, task.attempts) == (5, 5, 1)
    assert task.expires_at > timezone.now() + timedelta(days=6, hours=23)
    assert task.report["images"] == 5
    response = client.get(reverse("task-download", args=["acme", project.slug, task.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{task.download_name}"'
    archived = b"".join(response.streaming_content)
    assert archived == streamed(client, project, format="yolo", split="60,20,20", seed="7")
    same = client.get(export_url(project), {"format": "yolo", "split": "60,20,20", "seed": "7"})
    assert same["Content-Disposition"] == response["Content-Disposition"]  # called the same, too
    assert task.download_name == f"{project.slug}-dataset-yolo.zip"
    names = zipfile.ZipFile(io.BytesIO(archived)).namelist()
    assert sum(name.startswith("train/images/") for name in names) == 3
    page = client.get(tasks_url(project)).content.decode()
    assert "every 2s" not in page  # nothing left to wait for
    assert task.download_name in page


def test_a_batch_export_in_the_background_holds_that_batch(client, viewer, project, dataset):
    other = BatchFactory(project=project, name="other", status=BatchStatus.DATASET)
    ImageFactory(project=project, batch=other, review_state=ReviewState.APPROVED, original_filename="x.jpg")
    client.force_login(viewer)
    start(client, project, format="coco", batch=dataset.pk)
    work_off()
    task = BackgroundTask.objects.get()
    assert task.total == 5
    assert default_storage.open(task.file).read() == streamed(client, project, format="coco", batch=dataset.pk)


def test_download_now_goes_to_the_streamed_download(client, viewer, project, dataset):
    client.force_login(viewer)
    response = client.post(export_url(project, "export-start"), {"run": "now", "format": "voc", "seed": "3"})
    assert response.status_code == 302
    assert response["Location"] == export_url(project) + "?format=voc&seed=3"
    assert not BackgroundTask.objects.exists()


def test_a_dataset_over_the_stream_limit_is_refused_for_streaming_and_offered_the_background(
    client, viewer, project, dataset, settings
):
    settings.EXPORT_STREAM_LIMIT = 4
    client.force_login(viewer)
    response = client.get(export_url(project), {"format": "yolo"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "5 images are more than a download streams at once (4)" in page
    assert "Download now" not in page and "Prepare in the background" in page


def test_a_queued_export_is_cancelled_at_once_and_no_worker_runs_it(client, viewer, project, dataset):
    client.force_login(viewer)
    start(client, project)
    task = BackgroundTask.objects.get()
    response = client.post(reverse("task-cancel", args=["acme", project.slug, task.pk]))
    assert response.status_code == 302
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.file == ""


def test_a_running_export_stops_at_its_next_page_and_keeps_nothing(project, viewer, dataset, monkeypatch, settings):
    settings.EXPORT_PAGE_SIZE = 2
    task = background.start_export(project=project, actor=viewer, fmt="yolo")
    real_beat = background._beat

    def beat(task, done, **fields):
        if done == 2:  # someone presses Cancel after the first page
            background.cancel(task=BackgroundTask.objects.get(pk=task.pk), actor=viewer)
        real_beat(task, done, **fields)

    monkeypatch.setattr(background, "_beat", beat)
    work_off()
    task.refresh_from_db()
    assert (task.status, task.file) == ("cancelled", "")
    exports = Path(django_settings.MEDIA_ROOT) / "exports"
    assert not exports.exists() or not [p for p in exports.rglob("*") if p.is_file()]


def test_only_the_starter_or_a_manager_may_cancel(project, viewer, labeler, manager, dataset):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    with pytest.raises(NotAllowed):
        background.cancel(task=task, actor=labeler)
    assert background.cancel(task=task, actor=manager).status == TaskStatus.CANCELLED
    with pytest.raises(WrongState):
        background.cancel(task=task, actor=manager)


def test_a_dataset_that_changes_while_it_is_written_is_written_again(project, viewer, dataset, monkeypatch, settings):
    settings.EXPORT_PAGE_SIZE = 2
    real_beat, changed = background._beat, []

    def beat(task, done, **fields):
        if done == 2 and not changed:  # a labeler saves a box half way through the first try
            image = Image.objects.filter(placement__batch=dataset).order_by("pk").first()
            Annotation.objects.filter(image=image).update(x=33)
            Image.objects.filter(pk=image.pk).update(annotation_version=image.annotation_version + 1)
            changed.append(image)
        real_beat(task, done, **fields)

    monkeypatch.setattr(background, "_beat", beat)
    real_check, checks = background.export_format.check_files, []
    monkeypatch.setattr(background.export_format, "check_files", lambda *args: checks.append(1) or real_check(*args))
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert changed and task.report["tries"] == 2
    assert len(checks) == 1  # the same images: their stored files are not looked at again for a box
    doc = json.loads(default_storage.open(task.file).read())
    boxes = sorted(a["bbox"][0] for a in doc["annotations"])
    assert boxes == [1, 2, 3, 4, 33]  # the box as saved, not the one the first try had read


def test_a_dataset_that_never_holds_still_fails_the_export_with_the_reason(
    project, viewer, dataset, monkeypatch, settings
):
    settings.EXPORT_PAGE_SIZE = 2
    real_beat = background._beat

    def beat(task, done, **fields):
        if done == 2:
            Image.objects.filter(placement__batch=dataset).update(annotation_version=timezone.now().microsecond + 10)
        real_beat(task, done, **fields)

    monkeypatch.setattr(background, "_beat", beat)
    task = background.start_export(project=project, actor=viewer, fmt="yolo")
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "changed while it was exported, 3 times in a row" in task.error
    assert task.file == ""


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def running(task, worker: str) -> None:
    """The task as a worker that took it leaves it: running, beat just now, naming the worker."""
    BackgroundTask.objects.filter(pk=task.pk).update(
        status="running", attempts=F("attempts") + 1, beat_at=timezone.now(), worker=worker
    )


def test_an_export_whose_worker_died_runs_again_then_fails(project, viewer, dataset, settings):
    settings.BACKGROUND_ATTEMPTS = 2
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    DBTaskResult.objects.all().delete()  # a worker took it ...
    running(task, f"{socket.gethostname()}/{dead_pid()}:12345")  # ... and was killed

    assert background.reap_stalled() == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # queued again
    DBTaskResult.objects.all().delete()
    running(task, f"{socket.gethostname()}/{dead_pid()}:12345")

    assert background.reap_stalled() == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "The worker stopped while it ran" in task.error and "2 times" in task.error
    assert not DBTaskResult.objects.exists()


@pytest.fixture
def task_lock_elsewhere():
    """On PostgreSQL, hold a task's advisory lock from another connection, as a live worker does."""
    held = []

    def hold(task_id: int) -> None:
        if connection.vendor != "postgresql":
            return
        import psycopg

        other = psycopg.connect(**psycopg_params(), autocommit=True)
        other.execute("SELECT pg_advisory_lock(%s, %s)", [background.TASK_LOCK, task_id])
        held.append(other)

    yield hold
    for other in held:
        other.close()


def test_an_export_whose_worker_lives_is_left_alone_however_long_it_is_silent(
    project, viewer, dataset, settings, task_lock_elsewhere
):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    running(task, f"{socket.gethostname()}/{background._process_tag(os.getpid())}")  # this very process: alive
    task_lock_elsewhere(task.pk)
    long_ago = timezone.now() - timedelta(seconds=settings.BACKGROUND_STALL_SECONDS * 10)
    BackgroundTask.objects.filter(pk=task.pk).update(beat_at=long_ago)  # a page that takes long to read
    assert background.reap_stalled() == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL asks the task's lock, not the process")
def test_a_new_process_given_a_dead_workers_pid_is_not_taken_for_it(project, viewer, dataset):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    started = background._process_tag(os.getpid()).split(":")[1]
    running(task, f"{socket.gethostname()}/{os.getpid()}:{int(started) - 1}")  # same pid, started earlier
    assert background.reap_stalled() == 1


def test_one_person_has_at_most_three_tasks_waiting_or_running(project, viewer, manager, dataset):
    for _ in range(3):
        background.start_export(project=project, actor=viewer, fmt="coco")
    with pytest.raises(WrongState, match="already have 3 tasks waiting or running"):
        background.start_export(project=project, actor=viewer, fmt="coco")
    background.start_export(project=project, actor=manager, fmt="coco")  # someone else may
    background.cancel(task=BackgroundTask.objects.filter(started_by=viewer).first(), actor=viewer)
    background.start_export(project=project, actor=viewer, fmt="coco")  # one ended: room again


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory locks")
def test_on_postgresql_a_worker_on_another_machine_counts_as_alive_while_it_holds_the_lock(
    project, viewer, dataset, task_lock_elsewhere
):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    running(task, "worker-7.internal/4242:99")
    task_lock_elsewhere(task.pk)
    assert background.reap_stalled() == 0


def test_a_worker_on_another_machine_counts_as_gone_once_its_beat_is_overdue(project, viewer, dataset, settings):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL asks the task's lock instead (the test above)")
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    running(task, "worker-7.internal/4242:99")
    assert background.reap_stalled() == 0
    long_ago = timezone.now() - timedelta(seconds=settings.BACKGROUND_STALL_SECONDS + 1)
    BackgroundTask.objects.filter(pk=task.pk).update(beat_at=long_ago)
    assert background.reap_stalled() == 1


def test_an_expired_archive_is_deleted_and_its_link_says_so(client, viewer, project, dataset):
    client.force_login(viewer)
    start(client, project)
    work_off()
    task = BackgroundTask.objects.get()
    name = task.file
    BackgroundTask.objects.filter(pk=task.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert background.purge_expired_exports() == 1
    assert not default_storage.exists(name)
    response = client.get(reverse("task-download", args=["acme", project.slug, task.pk]))
    assert response.status_code == 410
    assert "deleted when its retention ended" in response.content.decode()
    assert "Expired" in client.get(tasks_url(project)).content.decode()


def test_other_workspaces_see_no_tasks_and_download_nothing(client, outsider, viewer, project, dataset):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    client.force_login(outsider)
    assert client.get(tasks_url(project)).status_code == 404
    assert client.get(reverse("task-download", args=["acme", project.slug, task.pk])).status_code == 404
    assert client.post(reverse("task-cancel", args=["acme", project.slug, task.pk])).status_code == 404
    assert start(client, project).status_code == 404


def test_a_batch_not_in_the_dataset_column_is_not_exported(client, viewer, project, dataset):
    dataset.__class__.objects.filter(pk=dataset.pk).update(status=BatchStatus.UNASSIGNED)
    client.force_login(viewer)
    response = start(client, project, batch=dataset.pk)
    assert response.status_code == 302
    assert not BackgroundTask.objects.exists()


def test_the_tasks_page_reads_a_fixed_number_of_queries(
    client, viewer, project, dataset, django_assert_max_num_queries
):
    for _ in range(12):
        background.start_export(project=project, actor=viewer, fmt="coco")
        BackgroundTask.objects.update(status="done")
    client.force_login(viewer)
    with django_assert_max_num_queries(9):
        assert client.get(tasks_url(project)).status_code == 200


def test_cleanup_files_deletes_expired_archives_and_ones_no_task_names(client, viewer, project, dataset):
    client.force_login(viewer)
    start(client, project)
    work_off()
    kept = BackgroundTask.objects.get().file
    orphan = default_storage.save(f"exports/{project.pk}/999/parcels-dataset-yolo.zip", ContentFile(b"PK half"))
    out = io.StringIO()
    call_command("cleanup_files", "--grace-hours", "0", stdout=out)
    assert default_storage.exists(kept) and not default_storage.exists(orphan)
    BackgroundTask.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("cleanup_files", "--grace-hours", "0", stdout=out)
    assert not default_storage.exists(kept)
    assert "Deleted 1 export archive past retention." in out.getvalue()


def test_a_task_taken_off_the_queue_by_a_worker_that_died_before_running_it_is_queued_again(
    project, viewer, dataset, settings
):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    long_ago = timezone.now() - timedelta(seconds=settings.BACKGROUND_STALL_SECONDS + 1)
    DBTaskResult.objects.filter(pk=task.queue_id).update(status="RUNNING", started_at=long_ago)
    BackgroundTask.objects.filter(pk=task.pk).update(created_at=long_ago)
    assert background.reap_stalled() == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED
    assert DBTaskResult.objects.get(pk=task.queue_id).status == "READY"
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_a_waiting_task_whose_entry_is_still_on_the_queue_is_left_alone(project, viewer, dataset, settings):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    long_ago = timezone.now() - timedelta(seconds=settings.BACKGROUND_STALL_SECONDS + 1)
    BackgroundTask.objects.filter(pk=task.pk).update(created_at=long_ago)  # no worker yet, that is all
    assert background.reap_stalled() == 0
    assert DBTaskResult.objects.count() == 1


def test_a_run_given_up_on_writes_nothing_once_the_task_is_claimed_again(project, viewer, dataset):
    task = background.start_export(project=project, actor=viewer, fmt="coco")
    BackgroundTask.objects.filter(pk=task.pk).update(status="running", attempts=1)
    first_run = BackgroundTask.objects.get(pk=task.pk)
    BackgroundTask.objects.filter(pk=task.pk).update(attempts=2)  # queued again and claimed by a second run
    with pytest.raises(background.Cancelled):
        background._beat(first_run, 3)
    assert background._end(first_run, TaskStatus.DONE) is False
    task.refresh_from_db()
    assert (task.status, task.done, task.attempts) == ("running", 0, 2)


def test_the_tasks_page_polled_by_many_looks_at_the_whole_site_once_a_while(
    client, viewer, project, dataset, monkeypatch, settings
):
    """Every poll looks at the project's own running tasks (a killed worker shows at the next one);
    the site-wide look, waiting tasks included, comes at most every quarter of the stall time."""
    from django.core.cache import cache

    settings.BACKGROUND_STALL_SECONDS = 120
    calls = []
    monkeypatch.setattr(background, "reap_stalled", lambda **kwargs: calls.append(kwargs.get("project")) or 0)
    client.force_login(viewer)
    url = reverse("tasks", args=["acme", "parcels"])
    for _ in range(5):
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
    assert calls == [None] + [project] * 4
    cache.delete("background:reaped")  # 30 s later
    client.get(url)
    assert calls[-1] is None


def test_a_projects_own_look_leaves_other_projects_tasks_to_the_site_wide_one(project, viewer, dataset):
    from tests.factories import ProjectFactory

    task = background.start_export(project=project, actor=viewer, fmt="coco")
    BackgroundTask.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING, attempts=1, worker="nowhere/1:1")
    other = ProjectFactory(workspace=project.workspace, name="Other", slug="other")
    assert background.reap_stalled(project=other) == 0
    assert background.reap_stalled(project=project) == 1
