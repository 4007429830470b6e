"""The annotation editor and the project settings, driven through a real browser."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageDraw
from playwright.sync_api import Page, expect

from boards import services
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, Image, LabelClass
from tests.factories import BatchFactory, ImageFactory

BOARD = "/w/acme/p/parcels/"
SETTINGS = "/w/acme/p/parcels/settings/"


def scene(seed: int, size=(640, 480)) -> bytes:
    """A street-ish picture: sky, road, a car and a person, so screenshots look like the real thing."""
    width, height = size
    picture = PILImage.new("RGB", size, (135, 176, 214))
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, height * 0.6, width, height], fill=(90, 94, 102))
    draw.rectangle([0, height * 0.58, width, height * 0.62], fill=(160, 160, 150))
    x = 90 + 40 * seed
    draw.rounded_rectangle([x, 250, x + 210, 330], radius=18, fill=(196, 48, 43))
    draw.rectangle([x + 40, 215, x + 160, 255], fill=(170, 40, 38))
    for wheel in (x + 45, x + 165):
        draw.ellipse([wheel - 22, 312, wheel + 22, 356], fill=(25, 25, 25))
    px = 430 + 20 * seed
    draw.ellipse([px, 190, px + 30, 220], fill=(235, 196, 160))
    draw.rectangle([px - 4, 220, px + 34, 300], fill=(40, 90, 160))
    draw.rectangle([px, 300, px + 12, 350], fill=(30, 30, 40))
    draw.rectangle([px + 18, 300, px + 30, 350], fill=(30, 30, 40))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def photo(project, batch, seed: int, name: str) -> Image:
    data = scene(seed)
    return ImageFactory(
        project=project,
        batch=batch,
        width=640,
        height=480,
        original_filename=name,
        file=ContentFile(data, name=name),
        thumbnail=ContentFile(data, name="t.jpg"),
    )


@pytest.fixture
def classes(project):
    return {
        "car": LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1),
        "person": LabelClass.objects.create(project=project, name="person", color="#16a34a", hotkey=2),
        "sign": LabelClass.objects.create(project=project, name="sign", color="#ca8a04", hotkey=3),
    }


@pytest.fixture
def assigned(project, manager, labeler, reviewer, classes):
    batch = BatchFactory(project=project, name="Main street, morning", priority=2)
    first = photo(project, batch, 0, "street-001.jpg")
    second = photo(project, batch, 1, "street-002.jpg")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    return Batch.objects.get(pk=batch.pk), first, second


def editor_ready(page: Page) -> None:
    """Wait for editor.js: a click's or a key's navigation is over before the deferred script has run,
    and a key pressed or a box drawn before its listeners are in place does nothing."""
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")


def saved_after(page: Page, action) -> dict:
    """Run ``action`` and wait for the editor's save it triggers; returns the JSON answer."""
    with page.expect_response(lambda r: r.url.endswith("/save") and r.request.method == "POST") as info:
        action()
    response = info.value
    assert response.status == 200, response.text()
    return response.json()


def image_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where pixel (x, y) of the 640×480 image is on the screen now."""
    stage = page.locator("#stage").bounding_box()
    scale = stage["width"] / 640
    return stage["x"] + x * scale, stage["y"] + y * scale


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*image_point(page, *start))
    page.mouse.down()
    page.mouse.move(*image_point(page, *end), steps=8)
    page.mouse.up()


def test_a_labeler_draws_relabels_marks_empty_and_submits(page: Page, url, login, labeler, reviewer, assigned, shoot):
    batch, first, second = assigned
    login(labeler)
    page.goto(url("/my-work/"))
    page.get_by_role("button", name="Start labeling").click()
    expect(page).to_have_url(url(f"{BOARD}batches/{batch.pk}/annotate/{first.pk}/"))
    expect(page.get_by_role("heading", name="street-001.jpg")).to_be_visible()
    editor_ready(page)
    expect(page.get_by_role("button", name="car 1", exact=True)).to_have_attribute("aria-pressed", "true")

    # Draw a box around the car with the mouse: it gets the chosen class, car.
    answer = saved_after(page, lambda: drag(page, (80, 205), (310, 360)))
    assert answer["version"] == 1 and answer["state"] == "annotated"
    expect(page.locator("#box-count")).to_have_text("1")
    expect(page.locator("#save-status")).to_have_text("Saved")
    box = Annotation.objects.get(image=first)
    assert box.label.name == "car"
    assert (box.x, box.y, box.width, box.height) == pytest.approx((80, 205, 230, 155), abs=1)

    # Hotkey 2 gives the selected box the class "person".
    saved_after(page, lambda: page.keyboard.press("2"))
    expect(page.get_by_role("button", name="person 2", exact=True)).to_have_attribute("aria-pressed", "true")
    assert Annotation.objects.get(image=first).label.name == "person"
    # Undo brings "car" back, redo "person" again: each one saved.
    saved_after(page, lambda: page.keyboard.press("Control+z"))
    assert Annotation.objects.get(image=first).label.name == "car"
    saved_after(page, lambda: page.keyboard.press("Control+Shift+z"))
    assert Annotation.objects.get(image=first).label.name == "person"
    shoot("editor")

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keys")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Mark the image empty")
    shoot("editor-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # The submit button waits until every image is done.
    expect(page.get_by_role("button", name="Submit batch for review")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(url(f"{BOARD}batches/{batch.pk}/annotate/{second.pk}/"))
    editor_ready(page)
    answer = saved_after(page, lambda: page.keyboard.press("n"))
    assert answer["state"] == "empty" and answer["all_done"] is True
    assert Image.objects.get(pk=second.pk).annotation_state == AnnotationState.EMPTY
    expect(page.get_by_role("button", name="Marked empty N")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Submit batch for review").click()
    expect(page).to_have_url(url(BOARD))
    expect(page.get_by_role("status").first).to_contain_text("Moved “Main street, morning” to Review.")
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW

    # The reviewer sees the card in Review, and the box over the image.
    page.context.clear_cookies()
    login(reviewer)
    page.goto(url(BOARD))
    expect(page.locator("#column-review")).to_contain_text("Main street, morning")
    expect(page.locator("#column-annotating")).not_to_contain_text("Main street, morning")


def test_the_editor_zooms_pans_moves_resizes_and_deletes(page: Page, url, login, labeler, assigned, classes):
    batch, first, _second = assigned
    services.save_annotations(
        image=first, actor=labeler, boxes=[services.Box("car", 100, 200, 200, 150)], expected_version=0
    )
    login(labeler)
    page.goto(url(f"{BOARD}batches/{batch.pk}/annotate/{first.pk}/"))
    expect(page.locator("#box-count")).to_have_text("1")

    # Move the box by dragging its middle, then resize it by its bottom-right handle.
    saved_after(page, lambda: drag(page, (200, 275), (230, 285)))
    box = Annotation.objects.get(image=first)
    assert (box.x, box.y, box.width, box.height) == pytest.approx((130, 210, 200, 150), abs=1)
    saved_after(page, lambda: drag(page, (330, 360), (350, 400)))
    box = Annotation.objects.get(image=first)
    assert (box.x, box.y, box.width, box.height) == pytest.approx((130, 210, 220, 190), abs=1)

    # Zooming keeps the box where it is on the image.
    before = page.locator("#stage").bounding_box()["width"]
    page.keyboard.press("+")
    assert page.locator("#stage").bounding_box()["width"] > before * 1.2
    expect(page.locator("#zoom-level")).not_to_have_text("100%")
    page.mouse.move(*image_point(page, 320, 240))
    page.mouse.wheel(0, -300)
    assert page.locator("#stage").bounding_box()["width"] > before * 1.5
    # Space + drag pans the image without touching the box.
    start = page.locator("#stage").bounding_box()
    page.keyboard.down(" ")
    page.mouse.move(*image_point(page, 320, 240))
    page.mouse.down()
    page.mouse.move(start["x"] + 100, start["y"] + 60, steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = page.locator("#stage").bounding_box()
    assert moved["x"] != start["x"]
    page.keyboard.press("0")

    # Delete removes the selected box; the image is unannotated again.
    page.locator(".box-select").click()
    answer = saved_after(page, lambda: page.keyboard.press("Delete"))
    assert answer["state"] == "unannotated"
    assert not Annotation.objects.filter(image=first).exists()


def test_a_second_tab_is_told_another_saved_first(page: Page, url, login, labeler, assigned):
    batch, first, _second = assigned
    login(labeler)
    page.goto(url(f"{BOARD}batches/{batch.pk}/annotate/{first.pk}/"))
    expect(page.locator("#save-status")).to_have_text("Saved")
    # Another tab saves first.
    services.save_annotations(image=first, actor=labeler, boxes=[], empty=True, expected_version=0)
    with page.expect_response(lambda r: r.url.endswith("/save")) as info:
        drag(page, (50, 50), (150, 150))
    assert info.value.status == 409
    alert = page.locator("#editor-alert")
    expect(alert).to_contain_text("Another tab or person saved this image first")
    expect(alert.get_by_role("button", name="Reload the image")).to_be_visible()
    alert.get_by_role("button", name="Reload the image").click()
    expect(page.get_by_role("button", name="Marked empty N")).to_be_visible()


def test_a_rejected_image_shows_the_reviewers_comment(page: Page, url, login, labeler, reviewer, assigned, shoot):
    batch, first, second = assigned
    services.save_annotations(image=first, actor=labeler, boxes=[services.Box("car", 90, 210, 220, 150)])
    services.save_annotations(image=second, actor=labeler, boxes=[], empty=True)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    services.record_decision(image=first, actor=reviewer, decision="reject", comment="The box misses the wheels.")
    services.record_decision(image=second, actor=reviewer, decision="approve")
    back = services.review(batch=Batch.objects.get(pk=batch.pk), actor=reviewer).rejected
    login(labeler)
    page.goto(url(BOARD))
    page.get_by_role("button", name="Start labeling").click()
    expect(page).to_have_url(url(f"{BOARD}batches/{back.pk}/annotate/{first.pk}/"))
    expect(page.get_by_role("heading", name="Rejected in review")).to_be_visible()
    expect(page.locator(".sent-back")).to_contain_text("The box misses the wheels.")
    expect(page.locator("#box-count")).to_have_text("1")
    shoot("editor-rejected")


def test_a_manager_manages_label_classes(page: Page, url, login, manager, project, classes, assigned, shoot):
    _batch, first, _second = assigned
    services.save_annotations(image=first, actor=manager, boxes=[services.Box("sign", 10, 10, 20, 20)])
    login(manager)
    page.goto(url(BOARD))
    expect(page.get_by_role("button", name="Start labeling")).to_be_visible()
    shoot("board-header")
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(url(SETTINGS))
    shoot("settings")

    page.get_by_label("Name", exact=True).fill("bicycle")
    page.get_by_label("Hotkey", exact=True).select_option("2")
    page.get_by_role("button", name="Add class").click()
    expect(page.get_by_role("alert")).to_have_text("Hotkey 2 already belongs to “person”; clear it there first.")
    shoot("settings-error")
    page.get_by_label("Hotkey", exact=True).select_option("4")
    page.get_by_role("button", name="Add class").click()
    expect(page.get_by_role("status").first).to_contain_text("Added the class “bicycle”.")

    row = page.locator(f"#class-{classes['sign'].pk}")
    row.get_by_label("Name of sign").fill("traffic sign")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("Renamed “sign” to “traffic sign”")
    assert Annotation.objects.get(image=first).label.name == "traffic sign"

    row = page.locator(f"#class-{classes['sign'].pk}")
    row.get_by_text("Delete…").click()
    expect(row).to_contain_text("Its 1 box on 1 image goes with it, for good.")
    row.get_by_role("button", name="Delete “traffic sign” and 1 box").click()
    expect(page.get_by_role("status").first).to_contain_text("Deleted the class “traffic sign” and its 1 box")
    assert not Annotation.objects.filter(image=first).exists()


def test_the_batch_page_shows_review_counts(page: Page, url, login, manager, labeler, reviewer, assigned, shoot):
    batch, first, second = assigned
    services.save_annotations(image=first, actor=labeler, boxes=[services.Box("car", 90, 210, 220, 150)])
    services.save_annotations(image=second, actor=manager, boxes=[], empty=True)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    services.record_decision(image=first, actor=reviewer, decision="reject", comment="Wheels.")
    services.record_decision(image=second, actor=reviewer, decision="approve")
    back = services.review(batch=Batch.objects.get(pk=batch.pk), actor=reviewer).rejected
    login(manager)
    page.goto(url(f"{BOARD}batches/{batch.pk}/"))
    counts = page.locator(".stats")
    expect(counts.get_by_role("heading", name="Annotation and review")).to_be_visible()
    expect(counts.locator(".stat-counts")).to_contain_text("First-pass acceptance")
    expect(counts.locator("tbody tr")).to_have_count(1)
    expect(counts.locator("tbody tr").first).to_contain_text(manager.email)
    shoot("batch-counts")
    page.goto(url(f"{BOARD}batches/{back.pk}/"))
    row = page.locator(".stats tbody tr", has_text=labeler.email)
    expect(row).to_contain_text("0%")
    expect(page.get_by_role("link", name="Open the editor")).to_be_visible()
    shoot("batch-counts-rejected")


def test_the_editor_shows_an_original_kept_in_the_object_store(
    page: Page, url, login, labeler, manager, reviewer, project, classes, s3_endpoint, s3_media, settings, shoot
):
    from config.settings import content_security_policy, s3_storage

    settings.CONTENT_SECURITY_POLICY = content_security_policy(s3_storage(s3_media, s3_endpoint, "us-east-1")[1])
    upload = services.upload_images(
        project=project, actor=manager, files=[ContentFile(scene(2), name="harbour-001.jpg")]
    )
    services.assign(batch=upload.batch, actor=manager, labeler=labeler, reviewer=reviewer)
    image = Image.objects.get(placement__batch=upload.batch)

    login(labeler)
    with page.expect_response(lambda r: r.url.startswith(s3_endpoint)) as from_store:
        page.goto(url(reverse("annotate", args=["acme", "parcels", upload.batch.pk, image.pk])))
    assert from_store.value.status == 200
    shown = page.locator("#stage img")
    expect(shown).to_be_visible()
    page.wait_for_function("document.querySelector('#stage img').naturalWidth === 640")
    shoot("editor-original-from-object-store")
