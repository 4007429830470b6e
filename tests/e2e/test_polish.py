"""Polish in a real browser: the upload summary leads to the new batch, splits log no htmx errors,
archiving asks first, the catalog's Add-batch dialog fits an 800 px tall window, pre-labels show."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import Page, expect

from boards import services
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, LabelClass
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes, set_images

BOARD = "/w/acme/p/parcels/"


def batch_of(project, n: int, *, annotated: bool = False, **kwargs) -> Batch:
    batch = BatchFactory(project=project, **kwargs)
    state = AnnotationState.ANNOTATED if annotated else AnnotationState.UNANNOTATED
    for _ in range(n):
        ImageFactory(project=project, batch=batch, annotation_state=state)
    return batch


def fresh(batch: Batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def htmx_errors(page: Page) -> list[str]:
    """Every console message htmx logs about an out-of-band swap (or any other htmx error) from now on."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "htmx:" in message.text else None)
    return seen


def batch_page(batch: Batch) -> str:
    return f"{BOARD}batches/{batch.pk}/"


# --- the upload summary --------------------------------------------------------------


def test_the_upload_summary_links_to_the_new_batch(page: Page, url, login, manager, project, shoot):
    from PIL import Image as PILImage

    noise = io.BytesIO()
    PILImage.effect_noise((300, 200), 80).convert("RGB").save(noise, "JPEG")
    cut = noise.getvalue()[: len(noise.getvalue()) // 2]
    login(manager)
    page.goto(url(BOARD + "upload/"))
    page.locator("#id_files").set_input_files(
        [
            {"name": "dock-1.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(color=(10, 120, 30))},
            {"name": "dock-2.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(color=(200, 20, 30))},
            {"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": cut},
        ]
    )
    expect(page.locator("[data-chosen]")).to_have_text("3 files ready to upload.")
    page.get_by_label("Batch name").fill("Dock photos")
    page.get_by_role("button", name="Upload").click()

    summary = page.locator("[data-summary]")
    expect(summary).to_contain_text("2 images landed in")
    expect(page.locator("[data-rows] tr.file-rejected")).to_contain_text(
        "the file ends before the picture does, as when a copy or download stops early"
    )
    expect(page.locator("[data-rows]")).not_to_contain_text("bytes not processed")
    shoot("polish-upload-summary")
    batch = Batch.objects.get(project=project, name="Dock photos")
    summary.get_by_role("link", name="Dock photos").click()
    page.wait_for_url(url(batch_page(batch)))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dock photos")


# --- splits ---------------------------------------------------------------------------


def test_assigning_a_selection_logs_no_htmx_error(page: Page, url, login, manager, labeler, project):
    batch = batch_of(project, 6, name="Gate 4 parcels")
    login(manager)
    errors = htmx_errors(page)
    page.goto(url(BOARD))
    card = page.locator(f"#batch-{batch.pk}")
    card.locator("summary").click()
    card.get_by_role("link", name="Assign…").click()
    dialog = page.locator("dialog#assign-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Labeler").select_option(label=labeler.get_full_name())
    dialog.get_by_role("radio", name=re.compile(r"^The first")).check()
    dialog.get_by_label("How many images").fill("2")
    dialog.get_by_role("button", name="Assign", exact=True).click()

    expect(page.locator("#column-annotating .batch-card", has_text="Gate 4 parcels")).to_contain_text("2 images")
    rest = page.locator("#column-unassigned .batch-card")
    expect(rest).to_have_count(1)
    expect(rest).to_contain_text("4 images")
    expect(page.locator("#toasts .toast").filter(has_text="Gate 4 parcels")).to_be_visible()
    assert [e for e in errors if "oobErrorNoTarget" in e] == []
    assert errors == []


def test_finishing_a_review_with_a_rejection_splits_without_htmx_errors(
    page: Page, url, login, manager, reviewer, labeler, project
):
    batch = batch_of(project, 4, annotated=True, name="Ramp 2")
    services.assign(batch=batch, actor=manager, labeler=labeler)
    services.submit(batch=fresh(batch), actor=labeler)
    images = list(batch.images.order_by("pk"))
    services.record_decision(image=images[0], actor=reviewer, decision="reject", comment="Box too loose")
    for image in images[1:]:
        services.record_decision(image=image, actor=reviewer, decision="approve")
    login(reviewer)
    errors = htmx_errors(page)
    page.goto(url(batch_page(batch) + "review/"))
    page.get_by_role("button", name="Finish review").click()
    page.wait_for_url(url(BOARD))

    expect(page.locator("#column-dataset .batch-card", has_text="Ramp 2")).to_contain_text("3 images")
    expect(page.locator("#column-annotating .batch-card", has_text="Ramp 2")).to_contain_text("1 image")
    # The board's live updates and the next move stay clean too.
    page.goto(url(BOARD))
    expect(page.locator("#column-review .batch-card")).to_have_count(0)
    assert errors == []


# --- archive asks first ------------------------------------------------------------------


def test_archive_asks_for_confirmation(page: Page, url, login, manager, project, shoot):
    batch = batch_of(project, 3, name="Old returns")
    login(manager)
    page.goto(url(batch_page(batch)))
    page.get_by_role("link", name="Archive…").click()
    dialog = page.locator("dialog#archive-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Archive “Old returns”?")
    expect(dialog).to_contain_text("3 images")
    shoot("polish-archive-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert fresh(batch).status == BatchStatus.UNASSIGNED

    page.get_by_role("link", name="Archive…").click()
    page.locator("dialog#archive-dialog").get_by_role("button", name="Archive", exact=True).click()
    page.wait_for_url(url(batch_page(batch)))
    expect(page.locator(".status")).to_have_text("Archived")
    assert fresh(batch).status == BatchStatus.ARCHIVED


# --- the catalog's Add-batch dialog on a short screen ----------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_add_batch_create_button_is_within_a_1280_by_800_window(
    page: Page, url, login, manager, project, shoot, scheme
):
    for n in range(6):
        ImageFactory(
            project=project,
            batch=None,
            original_filename=f"yard_{n}.jpg",
            file=ContentFile(jpeg_bytes(160, 120, (40 * n, 90, 120)), name="x.jpg"),
            thumbnail=ContentFile(jpeg_bytes(160, 120, (40 * n, 90, 120)), name="t.jpg"),
        )
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(color_scheme=scheme)
    login(manager)
    page.goto(url(BOARD + "catalog/"))
    page.get_by_role("button", name="Select all matching").click()
    page.get_by_role("button", name="Add batch…").click()
    dialog = page.get_by_role("dialog", name="Add batch")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("Yard sample")
    dialog.get_by_label("A random sample of them").check()  # the tallest form: sampling options shown
    dialog.get_by_label("How many").fill("4")
    create = dialog.get_by_role("button", name=re.compile(r"^Create “Yard sample”"))
    expect(create).to_be_visible()
    box = create.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800, box
    assert create.evaluate(
        "b => { const r = b.getBoundingClientRect();"
        " return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === b; }"
    )
    page.screenshot(path=f"var/screenshots/polish-add-batch-{scheme}.png")
    create.click()
    expect(page.locator(".msg-success")).to_contain_text("Created “Yard sample”")


# --- pre-labels --------------------------------------------------------------------------


def test_prelabels_show_on_the_card_the_batch_page_and_in_the_editor(page: Page, url, login, manager, labeler, project):
    car = LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)
    batch = batch_of(project, 3, name="Kept boxes")
    services.assign(batch=batch, actor=manager, labeler=labeler)
    Annotation.objects.bulk_create(
        Annotation(image=image, label=car, x=10, y=10, width=30, height=20) for image in batch.images.all()
    )
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    services.move_to_unassigned(batch=fresh(batch), actor=manager, keep_annotations=True)

    login(manager)
    page.goto(url(BOARD))
    expect(page.locator(f"#batch-{batch.pk} .prelabeled")).to_have_text("3 pre-labeled")
    page.screenshot(path="var/screenshots/polish-prelabels-board.png", full_page=True)
    page.goto(url(batch_page(batch)))
    expect(page.locator(".history")).to_contain_text(
        "Moved to Unassigned from Annotating; boxes kept as pre-labels on 3 images"
    )
    expect(page.locator(".stat-counts")).to_contain_text("Pre-labeled")
    page.screenshot(path="var/screenshots/polish-prelabels-batch.png", full_page=True)

    services.assign(batch=fresh(batch), actor=manager, labeler=labeler)
    page.context.clear_cookies()
    login(labeler)
    first = batch.images.order_by("pk").first()
    page.goto(url(f"{batch_page(batch)}annotate/{first.pk}/"))
    expect(page.locator("#overlay rect").first).to_be_visible()
    expect(page.locator("#box-count")).to_have_text("1")
    page.get_by_role("button", name="Confirm these boxes").click()
    expect(page.locator("#save-status")).to_have_text(re.compile("Saved"))
    page.screenshot(path="var/screenshots/polish-prelabels-editor.png", full_page=True)
    first.refresh_from_db()
    assert first.annotation_state == AnnotationState.ANNOTATED
    assert fresh(batch).n_prelabeled == 2
