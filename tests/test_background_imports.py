"""Imports of many annotation files, done by a worker: the same report as in a request, nothing
written when a file is malformed, progress while the files are read."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from boards.formats import ImageInfo, voc
from boards.formats.box import Box
from boards.models import Annotation, BackgroundTask, LabelClass, TaskStatus
from tests.factories import ImageFactory
from tests.test_background_exports import work_off

pytestmark = pytest.mark.django_db

NAMES = ("dock-1.jpg", "dock-2.jpg", "dock-3.jpg")


@pytest.fixture
def images(project):
    LabelClass.objects.create(project=project, name="car")
    return {name: ImageFactory(project=project, original_filename=name) for name in NAMES}


def voc_file(name: str, label: str = "car") -> SimpleUploadedFile:
    info = ImageInfo(width=64, height=48, original_filename=name)
    return SimpleUploadedFile(name.replace(".jpg", ".xml"), voc.dump(info, [Box(label, 1, 2, 30, 20)]).encode())


def post(client, project, files, **fields):
    return client.post(reverse("import", args=["acme", project.slug]), {"files": files, **fields})


def test_more_files_than_a_request_imports_go_to_a_worker_and_report_the_same(
    client, manager, project, images, settings
):
    settings.IMPORT_INLINE_FILES = 2
    client.force_login(manager)
    files = [voc_file(name) for name in NAMES] + [SimpleUploadedFile("stray.xml", voc_file("x.jpg").read())]
    response = post(client, project, files)
    assert response.status_code == 302 and response["Location"].endswith("/tasks/")
    task = BackgroundTask.objects.get()
    assert (task.kind, task.status, task.total, task.params["files"]) == ("import", "queued", 4, 4)
    assert not Annotation.objects.exists()  # nothing until a worker runs it
    bundle = task.params["bundle"]
    assert default_storage.exists(bundle)

    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE, task.error
    assert task.done == 4
    assert sorted(line["image"] for line in task.report["imported"]) == list(NAMES)
    assert [line["file"] for line in task.report["skipped"]] == ["stray.xml"]
    assert Annotation.objects.count() == 3
    assert not default_storage.exists(bundle)  # the kept files go once read

    page = client.get(reverse("task", args=["acme", project.slug, task.pk])).content.decode()
    assert "3 images imported, 1 skipped" in page and "stray.xml" in page
    listed = client.get(reverse("tasks", args=["acme", project.slug])).content.decode()
    assert "3 imported, 1 skipped" in listed


def test_a_malformed_file_fails_the_import_and_writes_nothing(client, manager, project, images):
    client.force_login(manager)
    broken = SimpleUploadedFile("dock-3.xml", b"<annotation><object><name>car</name>")
    post(client, project, [voc_file("dock-1.jpg"), broken], background="on")
    work_off()
    task = BackgroundTask.objects.get()
    assert task.status == TaskStatus.FAILED
    assert task.error == "Malformed files: nothing was imported."
    assert [line["file"] for line in task.report["errors"]] == ["dock-3.xml"]
    assert not Annotation.objects.exists()
    page = client.get(reverse("task", args=["acme", project.slug, task.pk])).content.decode()
    assert "Nothing was imported" in page


def test_few_files_are_still_imported_in_the_request(client, manager, project, images):
    client.force_login(manager)
    response = post(client, project, [voc_file("dock-1.jpg")])
    assert response.status_code == 200
    assert "1 image imported" in response.content.decode()
    assert not BackgroundTask.objects.exists()


def test_only_managers_import_in_the_background(client, labeler, viewer, project, images):
    for person in (labeler, viewer):
        client.force_login(person)
        assert post(client, project, [voc_file("dock-1.jpg")], background="on").status_code == 403
    assert not BackgroundTask.objects.exists()


def test_the_import_reports_its_progress_as_it_reads(project, manager, images, monkeypatch):
    from boards.services import background, importing

    monkeypatch.setattr(importing, "PROGRESS_EVERY", 1)
    seen = []
    real_beat = background._beat

    def beat(task, done, **fields):
        seen.append(done)
        real_beat(task, done, **fields)

    monkeypatch.setattr(background, "_beat", beat)
    files = [(f.name, f.read()) for f in (voc_file(name) for name in NAMES)]
    task = background.start_import(project=project, actor=manager, files=files)
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert seen == [0, 1, 2, 3, 3]  # started, each file read, all read


def test_cleanup_files_keeps_the_files_of_a_waiting_import_and_drops_ones_nothing_needs(
    client, manager, project, images
):
    from io import StringIO

    from django.core.files.base import ContentFile
    from django.core.management import call_command

    client.force_login(manager)
    post(client, project, [voc_file("dock-1.jpg")], background="on")
    waiting = BackgroundTask.objects.get().params["bundle"]
    left = default_storage.save(f"imports/{project.pk}/9999.zip", ContentFile(b"PK of a task long gone"))
    call_command("cleanup_files", "--grace-hours", "0", stdout=StringIO())
    assert default_storage.exists(waiting)
    assert not default_storage.exists(left)


def test_an_import_given_up_on_while_it_writes_undoes_itself_and_leaves_its_files_for_the_next_run(
    project, manager, images, monkeypatch
):
    from boards.models import BackgroundTask as Task
    from boards.services import background

    files = [(f.name, f.read()) for f in (voc_file(name) for name in NAMES)]
    task = background.start_import(project=project, actor=manager, files=files)
    real_beat = background._beat

    def beat(task, done, **fields):
        real_beat(task, done, **fields)
        if done == len(NAMES):  # all read; before the writing, another run takes the task over
            Task.objects.filter(pk=task.pk).update(attempts=task.attempts + 1)

    monkeypatch.setattr(background, "_beat", beat)
    work_off()
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("running", 2)  # the other run's, untouched
    assert not Annotation.objects.exists()  # the import was undone with the "done" it could not record
    assert default_storage.exists(task.params["bundle"])
