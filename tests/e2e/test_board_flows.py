"""What a person sees and does in Batchboard, driven through a real browser."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from boards import services
from boards.models import AnnotationState, Batch, BatchStatus
from tests.factories import BatchFactory, ImageFactory

BOARD = "/w/acme/p/parcels/"
UPLOAD = "/w/acme/p/parcels/upload/"


def batch_url(batch: Batch) -> str:
    return f"{BOARD}batches/{batch.pk}/"


def jpeg(color, size=(80, 60)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def make_batch(project, n, *, annotated=False, **kwargs) -> Batch:
    batch = BatchFactory(project=project, **kwargs)
    state = AnnotationState.ANNOTATED if annotated else AnnotationState.UNANNOTATED
    for _ in range(n):
        ImageFactory(project=project, batch=batch, annotation_state=state)
    return batch


def fresh(batch: Batch) -> Batch:
    """The batch as stored now (services work on their own locked copy)."""
    return Batch.objects.get(pk=batch.pk)


@pytest.fixture
def populated_board(project, manager, reviewer, labeler):
    """Batches spread over every column, moved there by the services a person would use."""
    new = make_batch(project, 4, name="North depot, week 12", priority=1)
    started = make_batch(project, 3, name="South depot, week 12")
    services.assign(batch=started, actor=manager, labeler=labeler, reviewer=reviewer)
    waiting = make_batch(project, 2, name="Returns desk", annotated=True)
    services.assign(batch=waiting, actor=manager, labeler=labeler, reviewer=reviewer)
    services.submit(batch=fresh(waiting), actor=labeler)
    done = make_batch(project, 5, name="Warehouse A, shelves 1-40", annotated=True)
    services.assign(batch=done, actor=manager, labeler=labeler)
    services.submit(batch=fresh(done), actor=labeler)
    services.approve(batch=fresh(done), actor=reviewer)
    board = {"unassigned": new, "annotating": started, "review": waiting, "dataset": done}
    board = {status: fresh(batch) for status, batch in board.items()}
    assert {status: batch.status for status, batch in board.items()} == {s: s for s in board}
    return board


def column(page: Page, status: str):
    return page.locator(f"#column-{status}")


# --- logging in ------------------------------------------------------------------


def test_it_logs_in_and_lists_projects(page: Page, url, login, manager, populated_board, shoot):
    page.goto(url("/"))
    expect(page).to_have_url(url("/accounts/login/?next=/"))
    expect(page.get_by_role("heading", name="Log in to Batchboard")).to_be_visible()
    shoot("login")

    login(manager)

    expect(page).to_have_title("Your projects · Batchboard")
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    card = page.locator(".project-card", has_text="Parcels")
    expect(card.get_by_role("link", name="Parcels")).to_have_attribute("href", BOARD)
    expect(card).to_contain_text("Review mode on")
    counts = {
        term: card.locator(".counts div", has=page.locator("dt", has_text=term)).locator("dd")
        for term in ("Unassigned", "Annotating", "Review", "Dataset")
    }
    for term in counts:
        expect(counts[term]).to_have_text("1")
    expect(page.locator(".topnav .who")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shoot("home")


def test_it_rejects_a_wrong_password(page: Page, url, manager):
    page.goto(url("/accounts/login/"))
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("Your email and password didn’t match. Try again.")
    expect(page).to_have_url(url("/accounts/login/"))
    expect(page.get_by_label("Email")).to_have_value(manager.email)
    expect(page.get_by_label("Password")).to_have_value("")
    page.goto(url("/"))
    expect(page).to_have_url(url("/accounts/login/?next=/"))


# --- uploading -------------------------------------------------------------------


def test_it_uploads_images_in_the_browser(page: Page, url, login, manager, project, shoot):
    login(manager)
    page.goto(url(BOARD))
    page.get_by_role("link", name="Upload images").click()
    expect(page).to_have_url(url(UPLOAD))

    page.locator("#id_files").set_input_files(
        [
            {"name": "red.jpg", "mimeType": "image/jpeg", "buffer": jpeg((200, 40, 40))},
            {"name": "green.jpg", "mimeType": "image/jpeg", "buffer": jpeg((40, 180, 60))},
            {"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": jpeg((40, 60, 200))},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image, just some notes\n"},
        ]
    )
    page.get_by_label("Batch name").fill("Morning scans")
    page.get_by_role("button", name="Upload", exact=True).click()

    result = page.locator("section", has=page.locator("#result-title"))
    expect(result.get_by_role("heading", level=2)).to_have_text("3 images landed in Morning scans")
    expect(result).to_contain_text("0 duplicates skipped, 1 rejected.")
    rows = result.locator("table.results tbody tr")
    expect(rows).to_have_count(4)
    for name in ("red.jpg", "green.jpg", "blue.jpg"):
        row = rows.filter(has=page.get_by_role("cell", name=name, exact=True))
        expect(row.locator("td").nth(1)).to_have_text("landed")
    rejected = rows.filter(has=page.get_by_role("cell", name="notes.txt", exact=True))
    expect(rejected.locator("td").nth(1)).to_have_text("rejected")
    expect(rejected.locator("td").nth(2)).not_to_be_empty()
    shoot("upload-results")

    page.get_by_role("link", name="Parcels").click()
    expect(page).to_have_url(url(BOARD))
    card = column(page, "unassigned").locator(".batch-card", has_text="Morning scans")
    expect(card).to_be_visible()
    expect(card).to_contain_text("3 images")
    expect(page.locator("#count-unassigned")).to_have_text("1")


# --- moving batches ----------------------------------------------------------------


def test_it_assigns_a_batch_from_the_batch_page(page: Page, url, login, manager, labeler, project, shoot):
    batch = make_batch(project, 6, name="Night shift parcels")
    login(manager)
    page.goto(url(BOARD))
    column(page, "unassigned").get_by_role("link", name="Night shift parcels").click()
    expect(page).to_have_url(url(batch_url(batch)))
    expect(page.get_by_role("heading", name="Night shift parcels", level=1)).to_be_visible()
    expect(page.locator(".board-head .status")).to_have_text("Unassigned")
    expect(page.locator(".image-grid img")).to_have_count(6)
    shoot("batch")

    page.get_by_role("link", name="Assign…").click()
    dialog = page.locator("#assign-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Labeler").select_option(value=str(labeler.pk))
    dialog.get_by_role("button", name="Assign", exact=True).click()

    expect(page.locator(".messages")).to_contain_text(f"Assigned “Night shift parcels” to {labeler.get_full_name()}.")
    expect(page.locator(".board-head .status")).to_have_text("Annotating")
    page.get_by_role("link", name="Parcels").click()
    card = column(page, "annotating").locator(".batch-card", has_text="Night shift parcels")
    expect(card).to_be_visible()
    expect(card.locator(".avatar").first).to_have_attribute("title", f"Labeler: {labeler.email}")
    expect(column(page, "unassigned").locator(".batch-card")).to_have_count(0)
    assert fresh(batch).status == BatchStatus.ANNOTATING


# --- who sees what -----------------------------------------------------------------


def test_it_hides_the_review_column_from_labelers(page: Page, url, login, labeler, reviewer, populated_board):
    login(labeler)
    page.goto(url(BOARD))
    headings = page.locator(".column h2")
    expect(headings).to_have_count(3)
    for label in ("Unassigned", "Annotating", "Dataset"):
        expect(page.get_by_role("heading", name=label)).to_be_visible()
    expect(page.get_by_role("heading", name="Review")).to_have_count(0)
    expect(page.get_by_text("Returns desk")).to_have_count(0)
    expect(page.get_by_role("link", name="Upload images")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(url("/accounts/login/"))
    login(reviewer)
    page.goto(url(BOARD))
    expect(headings).to_have_count(4)
    review = column(page, "review")
    expect(review.get_by_role("heading", name="Review")).to_be_visible()
    expect(review.get_by_role("link", name="Returns desk")).to_be_visible()


def test_it_shows_a_viewer_no_action_buttons(page: Page, url, login, viewer, populated_board):
    login(viewer)
    for status in ("unassigned", "annotating"):
        page.goto(url(batch_url(populated_board[status])))
        expect(page.get_by_role("heading", name="History")).to_be_visible()
        expect(page.get_by_role("heading", name="Actions")).to_have_count(0)
        expect(page.locator("main button")).to_have_count(0)
        expect(page.locator("main form")).to_have_count(0)


def test_it_offers_delete_only_in_unassigned(page: Page, url, login, manager, populated_board):
    login(manager)
    page.goto(url(batch_url(populated_board["annotating"])))
    expect(page.get_by_role("heading", name="Actions")).to_be_visible()
    expect(page.get_by_role("link", name="Move to Unassigned…")).to_be_visible()
    expect(page.get_by_role("link", name="Delete", exact=False)).to_have_count(0)

    doomed = populated_board["unassigned"]
    page.goto(url(batch_url(doomed)))
    page.get_by_role("link", name="Delete batch and its 4 images…").click()
    dialog = page.locator("#delete-dialog")
    expect(dialog).to_contain_text("This is permanent")
    expect(dialog).to_contain_text("4 images")
    dialog.get_by_role("button", name="Delete 4 images").click()
    expect(page).to_have_url(url(BOARD))
    expect(page.locator(".messages")).to_contain_text(f"Deleted “{doomed.name}” and its 4 images for good.")
    assert not Batch.objects.filter(pk=doomed.pk).exists()


def test_screenshot_of_a_busy_board(page: Page, url, login, manager, populated_board, shoot):
    login(manager)
    page.goto(url(BOARD))
    for status, batch in populated_board.items():
        expect(column(page, status).get_by_role("link", name=batch.name)).to_be_visible()
    shoot("board")
