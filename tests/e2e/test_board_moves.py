"""Moving cards on the board in a real browser: drag-and-drop, the card menu, review and refusals.

Each test checks what the person sees on the page and what the database holds afterwards.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from boards import services
from boards.models import AnnotationState, Batch, BatchStatus, Image, ReviewState
from tests.factories import BatchFactory, ImageFactory

BOARD = "/w/acme/p/parcels/"
MOVED_BY_SOMEONE_ELSE = re.compile(r"someone else", re.IGNORECASE)


# --- helpers ---------------------------------------------------------------------


def batch_of(project, n: int, *, annotated: bool = False, **kwargs) -> Batch:
    batch = BatchFactory(project=project, **kwargs)
    state = AnnotationState.ANNOTATED if annotated else AnnotationState.UNANNOTATED
    for _ in range(n):
        ImageFactory(project=project, batch=batch, annotation_state=state)
    return batch


def in_review(project, n: int, *, manager, labeler, reviewer=None, **kwargs) -> Batch:
    """A batch of ``n`` annotated images submitted for review by its labeler."""
    batch = batch_of(project, n, annotated=True, **kwargs)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    services.submit(batch=fresh(batch), actor=labeler)
    batch = fresh(batch)
    assert batch.status == BatchStatus.REVIEW
    return batch


def fresh(batch: Batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def image_ids(batch: Batch) -> list[int]:
    return list(Image.objects.filter(placement__batch=batch).order_by("pk").values_list("pk", flat=True))


def column(page: Page, status: str):
    return page.locator(f"#column-{status}")


def card_of(page: Page, batch: Batch):
    return page.locator(f"#batch-{batch.pk}")


def count_of(page: Page, status: str):
    return page.locator(f"#count-{status}")


def open_board(page: Page, url, login, user, path: str = BOARD) -> Page:
    login(user)
    page.goto(url(path))
    expect(page.locator("#board")).to_be_visible()
    # A marker on this document: it survives htmx swaps and is gone after any reload.
    page.evaluate("window.__sameDocument = 'board-test'")
    return page


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument") == "board-test", "the page was reloaded"


def drag(page: Page, card, status: str) -> None:
    """Drag a card by its body (not its link or menu) onto a column's list."""
    card.locator(".meta").drag_to(page.locator(f"#column-{status} .cards"))


def open_menu(card) -> None:
    """Open a card's "⋯" menu (a no-op when it is already open)."""
    if card.locator("details.card-menu[open]").count() == 0:
        card.locator("summary").click()
    expect(card.locator(".menu")).to_be_visible()


def tab_to(page: Page, target, limit: int = 40) -> None:
    """Press Tab from the top of the page until ``target`` has the focus, as a keyboard user would."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} cannot be reached with Tab")


def toasts(page: Page):
    return page.locator("#toasts .toast")


def hold_live_updates(page: Page) -> None:
    """Keep the board's change polling from refreshing it while the test sets up a stale card."""
    page.route("**/board/version", lambda route: route.abort())


def release_live_updates(page: Page) -> None:
    page.unroute("**/board/version")


# --- dragging to Annotating and assigning part of a batch --------------------------


def test_dragging_to_annotating_assigns_half_and_shows_the_rest(
    page: Page, url, login, manager, labeler, project, shoot
):
    batch = batch_of(project, 6, name="Night shift parcels")
    ids = image_ids(batch)
    open_board(page, url, login, manager)
    card = card_of(page, batch)
    expect(column(page, "unassigned").locator(".batch-card")).to_have_count(1)
    expect(card).to_contain_text("6 images")
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(count_of(page, "annotating")).to_have_text("0")
    shoot("moves-board-before")

    drag(page, card, "annotating")

    dialog = page.locator("dialog#assign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Assign “Night shift parcels”")).to_be_visible()
    expect(dialog.locator("[data-pick-grid] img")).to_have_count(6)
    expect(dialog.get_by_text("All 6 images")).to_be_visible()
    dialog.get_by_label("Labeler").select_option(label=labeler.get_full_name())
    dialog.get_by_role("radio", name=re.compile(r"^The first")).check()
    dialog.get_by_label("How many images").fill("3")
    shoot("moves-assign-dialog")
    dialog.get_by_role("button", name="Assign", exact=True).click()

    expect(dialog).to_have_count(0)
    moved = column(page, "annotating").locator(".batch-card", has_text="Night shift parcels")
    expect(moved).to_have_count(1)
    expect(moved).to_contain_text("3 images")
    expect(moved.locator(".avatar").first).to_have_attribute("title", f"Labeler: {labeler.email}")
    rest = column(page, "unassigned").locator(".batch-card")
    expect(rest).to_have_count(1)
    expect(rest.get_by_role("link")).to_have_text("Night shift parcels · part 2")
    expect(rest).to_contain_text("3 images")
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(count_of(page, "annotating")).to_have_text("1")
    expect(toasts(page).filter(has_text="Night shift parcels")).to_be_visible()
    expect(page.locator("#board .pending")).to_have_count(0)
    assert_not_reloaded(page)
    shoot("moves-board-after")

    batch = fresh(batch)
    assert batch.status == BatchStatus.ANNOTATING
    assert image_ids(batch) == ids[:3]
    assert batch.current_job.labeler == labeler
    remainder = Batch.objects.get(project=project, name="Night shift parcels · part 2")
    assert remainder.status == BatchStatus.UNASSIGNED
    assert remainder.split_from_id == batch.pk
    assert image_ids(remainder) == ids[3:]


# --- reviewing: reject 2 of 5, approve 3, finish -------------------------------------


def test_a_reviewer_rejects_two_of_five_and_sees_the_split(
    page: Page, url, login, manager, reviewer, labeler, project, shoot
):
    batch = in_review(project, 5, manager=manager, labeler=labeler, reviewer=reviewer, name="Dock 7 scans")
    ids = image_ids(batch)
    comment = "The label on the left parcel has no box."
    open_board(page, url, login, reviewer)
    card = card_of(page, batch)
    expect(column(page, "review").locator(".batch-card")).to_have_count(1)
    open_menu(card)
    card.get_by_role("link", name="Review images…").click()

    expect(page).to_have_url(url(f"{BOARD}batches/{batch.pk}/review/"))
    expect(page.get_by_role("heading", name="Review “Dock 7 scans”")).to_be_visible()
    tally = page.locator(".tally")
    caption = page.locator(".review-image figcaption")
    finish = page.get_by_role("button", name="Finish review")
    expect(tally).to_have_text("0 approved · 0 rejected · 5 to go")
    expect(caption).to_contain_text("1 of 5")
    expect(page.locator(".review-strip li")).to_have_count(5)
    expect(finish).to_be_disabled()
    # The link's navigation is over before the deferred review.js has run: wait for its keys.
    expect(page.locator("#review-frame")).to_have_attribute("data-ready", "true")

    page.keyboard.press("r")  # the R key rejects the image in view
    expect(tally).to_have_text("0 approved · 1 rejected · 4 to go")
    expect(caption).to_contain_text("2 of 5")

    page.get_by_label("Comment if you reject").fill(comment)
    page.get_by_role("button", name="Reject R").click()
    expect(tally).to_have_text("0 approved · 2 rejected · 3 to go")
    expect(caption).to_contain_text("3 of 5")

    for approved in (1, 2, 3):
        page.keyboard.press("a")  # the A key approves the image in view
        expect(tally).to_have_text(f"{approved} approved · 2 rejected · {3 - approved} to go")
    expect(page.locator(".review-strip li.rejected")).to_have_count(2)
    expect(page.locator(".review-strip li.approved")).to_have_count(3)
    expect(finish).to_be_enabled()
    shoot("moves-review")

    states = dict(Image.objects.filter(pk__in=ids).values_list("pk", "review_state"))
    assert [states[pk] for pk in ids] == [ReviewState.REJECTED] * 2 + [ReviewState.APPROVED] * 3
    assert Image.objects.get(pk=ids[1]).review_comment == comment

    finish.click()

    expect(page).to_have_url(url(BOARD))
    expect(page.locator(".messages")).to_contain_text("Review of “Dock 7 scans” finished")
    done = column(page, "dataset").locator(".batch-card", has_text="Dock 7 scans")
    expect(done).to_have_count(1)
    expect(done.get_by_role("link")).to_have_text("Dock 7 scans")
    expect(done).to_contain_text("3 images")
    back = column(page, "annotating").locator(".batch-card")
    expect(back).to_have_count(1)
    expect(back.get_by_role("link")).to_have_text("Dock 7 scans · part 2")
    expect(back).to_contain_text("2 images")
    expect(back).to_contain_text("2 to rework")
    expect(back.locator(".avatar").first).to_have_attribute("title", f"Labeler: {labeler.email}")
    expect(column(page, "review").locator(".batch-card")).to_have_count(0)
    expect(count_of(page, "review")).to_have_text("0")
    expect(count_of(page, "dataset")).to_have_text("1")
    expect(count_of(page, "annotating")).to_have_text("1")

    batch = fresh(batch)
    assert batch.status == BatchStatus.DATASET
    assert image_ids(batch) == ids[2:]
    rejected = Batch.objects.get(project=project, name="Dock 7 scans · part 2")
    assert rejected.status == BatchStatus.ANNOTATING
    assert image_ids(rejected) == ids[:2]
    assert rejected.current_job.labeler == labeler
    assert Image.objects.get(pk=ids[1]).review_comment == comment


# --- a viewer may look but not move ----------------------------------------------------


def test_a_viewer_sees_no_review_column_and_cannot_drag(page: Page, url, login, viewer, manager, labeler, project):
    waiting = batch_of(project, 4, name="Gate 3 arrivals")
    started = batch_of(project, 2, name="Gate 4 arrivals")
    services.assign(batch=started, actor=manager, labeler=labeler)
    in_review(project, 2, manager=manager, labeler=labeler, name="Gate 5 arrivals")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    open_board(page, url, login, viewer)
    posts.clear()  # the login form

    expect(page.locator(".column h2")).to_have_count(3)
    expect(page.locator("#column-review")).to_have_count(0)
    expect(page.get_by_text("Gate 5 arrivals")).to_have_count(0)
    expect(page.locator("#board")).to_have_attribute("data-draggable", "false")
    expect(page.locator("#board .batch-card")).to_have_count(2)
    expect(page.locator("#board .batch-card:not(.locked)")).to_have_count(0)
    expect(page.locator("#board .card-menu")).to_have_count(0)
    expect(page.locator("#board summary")).to_have_count(0)

    drag(page, card_of(page, waiting), "annotating")
    drag(page, card_of(page, started), "dataset")

    expect(column(page, "unassigned").locator(f"#batch-{waiting.pk}")).to_be_visible()
    expect(column(page, "annotating").locator(f"#batch-{started.pk}")).to_be_visible()
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(count_of(page, "annotating")).to_have_text("1")
    expect(page.locator("dialog")).to_have_count(0)
    assert posts == []

    # Whatever the page sends, the server refuses the viewer's move and the page says why.
    page.evaluate(
        "(id) => { const card = document.getElementById('batch-' + id);"
        " htmx.ajax('POST', card.dataset.moveUrl, {source: card, values: {to: 'archived'}, swap: 'none'}); }",
        waiting.pk,
    )
    expect(toasts(page).filter(has_text="permission")).to_be_visible()
    expect(column(page, "unassigned").locator(f"#batch-{waiting.pk}")).to_be_visible()
    assert_not_reloaded(page)

    assert fresh(waiting).status == BatchStatus.UNASSIGNED
    assert fresh(started).status == BatchStatus.ANNOTATING
    assert len(image_ids(waiting)) == 4


# --- the keyboard menu -------------------------------------------------------------------


def test_the_keyboard_menu_archives_a_card(page: Page, url, login, manager, project, shoot):
    first = batch_of(project, 3, name="Aisle 1 returns", priority=1)
    other = batch_of(project, 2, name="Aisle 2 returns", priority=2)
    ids = image_ids(first)
    open_board(page, url, login, manager)
    card = card_of(page, first)
    expect(count_of(page, "unassigned")).to_have_text("2")

    summary = card.get_by_text("⋯")
    tab_to(page, summary)
    expect(summary).to_be_focused()
    expect(summary).to_have_accessible_name("Move “Aisle 1 returns”")
    page.keyboard.press("Enter")
    expect(card.locator("details.card-menu")).to_have_attribute("open", "")
    items = card.locator(".menu li")
    expect(items).to_have_text(
        ["Assign…", "Archive…", "Delete…", "Open the batch", re.compile(r"Priority\s*1\s*2\s*3\s*4\s*5")]
    )
    page.keyboard.press("Tab")
    expect(card.get_by_role("link", name="Assign…")).to_be_focused()
    page.keyboard.press("Tab")
    expect(card.get_by_role("link", name="Archive…")).to_be_focused()
    shoot("moves-keyboard-menu")
    page.keyboard.press("Enter")
    # Archiving asks first, as deleting does.
    dialog = page.locator("dialog#archive-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Archive", exact=True).focus()
    page.keyboard.press("Enter")

    expect(card_of(page, first)).to_have_count(0)
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(column(page, "unassigned").locator(".batch-card")).to_have_text(re.compile("Aisle 2 returns"))
    expect(toasts(page).filter(has_text="Archived “Aisle 1 returns”")).to_be_visible()
    assert_not_reloaded(page)

    assert fresh(first).status == BatchStatus.ARCHIVED
    assert image_ids(first) == []
    assert set(Image.objects.filter(pk__in=ids).values_list("archived_from", flat=True)) == {first.pk}
    assert fresh(other).status == BatchStatus.UNASSIGNED


def test_the_keyboard_menu_approves_all_for_a_reviewer(page: Page, url, login, manager, reviewer, labeler, project):
    batch = in_review(project, 3, manager=manager, labeler=labeler, name="Loading bay 2")
    open_board(page, url, login, reviewer)
    card = card_of(page, batch)
    expect(count_of(page, "review")).to_have_text("1")
    expect(count_of(page, "dataset")).to_have_text("0")

    tab_to(page, card.get_by_text("⋯"))
    expect(card.get_by_text("⋯")).to_be_focused()
    page.keyboard.press("Enter")
    expect(card.get_by_role("button", name="Approve all")).to_be_visible()
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Approve all")).to_be_focused()
    page.keyboard.press("Space")

    moved = column(page, "dataset").locator(f"#batch-{batch.pk}")
    expect(moved).to_be_visible()
    expect(moved).to_contain_text("3 images")
    expect(column(page, "review").locator(".batch-card")).to_have_count(0)
    expect(count_of(page, "review")).to_have_text("0")
    expect(count_of(page, "dataset")).to_have_text("1")
    expect(page.locator("details.card-menu[open]")).to_have_count(0)
    assert_not_reloaded(page)

    batch = fresh(batch)
    assert batch.status == BatchStatus.DATASET
    assert set(Image.objects.filter(placement__batch=batch).values_list("review_state", flat=True)) == {
        ReviewState.APPROVED
    }


# --- refused moves -------------------------------------------------------------------------


def test_the_card_menu_raises_a_cards_priority(page: Page, url, login, manager, project, shoot):
    top = batch_of(project, 1, name="Dock 1", priority=2)
    low = batch_of(project, 1, name="Dock 7", priority=4)
    open_board(page, url, login, manager)
    cards = column(page, "unassigned").locator(".batch-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("id", f"batch-{top.pk}")

    card = card_of(page, low)
    open_menu(card)
    priority = card.get_by_role("form", name="Priority of “Dock 7”")
    expect(priority.get_by_role("button", name="4")).to_have_attribute("aria-pressed", "true")
    shoot("card-menu-priority")
    priority.get_by_role("button", name="1").click()

    expect(toasts(page).filter(has_text="“Dock 7” now has priority 1.")).to_be_visible()
    expect(cards.first).to_have_attribute("id", f"batch-{low.pk}")
    expect(card_of(page, low).locator(".prio")).to_have_text("P1")
    expect(count_of(page, "unassigned")).to_have_text("2")
    assert_not_reloaded(page)
    assert fresh(low).priority == 1


@pytest.mark.parametrize("how", ["drag", "menu"])
def test_a_stale_card_is_refused_and_the_board_shows_the_truth(
    page: Page, url, login, owner, manager, labeler, project, how
):
    batch = batch_of(project, 4, name="Pier 9 parcels")
    open_board(page, url, login, manager)
    card = card_of(page, batch)
    expect(column(page, "unassigned").locator(f"#batch-{batch.pk}")).to_be_visible()
    hold_live_updates(page)

    # Meanwhile someone else assigns the batch; this board still shows it in Unassigned.
    services.assign(batch=batch, actor=owner, labeler=labeler)
    expect(column(page, "unassigned").locator(f"#batch-{batch.pk}")).to_be_visible()

    if how == "drag":
        drag(page, card, "annotating")
    else:
        # The menu asks the server for this card's moves when it opens: the server knows better.
        card.get_by_text("⋯").click()

    error = toasts(page).filter(has_text=MOVED_BY_SOMEONE_ELSE)
    expect(error).to_be_visible()
    expect(error).to_have_class(re.compile(r"\btoast-error\b"))
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(f"#batch-{batch.pk}")).to_have_count(1)
    expect(page.locator(f"#batch-{batch.pk}.pending")).to_have_count(0)

    release_live_updates(page)
    expect(column(page, "annotating").locator(f"#batch-{batch.pk}")).to_be_visible(timeout=12_000)
    expect(column(page, "unassigned").locator(".batch-card")).to_have_count(0)
    expect(count_of(page, "annotating")).to_have_text("1")
    assert_not_reloaded(page)

    batch = fresh(batch)
    assert batch.status == BatchStatus.ANNOTATING
    assert batch.current_job.labeler == labeler
    assert batch.jobs.count() == 1
    assert len(image_ids(batch)) == 4


def test_a_card_deleted_elsewhere_is_refused_in_plain_words(page: Page, url, login, owner, manager, project):
    batch = batch_of(project, 2, name="Duplicate scans")
    other = batch_of(project, 1, name="Night scans")
    open_board(page, url, login, manager)
    card = card_of(page, batch)
    expect(count_of(page, "unassigned")).to_have_text("2")
    hold_live_updates(page)

    services.delete_batch(batch=batch, actor=owner)
    drag(page, card, "annotating")

    error = toasts(page).first
    expect(error).to_be_visible()
    expect(error).to_have_class(re.compile(r"\btoast-error\b"))
    expect(error).to_have_text(re.compile(r"deleted|no longer exists", re.IGNORECASE))
    expect(error).not_to_contain_text("<")
    expect(page.locator("dialog[open]")).to_have_count(0)

    release_live_updates(page)
    expect(card_of(page, batch)).to_have_count(0, timeout=12_000)
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(card_of(page, other)).to_be_visible()
    assert_not_reloaded(page)
    assert not Batch.objects.filter(pk=batch.pk).exists()


# --- deleting ----------------------------------------------------------------------------------


def test_delete_from_unassigned_asks_first_and_removes_the_rows(page: Page, url, login, manager, project):
    batch = batch_of(project, 4, name="Wrong camera, morning")
    keep = batch_of(project, 1, name="Right camera, morning")
    ids = image_ids(batch)
    open_board(page, url, login, manager)
    card = card_of(page, batch)
    expect(count_of(page, "unassigned")).to_have_text("2")

    open_menu(card)
    card.get_by_role("link", name="Delete…").click()
    dialog = page.locator("dialog#delete-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Delete “Wrong camera, morning”?")
    expect(dialog).to_contain_text("This is permanent")
    expect(dialog).to_contain_text("4 images")
    expect(dialog).to_contain_text("cannot be undone")

    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog#delete-dialog")).to_have_count(0)
    expect(card_of(page, batch)).to_be_visible()
    assert Batch.objects.filter(pk=batch.pk).exists()

    open_menu(card)
    card.get_by_role("link", name="Delete…").click()
    dialog = page.locator("dialog#delete-dialog")
    dialog.get_by_role("button", name="Delete 4 images").click()

    expect(page.locator("dialog#delete-dialog")).to_have_count(0)
    expect(card_of(page, batch)).to_have_count(0)
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(toasts(page).filter(has_text="Deleted “Wrong camera, morning” and its 4 images")).to_be_visible()
    assert_not_reloaded(page)

    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert not Image.objects.filter(pk__in=ids).exists()
    assert len(image_ids(keep)) == 1


# --- filtering ------------------------------------------------------------------------------------


def test_the_filter_box_narrows_the_cards_and_keeps_the_query_in_the_url(
    page: Page, url, login, manager, labeler, project
):
    north = batch_of(project, 1, name="North depot, week 12")
    south = batch_of(project, 1, name="South depot, week 12")
    services.assign(batch=south, actor=manager, labeler=labeler)
    returns = batch_of(project, 1, name="Returns desk")
    open_board(page, url, login, manager)
    cards = page.locator("#board .batch-card")
    expect(cards).to_have_count(3)

    page.get_by_label("Batch name").press_sequentially("depot", delay=30)

    expect(page).to_have_url(re.compile(r"[?&]q=depot(&|$)"))
    expect(cards).to_have_count(2)
    expect(card_of(page, returns)).to_have_count(0)
    expect(column(page, "unassigned").locator(f"#batch-{north.pk}")).to_be_visible()
    expect(column(page, "annotating").locator(f"#batch-{south.pk}")).to_be_visible()
    expect(count_of(page, "unassigned")).to_have_text("1")
    expect(column(page, "dataset")).to_contain_text("No batch here matches the filter.")
    assert_not_reloaded(page)

    page.get_by_label("Batch name").fill("north")
    expect(page).to_have_url(re.compile(r"[?&]q=north(&|$)"))
    expect(cards).to_have_count(1)
    expect(cards).to_have_text(re.compile("North depot, week 12"))

    # The filtered address can be shared: opening it shows the same cards.
    page.reload()
    expect(page.get_by_label("Batch name")).to_have_value("north")
    expect(cards).to_have_count(1)
    expect(card_of(page, north)).to_be_visible()


# --- a narrow screen --------------------------------------------------------------------------------


def test_the_board_scrolls_sideways_on_a_phone_and_a_card_still_works(
    page: Page, url, login, manager, reviewer, labeler, project, shoot
):
    page.set_viewport_size({"width": 390, "height": 844})
    batch = batch_of(project, 2, name="Courier van 12")
    started = batch_of(project, 2, name="Courier van 14")
    services.assign(batch=started, actor=manager, labeler=labeler)
    done = in_review(project, 1, manager=manager, labeler=labeler, name="Courier van 15")
    services.approve(batch=done, actor=reviewer)
    open_board(page, url, login, manager)

    board = page.locator("#board")
    expect(board.locator(".column")).to_have_count(4)
    sizes = board.evaluate("b => ({scroll: b.scrollWidth, client: b.clientWidth, page: document.body.scrollWidth})")
    assert sizes["scroll"] > sizes["client"], sizes
    assert sizes["page"] <= 390, f"the whole page scrolls sideways, not just the board: {sizes}"
    shoot("moves-board-390")

    column(page, "dataset").scroll_into_view_if_needed()
    expect(column(page, "dataset").get_by_role("link", name="Courier van 15")).to_be_in_viewport()
    assert board.evaluate("b => b.scrollLeft") > 0
    shoot("moves-board-390-scrolled")
    column(page, "unassigned").scroll_into_view_if_needed()

    card = card_of(page, batch)
    open_menu(card)
    menu = card.locator(".menu")
    box = menu.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    card.get_by_role("link", name="Assign…").click()
    dialog = page.locator("dialog#assign-dialog")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shoot("moves-assign-dialog-390")
    dialog.get_by_label("Labeler").select_option(label=labeler.get_full_name())
    dialog.get_by_role("button", name="Assign", exact=True).click()

    expect(dialog).to_have_count(0)
    expect(column(page, "annotating").locator(f"#batch-{batch.pk}")).to_have_count(1)
    expect(count_of(page, "annotating")).to_have_text("2")
    assert_not_reloaded(page)
    assert fresh(batch).status == BatchStatus.ANNOTATING
