"""The review screen in a real browser: zoom, class names, marks on a box and a region, and the labeler's view."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from boards import services
from boards.formats.box import Box
from boards.models import Batch, Image, LabelClass, ReviewMark
from tests.e2e.test_editor import photo
from tests.factories import BatchFactory

BOARD = "/w/acme/p/parcels/"


@pytest.fixture
def in_review(project, manager, labeler, reviewer):
    LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)
    LabelClass.objects.create(project=project, name="person", color="#facc15", hotkey=2)
    batch = BatchFactory(project=project, name="Main street, evening")
    first = photo(project, batch, 0, "street-101.jpg")
    second = photo(project, batch, 1, "street-102.jpg")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    for seed, image in enumerate((first, second)):
        x = 90 + 40 * seed
        boxes = [Box("car", x, 212, 212, 146), Box("person", 424 + 20 * seed, 188, 40, 164)]
        services.save_annotations(image=image, actor=labeler, boxes=boxes)
    batch = services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    return batch, first, second


def screen_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where pixel (x, y) of the image is on the screen now (through the zoom)."""
    return tuple(
        page.evaluate(
            """([x, y]) => {
              const svg = document.getElementById("review-svg");
              const p = svg.createSVGPoint(); p.x = x; p.y = y;
              const s = p.matrixTransform(svg.getScreenCTM());
              return [s.x, s.y];
            }""",
            [x, y],
        )
    )


def assert_boxes_on_the_image(page: Page, image: Image, box) -> None:
    """The box's outline sits on the image where its pixels are, whatever the zoom."""
    shown = page.locator("#review-frame img").bounding_box()
    # object-fit: contain: the picture is centred in the img element at one scale.
    scale = min(shown["width"] / image.width, shown["height"] / image.height)
    left = shown["x"] + (shown["width"] - image.width * scale) / 2
    top = shown["y"] + (shown["height"] - image.height * scale) / 2
    # The outline's box includes its stroke (3 screen pixels at every zoom): compare centres and sizes.
    outline = page.locator(f'[data-box="{box.pk}"]').bounding_box()
    assert outline["x"] + outline["width"] / 2 == pytest.approx(left + (box.x + box.width / 2) * scale, abs=1)
    assert outline["y"] + outline["height"] / 2 == pytest.approx(top + (box.y + box.height / 2) * scale, abs=1)
    assert outline["width"] == pytest.approx(box.width * scale + 3, abs=1.5)


def test_a_reviewer_zooms_marks_a_box_and_a_region_and_the_labeler_sees_both(
    page: Page, url, login, reviewer, labeler, in_review, shoot
):
    batch, first, second = in_review
    car = first.annotations.get(label__name="car")
    login(reviewer)
    page.goto(url(f"{BOARD}batches/{batch.pk}/review/"))
    expect(page.locator("#review-svg .tag text")).to_have_text(["car", "person"])
    expect(page.locator(".box-groups summary")).to_have_count(2)
    expect(page.locator("#review-zoom")).to_have_text("100%")
    assert_boxes_on_the_image(page, first, car)

    # Zoom: the + key, the button and the wheel; the boxes stay on the image.
    page.locator("#review-viewport").focus()
    page.keyboard.press("+")
    expect(page.locator("#review-zoom")).to_have_text("125%")
    page.get_by_role("button", name="Zoom in").click()
    expect(page.locator("#review-zoom")).to_have_text("156%")
    page.mouse.move(*screen_point(page, 300, 280))
    page.mouse.wheel(0, -300)
    expect(page.locator("#review-zoom")).not_to_have_text("156%")
    assert_boxes_on_the_image(page, first, car)
    # The class names keep their size on screen.
    height = page.locator(f'#review-svg .tag[data-tag-for="{car.pk}"] rect').bounding_box()["height"]
    assert 14 <= height <= 22
    shoot("review-zoomed")
    page.get_by_role("button", name="Fit").click()
    expect(page.locator("#review-zoom")).to_have_text("100%")
    assert_boxes_on_the_image(page, first, car)

    # Hide the class names; the choice is remembered.
    labels_button = page.get_by_role("button", name="Class names")
    labels_button.click()
    expect(labels_button).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#review-svg .tags")).to_be_hidden()
    page.reload()
    expect(page.locator("#review-svg .tags")).to_be_hidden()
    page.keyboard.press("l")
    expect(page.locator("#review-svg .tags")).to_be_visible()

    # Click the car and pin a comment to it.
    page.mouse.click(*screen_point(page, car.x + car.width / 2, car.y + car.height / 2))
    expect(page.locator("#mark-target")).to_contain_text("box")
    page.locator("#mark-comment").fill("This is a van, not a car")
    page.get_by_role("button", name="Add mark").click()
    expect(page.locator(".mark-list li")).to_have_count(1)
    expect(page.locator("#review-svg .mark")).to_have_count(1)

    # Drag a region over the sky and comment on it.
    page.mouse.move(*screen_point(page, 20, 20))
    page.mouse.down()
    page.mouse.move(*screen_point(page, 120, 90), steps=6)
    page.mouse.up()
    expect(page.locator("#mark-target")).to_contain_text("region")
    page.locator("#mark-comment").fill("A bird is missing here")
    page.get_by_role("button", name="Add mark").click()
    expect(page.locator(".mark-list li")).to_have_count(2)
    marks = list(ReviewMark.objects.filter(image=first).order_by("pk"))
    assert [m.annotation_id for m in marks] == [car.pk, None]
    assert (marks[1].x, marks[1].y, marks[1].width, marks[1].height) == pytest.approx((20, 20, 100, 70), abs=2)
    expect(page.locator(".toast")).to_have_count(0, timeout=6_000)
    shoot("review-marks")
    page.emulate_media(color_scheme="dark")
    shoot("review-marks-dark")
    page.emulate_media(color_scheme="light")

    # Reject the first image, approve the second, finish.
    page.locator("#comment").fill("See the two marks")
    page.get_by_role("button", name="Reject R", exact=True).click()
    expect(page.locator("figcaption")).to_contain_text("street-102.jpg")
    page.get_by_role("button", name="Approve A", exact=True).click()
    page.get_by_role("button", name="Finish review").click()
    page.wait_for_url(url(BOARD))

    rejected = Image.objects.get(pk=first.pk).batch
    page.context.clear_cookies()
    login(labeler)
    page.goto(url(f"{BOARD}batches/{rejected.pk}/annotate/{first.pk}/"))
    expect(page.locator(".marks-layer .mark")).to_have_count(2)
    side = page.locator(".editor-marks")
    expect(side).to_contain_text("car box: “This is a van, not a car”")
    expect(side).to_contain_text("A bird is missing here")
    shoot("editor-review-marks")
    page.emulate_media(color_scheme="dark")
    shoot("editor-review-marks-dark")
    page.emulate_media(color_scheme="light")

    # The labeler fixes the image and submits again: the second review starts with an empty comment box,
    # the first review's comment and marks shown as history.
    services.save_annotations(
        image=Image.objects.get(pk=first.pk), actor=labeler, boxes=[Box("car", 90, 212, 212, 146)]
    )
    services.submit(batch=Batch.objects.get(pk=rejected.pk), actor=labeler)
    page.context.clear_cookies()
    login(reviewer)
    page.goto(url(f"{BOARD}batches/{rejected.pk}/review/"))
    expect(page.locator("#comment")).to_have_value("")
    history = page.locator(".review-history")
    expect(history).to_contain_text("“See the two marks”")
    expect(history).to_contain_text("reviewer@acme.test")
    expect(history).to_contain_text("“A bird is missing here”")
    expect(page.locator("#review-svg .mark.older")).to_have_count(2)
    shoot("review-second-round")


def test_a_phone_sized_review_screen_does_not_scroll_sideways(page: Page, url, login, reviewer, in_review, shoot):
    batch, _first, _second = in_review
    page.set_viewport_size({"width": 390, "height": 844})
    login(reviewer)
    page.goto(url(f"{BOARD}batches/{batch.pk}/review/"))
    expect(page.locator("#review-svg .tag")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    shoot("review-phone")
