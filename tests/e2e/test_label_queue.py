"""The label queue in a real browser: assigning a batch to it, labelers served image by image, expiry, settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import Role
from boards import services
from boards.models import Batch, BatchStatus, Image, Project, QueueEntry
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_editor import classes, drag, editor_ready, photo, saved_after  # noqa: F401 - fixtures and helpers
from tests.factories import BatchFactory, MembershipFactory, UserFactory

BOARD = "/w/acme/p/parcels/"
SETTINGS = "/w/acme/p/parcels/settings/"
EDITOR = re.compile(r"/w/acme/p/parcels/batches/(\d+)/annotate/(\d+)/$")


# --- helpers ---------------------------------------------------------------------


@pytest.fixture
def second_labeler(workspace):
    user = UserFactory(email="second@acme.test", full_name="Sam Second")
    return MembershipFactory(workspace=workspace, role=Role.LABELER, user=user).user


@pytest.fixture
def other_page(browser, browser_context_args, url):
    """A second person's browser: its own context (cookies), with the same CSP check as ``page``."""
    context = browser.new_context(**browser_context_args)
    second = context.new_page()
    second.set_default_timeout(5_000)
    second.set_default_navigation_timeout(10_000)
    violations = []
    second.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield second
    context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)


def sign_in(page: Page, url, user) -> Page:
    """The login form, as the ``login`` fixture fills it, for a page of another context."""
    page.goto(url("/accounts/login/"))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url("/"))
    return page


@pytest.fixture
def parcels(project, classes):  # noqa: F811 - the fixture imported above
    """An Unassigned batch of four street photos."""
    batch = BatchFactory(project=project, name="Harbour gate, night", priority=2)
    for n in range(4):
        photo(project, batch, n, f"gate-00{n + 1}.jpg")
    return batch


@pytest.fixture
def queued(parcels, manager):
    """The same batch, assigned to the label queue."""
    services.assign(batch=parcels, actor=manager, labeler=None, queue=True)
    return Batch.objects.get(pk=parcels.pk)


def start_labeling(page: Page, url) -> int:
    """Press "Start labeling" on the board; the id of the image the editor opened on."""
    page.goto(url(BOARD))
    page.get_by_role("button", name="Start labeling").click()
    return editor_image(page)


def editor_image(page: Page) -> int:
    expect(page).to_have_url(EDITOR)
    expect(page.locator("#editor")).to_be_visible()
    editor_ready(page)
    return int(EDITOR.search(page.url).group(2))


def holder(image_id: int):
    return QueueEntry.objects.filter(image_id=image_id).values_list("reserved_by", flat=True).first()


def label(page: Page, *, box: bool) -> dict:
    """Draw a box around the car (or mark the image empty) and wait until the editor says Saved."""
    if box:
        answer = saved_after(page, lambda: drag(page, (90, 210), (300, 355)))
    else:
        answer = saved_after(page, lambda: page.keyboard.press("n"))
    expect(page.locator("#save-status")).to_have_text("Saved")
    return answer


# --- assigning a batch to the queue -----------------------------------------------


def test_a_manager_assigns_a_batch_to_the_label_queue_from_the_card_menu(
    page: Page, url, login, manager, labeler, second_labeler, parcels, shoot
):
    login(manager)
    page.goto(url(BOARD))
    card = page.locator(f"#batch-{parcels.pk}")
    expect(page.locator("#column-unassigned")).to_contain_text("Harbour gate, night")
    card.locator("summary").click()
    card.get_by_role("link", name="Assign…").click()
    dialog = page.locator("dialog#assign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("hands the images out one by one")
    dialog.get_by_label("Labeler").select_option(label="Label queue: any labeler")
    shoot("queue-assign-dialog")
    dialog.get_by_role("button", name="Assign", exact=True).click()

    expect(dialog).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("Assigned “Harbour gate, night” to the label queue.")
    card = page.locator("#column-annotating").locator(f"#batch-{parcels.pk}")
    expect(card).to_be_visible()
    queue_avatar = card.locator(".avatar.queue")
    expect(queue_avatar).to_have_text("Q")
    expect(queue_avatar).to_have_attribute("title", re.compile(r"^Label queue"))
    expect(page.locator("#column-unassigned").locator(".batch-card")).to_have_count(0)
    batch = Batch.objects.get(pk=parcels.pk)
    assert batch.status == BatchStatus.ANNOTATING
    assert batch.current_job.is_queue and batch.current_job.labeler is None
    assert QueueEntry.objects.filter(batch=batch, reserved_by=None).count() == 4

    # Two labelers take an image each: the card names them beside the queue's "Q".
    project = Project.objects.get(pk=batch.project_id)
    services.next_image(project=project, user=labeler)
    services.next_image(project=project, user=second_labeler)
    page.reload()
    card = page.locator(f"#batch-{parcels.pk}")
    expect(card.locator(".avatar[title^='Labeling now']")).to_have_count(2)
    expect(card.locator(".avatar[title='Labeling now: second@acme.test']")).to_have_text("SS")
    shoot("queue-board")


def test_the_queue_card_names_a_labeler_who_just_took_an_image(page: Page, url, login, manager, labeler, queued):
    login(manager)
    page.goto(url(BOARD))
    card = page.locator(f"#batch-{queued.pk}")
    expect(card.locator(".avatar.queue")).to_have_text("Q")
    expect(card.locator(".avatar[title^='Labeling now']")).to_have_count(0)
    services.next_image(project=Project.objects.get(pk=queued.project_id), user=labeler)
    page.reload()
    expect(card.locator(".avatar[title='Labeling now: labeler@acme.test']")).to_have_count(1)


# --- two labelers at once ------------------------------------------------------------


@pytest.mark.parametrize(
    "onward",
    [
        "next-button",
        "board-button",
    ],
)
def test_two_labelers_are_never_served_the_same_image_and_the_last_save_sends_the_batch_to_review(
    page: Page, url, login, other_page: Page, manager, labeler, second_labeler, queued, onward, shoot
):
    first = login(labeler)
    second = sign_in(other_page, url, second_labeler)
    people = {labeler.pk: first, second_labeler.pk: second}
    served: dict[int, list[int]] = {labeler.pk: [], second_labeler.pk: []}

    for pk, who in people.items():
        served[pk].append(start_labeling(who, url))
    assert served[labeler.pk][0] != served[second_labeler.pk][0]
    for pk, images in served.items():
        assert holder(images[0]) == pk
    expect(first.get_by_role("button", name="Next image →")).to_be_visible()
    expect(first.locator(".editor-strip li")).to_have_count(0)
    expect(first.locator("[data-nav='next'], [data-nav='previous']")).to_have_count(0)
    expect(first.get_by_role("button", name=re.compile("Submit batch"))).to_have_count(0)

    assert label(first, box=True)["state"] == "annotated"
    assert label(second, box=False)["state"] == "empty"
    shoot("queue-editor")
    # Saved, but still theirs: the editor saves every change, so an image is finished when they move on.
    assert holder(served[labeler.pk][0]) == labeler.pk

    for pk, who in people.items():
        if onward == "next-button":
            who.get_by_role("button", name="Next image →").click()
            expect(who).not_to_have_url(re.compile(rf"/annotate/{served[pk][-1]}/$"))
            served[pk].append(editor_image(who))
        else:
            served[pk].append(start_labeling(who, url))
        assert holder(served[pk][-1]) == pk
        assert not QueueEntry.objects.filter(image_id=served[pk][-2]).exists()  # the finished one left

    everything = served[labeler.pk] + served[second_labeler.pk]
    assert len(set(everything)) == 4, served
    assert set(everything) == set(Image.objects.filter(placement__batch=queued).values_list("pk", flat=True))

    label(first, box=False)
    assert label(second, box=True)["all_done"] is True
    assert Batch.objects.get(pk=queued.pk).status == BatchStatus.ANNOTATING  # nobody has moved on yet
    first.get_by_role("button", name="Next image →").click()
    expect(first.locator(".messages")).to_be_visible()
    assert Batch.objects.get(pk=queued.pk).status == BatchStatus.ANNOTATING  # the second one is still open
    second.get_by_role("button", name="Next image →").click()
    expect(second.locator(".messages")).to_contain_text("Nothing to label")
    assert not QueueEntry.objects.filter(batch=queued).exists()
    assert Batch.objects.get(pk=queued.pk).status == BatchStatus.REVIEW

    # Nothing is left to hand out; the manager sees the batch in Review.
    second.goto(url(BOARD))
    second.get_by_role("button", name="Start labeling").click()
    expect(second.locator(".messages")).to_contain_text("Nothing to label in Parcels")
    first.context.clear_cookies()
    login(manager)
    page.goto(url(BOARD))
    expect(page.locator("#column-review").locator(f"#batch-{queued.pk}")).to_be_visible()
    expect(page.locator("#column-annotating")).not_to_contain_text("Harbour gate, night")


# --- reservations expire -------------------------------------------------------------


def test_an_expired_reservation_goes_to_the_next_labeler_and_its_first_holder_is_refused(
    page: Page, url, login, other_page: Page, labeler, second_labeler, queued, shoot
):
    login(labeler)
    page.goto(url("/my-work/"))
    queues = page.locator("section", has=page.get_by_role("heading", name="Label queues"))
    row = queues.locator("tbody tr", has_text="Parcels")
    expect(row).to_contain_text("4 images")
    expect(row).to_contain_text("P2")
    shoot("queue-my-work")
    row.get_by_role("button", name="Start labeling in Parcels").click()
    taken = editor_image(page)
    assert holder(taken) == labeler.pk

    project = Project.objects.get(pk=queued.project_id)
    idle = timezone.now() - timedelta(minutes=project.reservation_minutes + 1)
    assert QueueEntry.objects.filter(image_id=taken, reserved_by=labeler).update(reserved_at=idle) == 1

    sign_in(other_page, url, second_labeler)
    assert start_labeling(other_page, url) == taken
    assert holder(taken) == second_labeler.pk

    response = page.reload()
    assert response.status == 403
    expect(page).to_have_title(re.compile("Not allowed"))
    expect(page.get_by_role("heading", name="You may not do this here")).to_be_visible()
    expect(page.locator(".error-status")).to_have_text("Error 403")
    expect(page.get_by_role("alert")).to_have_text("This image of the label queue is reserved for someone else.")
    expect(page.locator("#editor")).to_have_count(0)
    shoot("queue-refused")

    # Pressing "Start labeling" again gives the first labeler another image, not the one they lost.
    assert start_labeling(page, url) != taken
    assert QueueEntry.objects.filter(reserved_by=labeler).count() == 1


def test_working_in_the_editor_keeps_the_image_reserved_and_losing_it_is_said_at_once(
    page: Page, url, login, other_page: Page, labeler, second_labeler, queued, shoot
):
    page.clock.install()  # the editor's timers run when the test says
    login(labeler)
    taken = start_labeling(page, url)
    beat = int(page.locator("#editor").get_attribute("data-hold-seconds")) * 1000
    project = Project.objects.get(pk=queued.project_id)
    entry = QueueEntry.objects.filter(image_id=taken, reserved_by=labeler)

    # 29 of the 30 minutes gone, but they are at work: moving over the image renews the hold.
    almost = timezone.now() - timedelta(minutes=project.reservation_minutes - 1)
    entry.update(reserved_at=almost)
    page.mouse.move(200, 250)
    page.mouse.move(260, 300)
    with page.expect_response(lambda r: r.url.endswith("/hold") and r.request.method == "POST") as renewal:
        page.clock.run_for(beat)
    assert renewal.value.status == 200
    assert timezone.now() - entry.get().reserved_at < timedelta(minutes=1)

    # A tab left open with nobody at it renews nothing: the reservation runs out as it should.
    holds = []
    page.on("request", lambda r: holds.append(r.url) if r.url.endswith("/hold") else None)
    idle = timezone.now() - timedelta(minutes=project.reservation_minutes + 1)
    entry.update(reserved_at=idle)
    page.clock.run_for(3 * beat)
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")  # let any request the beats made go out
    assert holds == [] and entry.get().reserved_at == idle

    # Someone else is given it: the first labeler hears it at their next move, not at a refused save.
    sign_in(other_page, url, second_labeler)
    assert start_labeling(other_page, url) == taken
    page.mouse.move(220, 260)
    with page.expect_response(lambda r: r.url.endswith("/hold")) as refusal:
        page.clock.run_for(beat)
    assert refusal.value.status == 409
    alert = page.locator("#editor-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("This image of the label queue is reserved for someone else.")
    expect(page.locator("#save-status")).to_have_text("Not reserved for you")
    expect(alert.get_by_role("button")).to_have_count(0)  # nothing to retry or reload into
    shoot("queue-hold-lost")
    assert holder(taken) == second_labeler.pk

    # What they draw now cannot be saved, and "Next image" still moves them on, to another image.
    drag(page, (90, 210), (300, 355))
    expect(page.locator("#save-status")).to_have_text("Not reserved for you")
    page.get_by_role("button", name="Next image →").click()
    page.wait_for_url(lambda address: EDITOR.search(address) and int(EDITOR.search(address).group(2)) != taken)
    assert holder(editor_image(page)) == labeler.pk
    assert not Image.objects.get(pk=taken).annotations.exists()


# --- settings --------------------------------------------------------------------------


def test_a_manager_sets_the_reservation_time_and_cap(page: Page, url, login, manager, project, shoot):
    login(manager)
    page.goto(url(BOARD))
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(url(SETTINGS))
    section = page.locator("section", has=page.get_by_role("heading", name="Label queue"))
    minutes = section.get_by_label("Reservation lasts (minutes idle)")
    cap = section.get_by_label("Images one labeler may hold at once")
    expect(minutes).to_have_value("30")
    expect(cap).to_have_value("3")

    minutes.fill("45")
    cap.fill("5")
    section.get_by_role("button", name="Save").click()
    expect(page).to_have_url(url(SETTINGS))
    expect(page.locator(".messages")).to_have_text(
        "The label queue keeps an idle image reserved for 45 minutes; a labeler holds at most 5 at once."
    )
    expect(minutes).to_have_value("45")
    expect(cap).to_have_value("5")
    project.refresh_from_db()
    assert (project.reservation_minutes, project.reservation_cap) == (45, 5)
    section.scroll_into_view_if_needed()
    shoot("queue-settings")
