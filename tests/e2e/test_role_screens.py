"""Labelers and viewers in a browser: no Review column, no Merge or Archived tab, and refusals that say why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from boards import services
from boards.models import AnnotationState, Batch
from tests.factories import BatchFactory, ImageFactory, MembershipFactory, UserFactory

BOARD = "/w/acme/p/parcels/"


def _batch(project, n, *, annotated=False, **kwargs) -> Batch:
    batch = BatchFactory(project=project, **kwargs)
    state = AnnotationState.ANNOTATED if annotated else AnnotationState.UNANNOTATED
    for _ in range(n):
        ImageFactory(project=project, batch=batch, annotation_state=state)
    return batch


@pytest.fixture
def board(project, manager, reviewer, labeler):
    waiting = _batch(project, 3, name="North depot")
    theirs = _batch(project, 2, name="South depot")
    someone = MembershipFactory(workspace=project.workspace, role=Role.LABELER, user=UserFactory(full_name="Sam Other"))
    services.assign(batch=theirs, actor=manager, labeler=someone.user, reviewer=reviewer)
    review = _batch(project, 2, name="Returns desk", annotated=True)
    services.assign(batch=review, actor=manager, labeler=labeler, reviewer=reviewer)
    services.submit(batch=Batch.objects.get(pk=review.pk), actor=labeler)
    return {"waiting": waiting, "theirs": Batch.objects.get(pk=theirs.pk)}


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("who", ["labeler", "viewer"])
def test_public_roles_see_only_what_they_may_use_and_refusals_say_why(who, personas, board, page, login, url, shoot):
    login(personas[who])
    expect(page.locator(".project-card dt", has_text="Unassigned")).to_be_visible()
    expect(page.locator(".project-card dt", has_text="Review")).to_have_count(0)
    expect(page.get_by_role("link", name="Merge batches")).to_have_count(0)
    _fits(page)

    page.goto(url(BOARD))
    expect(page.locator("#column-unassigned")).to_be_visible()
    expect(page.locator("#column-review")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Parcels pages")
    expect(nav.get_by_role("link", name="Catalog")).to_be_visible()
    expect(nav.get_by_role("link", name="Merge batches")).to_have_count(0)
    expect(nav.get_by_role("link", name="Archived")).to_have_count(0)
    expect(page.get_by_role("link", name="Upload images")).to_have_count(0)
    expect(page.locator(f"#batch-{board['waiting'].pk} .card-menu")).to_have_count(0)
    _fits(page)
    shoot(f"role-board-{who}")

    # A dialog's address, typed in: the reason, not a form.
    answer = page.goto(url(f"{BOARD}batches/{board['waiting'].pk}/dialog/delete"))
    assert answer.status == 403
    expect(page.locator(".topbar")).to_be_visible()
    expect(page.get_by_role("heading", name="You may not do this here")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("You do not have permission to delete this batch.")
    expect(page.locator("dialog")).to_have_count(0)
    _fits(page)
    shoot(f"role-dialog-403-{who}")

    # Someone else's batch in the editor.
    answer = page.goto(url(f"{BOARD}batches/{board['theirs'].pk}/annotate/"))
    assert answer.status == 403
    reason = "This batch is assigned to someone else." if who == "labeler" else "not edit their boxes"
    expect(page.get_by_role("alert")).to_contain_text(reason)
    shoot(f"role-editor-403-{who}")
    page.emulate_media(color_scheme="dark")
    shoot(f"role-editor-403-{who}-dark")
    page.emulate_media(color_scheme="light")
    page.get_by_role("link", name="Back to the batch “South depot”").click()
    page.wait_for_url(url(f"{BOARD}batches/{board['theirs'].pk}/"))
    expect(page.get_by_role("link", name="Open the editor")).to_have_count(0)


def test_a_labeler_trying_a_dialog_from_the_page_gets_a_toast(labeler, board, page, login, url):
    """An htmx request refused by the server answers with a toast, and the page stays as it was."""
    login(labeler)
    page.goto(url(f"{BOARD}batches/{board['waiting'].pk}/"))
    page.evaluate(
        "(u) => window.htmx.ajax('GET', u, {target: '#dialog-slot'})",
        f"{BOARD}batches/{board['waiting'].pk}/dialog/assign",
    )
    expect(page.locator("#toasts")).to_contain_text("You do not have permission to assign this batch.")
    expect(page.locator("#dialog-slot dialog")).to_have_count(0)


def test_an_outsider_sees_nothing_of_the_project_on_the_404(outsider, board, page, login, url, shoot):
    login(outsider)
    answer = page.goto(url(BOARD))
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("No such project.")
    expect(page.get_by_text("Parcels")).to_have_count(0)
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page)
    shoot("role-404-outsider-phone")
