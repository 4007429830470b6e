"""The review round-trip as the labeler sees it: images sent back, reworked, resubmitted, waiting in My work."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from boards import services
from boards.formats.box import Box
from boards.models import Batch, BatchStatus, Image, ReviewState
from tests.e2e.test_editor import classes, drag, photo, saved_after  # noqa: F401 - fixtures and helpers
from tests.factories import BatchFactory

BOARD = "/w/acme/p/parcels/"


@pytest.fixture
def sent_back(project, manager, labeler, reviewer, classes):  # noqa: F811 - the fixture imported above
    """Three street photos labeled and submitted; the reviewer approved one and rejected two, with comments."""
    batch = BatchFactory(project=project, name="Main street, evening", priority=2)
    images = [photo(project, batch, n, f"evening-00{n + 1}.jpg") for n in range(3)]
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    for image in images:
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 90, 215, 210, 140)])
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    result = services.review(
        batch=Batch.objects.get(pk=batch.pk),
        actor=reviewer,
        approved=[images[0].pk],
        rejected=[images[1].pk, images[2].pk],
        comments={images[1].pk: "The person is not boxed", images[2].pk: "Is the car box tight enough?"},
    )
    return result.rejected, images[1], images[2]


def test_a_labeler_reworks_sent_back_images_and_sees_the_batch_wait_for_review(
    page: Page, url, login, labeler, sent_back, shoot
):
    back, fix_me, check_me = sent_back
    login(labeler)
    page.goto(url("/my-work/"))
    labeling = page.locator("section", has=page.get_by_role("heading", name="To label"))
    expect(labeling).to_contain_text(back.name)
    expect(labeling).to_contain_text("2 sent back to rework")
    labeling.get_by_role("link", name=f"Annotate “{back.name}”").click()

    # The editor opens on the first image awaiting rework, marks both, and says why Submit waits.
    expect(page).to_have_url(url(f"{BOARD}batches/{back.pk}/annotate/{fix_me.pk}/"))
    rework = page.locator("#rework")
    expect(rework.get_by_role("heading")).to_contain_text("Awaiting rework 2")
    expect(rework).to_contain_text("evening-002.jpg")
    expect(rework).to_contain_text("The person is not boxed")
    expect(rework).to_contain_text("evening-003.jpg")
    expect(page.locator(".editor-strip .rework-badge")).to_have_count(2)
    expect(page.get_by_role("link", name="Image 2: awaits rework")).to_be_visible()
    expect(page.locator("#submit-form")).to_be_hidden()
    waits = page.locator("#submit-waits")
    expect(waits).to_be_visible()
    expect(waits).to_contain_text("2 images sent back by the review still await rework")
    expect(page.get_by_role("button", name="Checked, no change needed")).to_be_visible()
    shoot("editor-rework")
    page.emulate_media(color_scheme="dark")
    shoot("editor-rework-dark")
    page.emulate_media(color_scheme="light")

    # Fixing the first: a box around the person. The image no longer awaits rework.
    page.get_by_role("button", name="person 2", exact=True).click()
    answer = saved_after(page, lambda: drag(page, (425, 185), (470, 352)))
    assert answer["review_state"] == "pending" and answer["progress"]["rework"] == 1
    expect(page.locator("#sent-back-title")).to_have_text("Sent back in review, fixed since")
    expect(page.get_by_role("button", name="Checked, no change needed")).to_have_count(0)
    expect(waits).to_contain_text("1 image sent back by the review still awaits rework")
    expect(page.locator("#submit-form")).to_be_hidden()
    assert Image.objects.get(pk=fix_me.pk).review_state == ReviewState.PENDING

    # The second needs no change: the labeler says so.
    page.locator("#rework").get_by_role("link", name="evening-003.jpg").click()
    expect(page).to_have_url(url(f"{BOARD}batches/{back.pk}/annotate/{check_me.pk}/"))
    expect(page.locator(".sent-back")).to_contain_text("Is the car box tight enough?")
    page.get_by_role("button", name="Checked, no change needed").click()
    expect(page.get_by_text("“evening-003.jpg” is checked: no change needed.")).to_be_visible()
    assert Image.objects.get(pk=check_me.pk).review_state == ReviewState.PENDING
    expect(page.locator("#rework")).to_have_count(0)
    expect(page.locator("#submit-waits")).to_be_hidden()

    page.get_by_role("button", name="Submit batch for review").click()
    page.wait_for_url(url(BOARD))
    assert Batch.objects.get(pk=back.pk).status == BatchStatus.REVIEW

    # My work says the batch waits for review.
    page.goto(url("/my-work/"))
    submitted = page.locator("section", has=page.get_by_role("heading", name="Submitted"))
    row = submitted.get_by_role("row", name=back.name)
    expect(row).to_contain_text("Waiting for review")
    expect(row).to_contain_text("0 / 2")
    shoot("my-work-submitted")
    page.emulate_media(color_scheme="dark")
    shoot("my-work-submitted-dark")
