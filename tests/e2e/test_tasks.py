"""A viewer prepares a large export in the background, watches it on the Tasks page and downloads it."""

from __future__ import annotations

import zipfile

from playwright.sync_api import Page, expect

from boards.models import Annotation, BatchStatus, LabelClass, ReviewState
from tests.factories import BatchFactory, ImageFactory
from tests.test_background_exports import work_off


def test_a_viewer_prepares_an_export_in_the_background_and_downloads_it(
    page: Page, url, login, viewer, project, settings, shoot
):
    settings.EXPORT_STREAM_LIMIT = 3
    car = LabelClass.objects.create(project=project, name="car", color="#dc2626")
    batch = BatchFactory(project=project, name="Harbour, week 12", status=BatchStatus.DATASET)
    for n in range(5):
        image = ImageFactory(project=project, batch=batch, original_filename=f"quay-{n}.jpg")
        image.review_state = ReviewState.APPROVED
        image.save(update_fields=["review_state"])
        Annotation.objects.create(image=image, label=car, x=1, y=2, width=10, height=8)

    login(viewer)
    page.goto(url("/w/acme/p/parcels/export/"))
    expect(page.get_by_text("5 images")).to_be_visible()
    expect(page.get_by_role("button", name="Download now")).to_have_count(0)  # too many to stream
    page.get_by_label("YOLO (zip: images, labels, data.yaml)").check()
    shoot("export-large")
    page.get_by_role("button", name="Prepare in the background").click()
    page.wait_for_url(url("/w/acme/p/parcels/tasks/"))
    row = page.locator("tr.task-queued")
    expect(row).to_contain_text("Waiting for a worker")
    shoot("tasks-queued")

    work_off()  # a worker takes it; the page, polling, shows the result without a reload
    done = page.locator("tr.task-done")
    expect(done).to_contain_text("5 of 5 images", timeout=10_000)
    link = done.get_by_role("link", name="Download parcels-dataset-yolo.zip")
    shoot("tasks-done")
    with page.expect_download() as download:
        link.click()
    archive = zipfile.ZipFile(download.value.path())
    labels = sorted(n for n in archive.namelist() if n.startswith("labels/"))
    assert labels == [f"labels/quay-{n}.txt" for n in range(5)]


def test_a_manager_connects_a_bucket_and_imports_its_images(page: Page, url, login, manager, project, remote, shoot):
    login(manager)
    page.goto(url("/w/acme/p/parcels/buckets/"))
    page.get_by_label("Name").fill("Harbour camera")
    page.get_by_label("Endpoint").fill(remote["endpoint"])
    page.get_by_label("Bucket", exact=True).fill(remote["bucket"])
    page.get_by_label("Prefix").fill("photos/")
    page.get_by_label("Access key ID").fill("AKIAEXAMPLE7Q2Z")
    page.get_by_label("Secret access key").fill("s3cr3t-Key-never-shown")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Connected “Harbour camera”")).to_be_visible()
    expect(page.locator("table.buckets")).to_contain_text("…7Q2Z")
    expect(page.locator("body")).not_to_contain_text("s3cr3t")
    shoot("buckets")

    page.get_by_role("button", name="Import new images").click()
    page.wait_for_url(url("/w/acme/p/parcels/tasks/"))
    work_off()
    expect(page.locator("tr.task-done")).to_contain_text("3 landed, 0 already here, 1 rejected", timeout=10_000)
    shoot("tasks-bucket-import")
    page.locator("tr.task-done").get_by_role("link", name="report").click()
    expect(page.get_by_text("photos/torn.jpg")).to_be_visible()
    page.get_by_role("link", name="its batch").click()
    expect(page.get_by_role("heading", name="Harbour camera import")).to_be_visible()
