"""The catalog in a real browser: filter, select, sample into a new batch, find its card on the board."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import Page, expect

from boards import services
from boards.models import Batch, Image, Tag
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes

BOARD = "/w/acme/p/parcels/"
CATALOG = "/w/acme/p/parcels/catalog/"


@pytest.fixture
def signed_in(login, manager) -> Page:
    return login(manager)


@pytest.fixture
def catalog_images(project):
    """24 night shots and 12 day shots, free; 3 more in a batch already waiting in Unassigned (priority 2)."""
    night = Tag.objects.create(project=project, name="night")
    day = Tag.objects.create(project=project, name="day")

    def image(n, color, tag, batch=None):
        made = ImageFactory(
            project=project,
            batch=batch,
            original_filename=f"{tag.name}_{n:03d}.jpg",
            width=1280,
            height=720,
            file=ContentFile(jpeg_bytes(160, 120, color), name="x.jpg"),
            thumbnail=ContentFile(jpeg_bytes(160, 120, color), name="t.jpg"),
        )
        made.tags.add(tag)
        return made

    waiting = BatchFactory(project=project, name="Waiting since Monday", priority=2)
    for n in range(3):
        image(100 + n, (90, 90, 140), night, batch=waiting)
    for n in range(24):
        image(n, (20 + n * 3, 30 + n * 2, 70 + n * 4), night)
    for n in range(12):
        image(n, (230 - n * 5, 200, 120 + n * 6), day)
    return {"night": night, "waiting": waiting}


def test_filter_sample_ten_at_priority_1_and_find_the_card_on_top(signed_in: Page, url, shoot, catalog_images):
    page = signed_in
    page.goto(url(CATALOG))
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(39)

    page.get_by_label("Tag", exact=True).select_option("night")
    page.get_by_label("State").select_option("free")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/catalog/?tag=night&state=free")
    expect(page.locator("#match-count")).to_have_text("24 images match")
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(24)
    shoot("catalog-filtered")

    page.get_by_role("button", name="Select all matching").click()
    expect(page.locator("#selection-status")).to_have_text("All 24 matching images selected")

    page.get_by_role("button", name="Add batch…").click()
    dialog = page.get_by_role("dialog", name="Add batch")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#batch-preview")).to_contain_text("Name the batch to create it.")
    dialog.get_by_label("Name").fill("Night sample")
    dialog.get_by_label("Priority").select_option("1")
    dialog.get_by_label("A random sample of them").check()
    dialog.get_by_label("How many").fill("10")
    dialog.get_by_label("Seed").fill("4242")
    create = dialog.get_by_role("button", name="Create “Night sample” with 10 images")
    expect(create).to_be_visible()
    expect(dialog.locator(".preview-counts")).to_contain_text("Selected24")
    shoot("catalog-add-batch")
    create.click()

    page.wait_for_url("**/catalog/?tag=night&state=free")
    expect(page.locator(".msg-success")).to_contain_text(
        "Created “Night sample” with 10 images (priority 1, seed 4242)"
    )
    expect(page.locator("#match-count")).to_have_text("14 images match")

    page.goto(url(BOARD))
    top = page.locator("#column-unassigned .batch-card").first
    expect(top).to_contain_text("Night sample")
    expect(top).to_contain_text("P1")
    expect(top).to_contain_text("10 images")
    expect(page.locator("#column-unassigned .batch-card").nth(1)).to_contain_text("Waiting since Monday")
    shoot("board-after-sample")

    batch = Batch.objects.get(name="Night sample")
    assert batch.priority == 1 and batch.sample_seed == 4242
    assert batch.images.count() == 10
    assert not batch.images.exclude(tags=catalog_images["night"]).exists()


def test_shift_click_selects_a_range_and_tags_it(signed_in: Page, url, shoot, catalog_images):
    page = signed_in
    page.goto(url(CATALOG + "?tag=day"))
    thumbs = page.locator("#catalog-grid li.pickable")
    expect(thumbs).to_have_count(12)
    thumbs.nth(1).locator("img").click()
    thumbs.nth(4).locator("img").click(modifiers=["Shift"])
    expect(page.locator("#selection-status")).to_have_text("4 selected on this page")
    expect(page.locator("#catalog-grid li.selected")).to_have_count(4)
    shoot("catalog-range-selected")
    chosen = [int(thumbs.nth(i).locator("input").get_attribute("value")) for i in range(1, 5)]

    page.get_by_label("Tags to add or remove").fill("review me")
    page.get_by_role("button", name="Add to selection").click()
    expect(page.locator(".msg-success")).to_contain_text("Tagged 4 images with “review me”")
    tagged = set(Image.objects.filter(tags__name="review me").values_list("pk", flat=True))
    assert tagged == set(chosen)


def test_the_archived_list_restores_a_batch(signed_in: Page, url, shoot, catalog_images, manager):

    services.archive(batch=catalog_images["waiting"], actor=manager)
    page = signed_in
    page.goto(url(BOARD + "archived/"))
    row = page.locator("tr", has_text="Waiting since Monday")
    expect(row).to_contain_text("3")
    shoot("archived")
    row.get_by_role("button", name="Restore to Unassigned").click()
    expect(page.locator(".msg-success")).to_contain_text("Restored “Waiting since Monday” to Unassigned")
    assert Batch.objects.get(pk=catalog_images["waiting"].pk).images.count() == 3


def test_two_unassigned_batches_merge_into_one(signed_in: Page, url, shoot, project, catalog_images):
    extra = BatchFactory(project=project, name="Friday returns", priority=4)
    for n in range(2):
        ImageFactory(project=project, batch=extra, original_filename=f"friday_{n}.jpg")
    page = signed_in
    page.goto(url(BOARD + "merge/"))
    page.get_by_label("Merge Waiting since Monday").check()
    page.get_by_label("Merge Friday returns").check()
    page.get_by_label("Name of the merged batch").fill("Monday and Friday")
    shoot("merge")
    page.get_by_role("button", name="Merge selected batches").click()
    expect(page.locator(".msg-success")).to_contain_text(
        "Merged 2 batches into “Monday and Friday”: 5 images, priority 2"
    )
    expect(page.get_by_role("heading", name="Monday and Friday")).to_be_visible()
    assert list(Batch.objects.values_list("name", "priority")) == [("Monday and Friday", 2)]
