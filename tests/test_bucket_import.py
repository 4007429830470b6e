"""Importing images from an S3-compatible bucket (moto's S3 server), done by a worker."""

import io
import socket
import subprocess

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from boards.models import BackgroundTask, Batch, BatchEvent, BucketObject, BucketSource, Image, TaskStatus
from boards.services import background, buckets
from core import encryption
from core.errors import InvalidInput, WrongState
from tests.test_background_exports import work_off
from tests.test_concurrency import _race, racing

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-Key-never-shown/+="
ACCESS = "AKIAEXAMPLE7Q2Z"


def photo(color=(40, 120, 200), size=(96, 72)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def connect(project, actor, remote, **changes):
    fields = {
        "name": "Harbour camera",
        "bucket": remote["bucket"],
        "prefix": "photos/",
        "endpoint_url": remote["endpoint"],
        "region": "us-east-1",
        "access_key": ACCESS,
        "secret_key": SECRET,
    }
    return buckets.connect_bucket(project=project, actor=actor, **(fields | changes))


def imported_whole(project, actor, remote) -> None:
    """Import the test bucket (three photos, one torn file) with a worker, and check it all went."""
    task = buckets.start_bucket_import(source=connect(project, actor, remote), actor=actor)
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE, task.error
    assert (task.report["landed"], task.report["rejected"]) == (3, 1)


def test_a_manager_connects_a_bucket_and_its_keys_are_kept_encrypted_and_never_shown(client, manager, project, remote):
    client.force_login(manager)
    url = reverse("buckets", args=["acme", project.slug])
    response = client.post(
        url,
        {
            "name": "Harbour camera",
            "endpoint_url": remote["endpoint"],
            "region": "us-east-1",
            "bucket": remote["bucket"],
            "prefix": "photos/",
            "access_key": ACCESS,
            "secret_key": SECRET,
        },
    )
    assert response.status_code == 302
    source = BucketSource.objects.get()
    assert SECRET not in source.secret_key and ACCESS not in source.access_key
    assert encryption.decrypt(source.secret_key) == SECRET and encryption.decrypt(source.access_key) == ACCESS
    page = client.get(url).content.decode()
    assert "…7Q2Z" in page and SECRET not in page and ACCESS not in page
    assert f"s3://{remote['bucket']}/photos/" in page


def test_a_bucket_that_cannot_be_listed_is_refused_with_the_reason(client, manager, project, remote):
    client.force_login(manager)
    response = client.post(
        reverse("buckets", args=["acme", project.slug]),
        {"name": "Typo", "endpoint_url": remote["endpoint"], "bucket": "no-such-bucket-here",
         "access_key": ACCESS, "secret_key": SECRET},
    )  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "The bucket could not be listed with these details: NoSuchBucket" in page
    assert SECRET not in page and 'value="no-such-bucket-here"' in page
    assert not BucketSource.objects.exists()


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9000", "http://169.254.169.254", "http://10.0.0.7", "http://localhost:9000"]
)
def test_an_endpoint_in_the_servers_own_network_is_refused(manager, project, remote, settings, endpoint):
    settings.BUCKET_PRIVATE_ENDPOINTS = False
    with pytest.raises(InvalidInput, match="private address"):
        connect(project, manager, remote, endpoint_url=endpoint)


@pytest.mark.parametrize("endpoint", ["ftp://minio.example.com", "file:///etc/passwd", "http://user:pw@host", "x"])
def test_an_endpoint_that_is_not_an_http_address_is_refused(manager, project, remote, endpoint):
    with pytest.raises(InvalidInput, match="http:// or https://"):
        connect(project, manager, remote, endpoint_url=endpoint)


def test_an_import_brings_the_images_under_the_prefix_as_one_new_batch(manager, project, remote):
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager, batch_name="Harbour, week 12")
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE, task.error
    report = task.report
    assert (report["objects"], report["landed"], report["rejected"], report["not_images"]) == (4, 3, 1, 1)
    assert report["rejections"][0]["key"] == "photos/torn.jpg" and report["rejections"][0]["reason"]
    batch = Batch.objects.get(pk=report["batch"])
    assert (batch.name, batch.status, batch.source) == ("Harbour, week 12", "unassigned", "bucket")
    names = sorted(Image.objects.filter(placement__batch=batch).values_list("original_filename", flat=True))
    assert names == ["dock-0.jpg", "dock-1.jpg", "dock-2.jpg"]
    assert (task.done, task.total) == (4, 4)


def test_importing_again_brings_only_what_is_new(manager, project, remote):
    source = connect(project, manager, remote)
    buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    again = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    again.refresh_from_db()
    assert (again.report["handled_before"], again.report["landed"], again.report["batch"]) == (4, 0, None)
    assert Image.objects.count() == 3

    remote["client"].put_object(Bucket=remote["bucket"], Key="photos/dock-9.jpg", Body=photo((9, 9, 9)))
    remote["client"].put_object(Bucket=remote["bucket"], Key="photos/dock-0.jpg", Body=photo((40, 120, 200)))
    third = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    third.refresh_from_db()
    # dock-9 is new; dock-0 was written again with the same picture: a new version, but no new image
    assert (third.report["landed"], third.report["duplicate"]) == (1, 1)
    assert Image.objects.count() == 4
    assert BucketObject.objects.filter(source=source).count() == 6


def test_an_import_whose_worker_died_resumes_where_it_stopped(manager, project, remote, settings, monkeypatch):
    settings.BUCKET_IMPORT_CHUNK = 2
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager)
    real_upload, calls = buckets.upload_images, []

    def upload_then_die(**kwargs):
        calls.append(len(kwargs["files"]))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the worker is stopped here, as by a kill
        return real_upload(**kwargs)

    monkeypatch.setattr(buckets, "upload_images", upload_then_die)
    with pytest.raises(KeyboardInterrupt):
        background.run_task(task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING and task.done == 2
    child = subprocess.Popen(["true"])
    child.wait()
    BackgroundTask.objects.filter(pk=task.pk).update(worker=f"{socket.gethostname()}/{child.pid}:1")

    monkeypatch.setattr(buckets, "upload_images", real_upload)
    assert background.reap_stalled() == 1
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.attempts == 2
    # One report for the whole task: the objects it found unhandled (4), whichever run handled them.
    assert (task.report["handled_before"], task.report["landed"], task.report["rejected"]) == (0, 3, 1)
    assert task.report["landed"] + task.report["rejected"] + task.report["duplicate"] == task.report["objects"]
    assert Image.objects.count() == 3 and Batch.objects.filter(source="bucket").count() == 1


def test_an_object_larger_than_an_upload_may_be_is_rejected_without_fetching_it(
    manager, project, remote, settings, monkeypatch
):
    settings.MAX_UPLOAD_FILE_BYTES = 100
    source = connect(project, manager, remote)
    fetched = []
    real_client = buckets.source_client

    def counting(src):
        client = real_client(src)
        get = client.get_object
        client.get_object = lambda **kw: fetched.append(kw["Key"]) or get(**kw)
        return client

    monkeypatch.setattr(buckets, "source_client", counting)
    task = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    task.refresh_from_db()
    assert task.report["rejected"] == 4 and fetched == []
    assert "Larger than 100 bytes" in task.report["rejections"][0]["reason"]


def test_one_import_per_bucket_at_a_time_and_no_removal_meanwhile(manager, project, remote):
    source = connect(project, manager, remote)
    buckets.start_bucket_import(source=source, actor=manager)
    with pytest.raises(WrongState, match="already waiting or running"):
        buckets.start_bucket_import(source=source, actor=manager)
    with pytest.raises(WrongState, match="cancel it first"):
        buckets.remove_bucket(source=source, actor=manager)
    work_off()
    buckets.remove_bucket(source=source, actor=manager)
    assert not BucketSource.objects.exists() and Image.objects.count() == 3


def test_only_managers_see_buckets(client, labeler, reviewer, viewer, outsider, manager, project, remote):
    source = connect(project, manager, remote)
    for person, status in ((labeler, 403), (reviewer, 403), (viewer, 403), (outsider, 404)):
        client.force_login(person)
        assert client.get(reverse("buckets", args=["acme", project.slug])).status_code == status
        url = reverse("bucket-import", args=["acme", project.slug, source.pk])
        assert client.post(url).status_code == status
    assert not BackgroundTask.objects.exists()


def test_the_tasks_page_reports_a_bucket_import(client, manager, project, remote):
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    client.force_login(manager)
    listed = client.get(reverse("tasks", args=["acme", project.slug])).content.decode()
    assert "from Harbour camera" in listed and "3 landed, 0 already here, 1 rejected" in listed
    page = client.get(reverse("task", args=["acme", project.slug, task.pk])).content.decode()
    assert "photos/torn.jpg" in page and "Rejected objects" in page


@pytest.mark.parametrize(
    "endpoint",
    ["http://example.com:abc", "http://example.com:99999", "http://[::1", "https://" + "a" * 300 + ".example.com"],
)
def test_a_malformed_endpoint_is_a_clear_400(client, manager, project, remote, endpoint):
    client.force_login(manager)
    response = client.post(
        reverse("buckets", args=["acme", project.slug]),
        {
            "name": "Odd",
            "endpoint_url": endpoint,
            "bucket": remote["bucket"],
            "access_key": ACCESS,
            "secret_key": SECRET,
        },
    )
    assert response.status_code == 400
    assert "endpoint" in response.content.decode()
    assert not BucketSource.objects.exists()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("fd00::1", False),
    ],
)
def test_only_public_addresses_pass(address, public):
    import ipaddress

    assert buckets._public(ipaddress.ip_address(address)) is public


def test_an_object_gone_since_the_listing_is_rejected_with_the_reason_and_the_rest_land(
    manager, project, remote, monkeypatch
):
    source = connect(project, manager, remote)
    real_listing = buckets._listing

    def listing_with_a_ghost(client, src):
        found, others = real_listing(client, src)
        return [*found, ("photos/deleted-meanwhile.jpg", "abc", 500)], others

    monkeypatch.setattr(buckets, "_listing", listing_with_a_ghost)
    task = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert (task.report["landed"], task.report["rejected"]) == (3, 2)
    reasons = {r["key"]: r["reason"] for r in task.report["rejections"]}
    assert reasons["photos/deleted-meanwhile.jpg"].startswith("Could not be read: NoSuchKey")


@racing
def test_two_presses_at_once_start_one_import_of_a_bucket(manager, project, remote):
    source = connect(project, manager, remote)

    def press():
        try:
            return buckets.start_bucket_import(source=BucketSource.objects.get(pk=source.pk), actor=manager)
        except WrongState as refused:
            return str(refused)

    for _ in range(3):
        results = _race(press, press)
        started = [r for r in results if isinstance(r, BackgroundTask)]
        assert len(started) == 1
        refused = [r for r in results if isinstance(r, str)]
        assert refused == ["An import from this bucket is already waiting or running."]
        assert BackgroundTask.objects.filter(status="queued").count() == 1
        BackgroundTask.objects.update(status="cancelled")


def test_the_buckets_page_keeps_the_keys_out_of_error_reports(client, manager, project, remote):
    client.force_login(manager)
    response = client.post(reverse("buckets", args=["acme", project.slug]), {"name": "x", "secret_key": SECRET})
    assert set(response.wsgi_request.sensitive_post_parameters) == {"access_key", "secret_key"}


def test_a_finished_import_has_no_archive_to_download(client, manager, project, remote):
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager)
    work_off()
    client.force_login(manager)
    assert client.get(reverse("task-download", args=["acme", project.slug, task.pk])).status_code == 404


def test_a_step_that_ends_after_the_import_was_cancelled_keeps_nothing(manager, project, remote, settings, monkeypatch):
    """Cancel pressed while a step runs: the step's images, handled objects and progress roll back
    together, since the run no longer owns the task when it records them."""
    settings.BUCKET_IMPORT_CHUNK = 2
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager)
    real_upload, calls = buckets.upload_images, []

    def upload_while_cancelled(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            BackgroundTask.objects.filter(pk=task.pk).update(cancel_requested=True)
        return real_upload(**kwargs)

    monkeypatch.setattr(buckets, "upload_images", upload_while_cancelled)
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.done == 2
    assert BucketObject.objects.filter(source=source).count() == 2  # the first step only
    assert Image.objects.count() == task.params["counts"].get("landed", 0) == task.report.get("landed", 0)


def test_a_batch_moved_on_just_before_a_step_takes_it_sends_the_rest_to_a_new_batch(
    manager, labeler, project, remote, settings, monkeypatch
):
    """The import's batch is assigned between a step's start and its lock: the step's images go to a
    new batch (as when it moved on earlier), and the import finishes instead of failing."""
    from boards import services
    from boards.services import uploads

    settings.BUCKET_IMPORT_CHUNK = 2
    source = connect(project, manager, remote)
    task = buckets.start_bucket_import(source=source, actor=manager, batch_name="Harbour")
    real_check, calls = uploads._catalog_kept, []

    def assigned_meanwhile(project_, assets):
        calls.append(1)
        if len(calls) == 2:  # the second step, after it looked at the batch and before its lock
            first = Batch.objects.get(pk=BackgroundTask.objects.get(pk=task.pk).params["batch"])
            services.assign(batch=first, actor=manager, labeler=labeler)
        return real_check(project_, assets)

    monkeypatch.setattr(uploads, "_catalog_kept", assigned_meanwhile)
    work_off()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE, task.error
    batches = list(Batch.objects.filter(project=project).order_by("pk"))
    assert [b.status for b in batches] == ["annotating", "unassigned"]
    assert [e.kind for e in BatchEvent.objects.filter(batch=batches[1])] == ["created"]  # a new batch's history
    assert task.report["batch"] == batches[1].pk
    assert Image.objects.filter(placement__batch__in=batches).count() == task.report["landed"] == 3


def test_the_objects_of_a_step_are_fetched_at_once(manager, project, remote, settings, monkeypatch):
    """Each fetch waits for another to start: fetched one after the other, the first would wait alone."""
    import threading

    settings.BUCKET_IMPORT_CHUNK = 2
    together = threading.Barrier(2, timeout=10)
    real_fetch = buckets._fetch

    def fetch_with_company(*args):
        together.wait()
        return real_fetch(*args)

    monkeypatch.setattr(buckets, "_fetch", fetch_with_company)
    imported_whole(project, manager, remote)


def test_objects_over_the_memory_size_are_kept_in_temporary_files_closed_after_their_step(
    manager, project, remote, settings, monkeypatch
):
    """A step does not hold its objects in memory: past FILE_UPLOAD_MAX_MEMORY_SIZE each goes to a file."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # the test photos are about 1 kB
    handed = []
    real_upload = buckets.upload_images

    def watched(**kwargs):
        # SpooledTemporaryFile's own flag: the bytes went to a file on disk.
        handed.extend((upload, upload.file._rolled, upload.size) for upload in kwargs["files"])
        return real_upload(**kwargs)

    monkeypatch.setattr(buckets, "upload_images", watched)
    imported_whole(project, manager, remote)
    assert len(handed) == 4  # the torn one (200 bytes) too: the upload rejects it as a broken picture
    assert all(on_disk and size > 100 for _upload, on_disk, size in handed)
    assert all(upload.closed for upload, _on_disk, _size in handed)
