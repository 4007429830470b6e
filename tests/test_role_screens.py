"""Each role sees only what it may do: home, board, batch page, catalog and dialogs, for every persona.

What a page offers comes from the role table (accounts/roles.py) through
``user.has_perm``; the server refuses the same actions when they are posted anyway.
"""

from html.parser import HTMLParser

import pytest
from django.core.cache import caches
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import DIALOG_PERMISSIONS, PAGE_PERMISSIONS, Role
from boards import services
from boards.models import AnnotationState, Batch, BatchStatus
from tests.board_html import parse_board
from tests.factories import ProjectFactory, set_images

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
EVERYONE = ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"]
MEMBERS = {"owner", "manager", "reviewer", "labeler", "viewer"}
MANAGERS = {"owner", "manager"}
REVIEWERS = {"owner", "manager", "reviewer"}
LABELERS = {"owner", "manager", "reviewer", "labeler"}


class _Page(HTMLParser):
    """The links, buttons and column headings of a page, as a person reads them."""

    def __init__(self):
        super().__init__()
        self.hrefs: set[str] = set()
        self.terms: list[str] = []
        self.forms: list[str] = []
        self._dt = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.add(a["href"].split("?")[0])
        elif tag == "form":
            self.forms.append(a.get("action") or "")
        self._dt = tag == "dt"

    def handle_data(self, data):
        if self._dt and data.strip():
            self.terms.append(data.strip())
            self._dt = False


def read(response) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    return page


def purl(name, project, *args):
    return reverse(name, args=[project.workspace.slug, project.slug, *args])


@pytest.fixture
def world(project, make_batch, manager, labeler, reviewer):
    waiting = make_batch(3, name="Waiting")
    labeling = make_batch(2, name="Labeling")
    services.assign(batch=labeling, actor=manager, labeler=labeler, reviewer=reviewer)
    in_review = make_batch(2, name="In review")
    services.assign(batch=in_review, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(in_review.images, annotation_state=AnnotationState.ANNOTATED)
    in_review = services.submit(batch=Batch.objects.get(pk=in_review.pk), actor=labeler)
    return {"waiting": waiting, "labeling": Batch.objects.get(pk=labeling.pk), "in_review": in_review}


# --- the role table drives the offer ---------------------------------------------------------


def test_every_page_and_dialog_names_a_permission_of_the_table():
    from accounts.roles import ALL_PERMISSIONS

    assert set(PAGE_PERMISSIONS.values()) <= ALL_PERMISSIONS
    assert set(DIALOG_PERMISSIONS.values()) <= ALL_PERMISSIONS


def test_templates_compare_no_roles():
    """Templates ask the table (``project_access``, ``has_perm`` in views), never ``role == ...``."""
    from pathlib import Path

    from django.conf import settings

    for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        text = path.read_text()
        for role in Role.values:
            assert f'== "{role}"' not in text and f"== '{role}'" not in text, (path, role)


# --- home ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_home_shows_each_role_its_counts_and_links(who, personas, client, project, world):
    client.force_login(personas[who])
    response = client.get(reverse("home"))
    assert response.status_code == 200
    page = read(response)
    if who == "outsider":
        assert "Parcels" not in response.content.decode() and purl("board", project) not in page.hrefs
        return
    assert ("Review" in page.terms) is (who in REVIEWERS)
    assert {"Unassigned", "Annotating", "Dataset"} <= set(page.terms)
    assert (purl("merge", project) in page.hrefs) is (who in MANAGERS)
    assert (purl("archived", project) in page.hrefs) is (who in MANAGERS)
    assert purl("catalog", project) in page.hrefs and purl("board", project) in page.hrefs
    assert (reverse("api-keys", args=["acme"]) in page.hrefs) is (who in MANAGERS)


def test_the_home_page_asks_the_same_queries_for_one_project_or_many(
    client, labeler, workspace, project, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(labeler)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("home"))
    for n in range(5):
        ProjectFactory(workspace=workspace, name=f"More {n}", slug=f"more-{n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("home"))
    assert response.content.decode().count('class="project-nav"') == 6


# --- the board ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_the_board_shows_each_role_its_columns_tabs_and_buttons(who, personas, client, project, world):
    client.force_login(personas[who])
    response = client.get(purl("board", project))
    if who == "outsider":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    columns = parse_board(response.content)
    assert ("review" in columns) is (who in REVIEWERS)
    page = read(response)
    assert (purl("merge", project) in page.hrefs) is (who in MANAGERS)
    assert (purl("archived", project) in page.hrefs) is (who in MANAGERS)
    for name in ("project-settings", "import", "upload"):
        assert (purl(name, project) in page.hrefs) is (who in MANAGERS), name
    assert (purl("project-start-labeling", project) in page.forms) is (who in LABELERS)
    assert purl("catalog", project) in page.hrefs and purl("export", project) in page.hrefs
    waiting = next(card for card in columns["unassigned"].cards if card.name == "Waiting")
    assert waiting.moves == (["annotating", "archived", "delete"] if who in MANAGERS else [])
    assert ('aria-label="Move “Waiting”"' in response.content.decode()) is (who in MANAGERS)


def test_the_cached_board_is_kept_apart_by_role(client, manager, labeler, viewer, project, world):
    """A board rendered for a manager is never served to a labeler or viewer, nor the other way round."""
    for first, then in ((manager, labeler), (viewer, manager), (labeler, viewer)):
        caches["boards"].clear()
        client.force_login(first)
        client.get(purl("board", project))
        client.force_login(then)
        columns = parse_board(client.get(purl("board", project)).content)
        waiting = next(card for card in columns["unassigned"].cards if card.name == "Waiting")
        assert ("review" in columns) is (then == manager)
        assert bool(waiting.moves) is (then == manager)


def test_a_new_role_shows_at_once_on_a_cached_board(client, labeler, project, world):
    client.force_login(labeler)
    before = parse_board(client.get(purl("board", project)).content)
    assert "review" not in before and not before["unassigned"].cards[0].moves
    Membership.objects.filter(user=labeler).update(role=Role.MANAGER)
    after = parse_board(client.get(purl("board", project)).content)
    assert "review" in after and after["unassigned"].cards[0].moves


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_a_card_menu_offers_no_move_a_role_may_not_make(who, personas, client, world):
    waiting = world["waiting"]
    client.force_login(personas[who])
    response = client.get(purl("card-menu", waiting.project, waiting.pk), headers=HTMX)
    assert response.status_code == 200
    page = read(response)
    assert not any("/dialog/" in href for href in page.hrefs) and not page.forms
    assert "Nothing you can do with this batch now." in response.content.decode()


# --- the batch page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_the_batch_page_offers_each_role_its_actions(who, personas, client, project, world):
    client.force_login(personas[who])
    waiting, labeling, in_review = world["waiting"], world["labeling"], world["in_review"]
    responses = {name: client.get(purl("batch", project, b.pk)) for name, b in world.items()}
    if who == "outsider":
        assert {r.status_code for r in responses.values()} == {404}
        return
    assert {r.status_code for r in responses.values()} == {200}
    page = read(responses["waiting"])
    for name in ("assign", "archive", "delete"):
        assert (purl("dialog", project, waiting.pk, name) in page.hrefs) is (who in MANAGERS), name
    assert (purl("priority", project, waiting.pk) in page.forms) is (who in MANAGERS)
    page = read(responses["labeling"])
    assert (purl("annotate-batch", project, labeling.pk) in page.hrefs) is (who in LABELERS)
    assert (purl("dialog", project, labeling.pk, "unassign") in page.hrefs) is (who in MANAGERS)
    page = read(responses["in_review"])
    assert (purl("review", project, in_review.pk) in page.hrefs) is (who in REVIEWERS)


def test_a_labeler_is_not_offered_the_editor_of_someone_elses_batch(client, workspace, project, world):
    from tests.factories import MembershipFactory

    other = MembershipFactory(workspace=workspace, role=Role.LABELER).user
    client.force_login(other)
    labeling = world["labeling"]
    page = read(client.get(purl("batch", project, labeling.pk)))
    assert purl("annotate-batch", project, labeling.pk) not in page.hrefs
    assert client.get(purl("annotate-batch", project, labeling.pk)).status_code == 403


# --- the catalog, merge and archived pages ----------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_the_catalog_offers_each_role_its_tools(who, personas, client, project, world):
    client.force_login(personas[who])
    response = client.get(purl("catalog", project))
    if who == "outsider":
        assert response.status_code == 404
        return
    page, content = read(response), response.content.decode()
    assert ("Add batch…" in content) is (who in MANAGERS)
    assert (f'formaction="{purl("catalog-tags", project)}"' in content) is (who in MANAGERS)
    assert ('class="pick"' in content) is (who in MANAGERS)  # nothing to select for
    assert ("Select all matching" in content) is (who in MANAGERS)
    assert (purl("merge", project) in page.hrefs) is (who in MANAGERS)
    assert (purl("archived", project) in page.hrefs) is (who in MANAGERS)


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_merge_and_archive_stay_refused_when_posted_anyway(who, personas, client, manager, project, make_batch):
    a, b = make_batch(1), make_batch(1)
    archived = make_batch(1)
    services.archive(batch=archived, actor=manager)
    client.force_login(personas[who])
    assert client.post(purl("merge", project), {"batches": [a.pk, b.pk], "name": "X"}).status_code == 403
    assert client.post(purl("restore", project, archived.pk)).status_code == 403
    assert Batch.objects.filter(status=BatchStatus.UNASSIGNED).count() == 2
    assert Batch.objects.get(pk=archived.pk).status == BatchStatus.ARCHIVED


# --- dialogs: a form only for those who may send it ---------------------------------------------------


def _dialog_batch(name, world):
    return world["labeling"] if name == "unassign" else world["waiting"]


@pytest.mark.parametrize("name", sorted(DIALOG_PERMISSIONS))
@pytest.mark.parametrize("who", EVERYONE)
def test_each_dialog_url_answers_each_role(name, who, personas, client, project, world):
    batch = _dialog_batch(name, world)
    client.force_login(personas[who])
    for headers in ({}, HTMX):
        response = client.get(purl("dialog", project, batch.pk, name), headers=headers)
        expected = 200 if who in MANAGERS else 404 if who == "outsider" else 403
        assert response.status_code == expected, (headers, response.content[:300])
        content = response.content.decode()
        if expected == 200:
            assert f'action="{purl("move", project, batch.pk)}"' in content
            continue
        assert "<form" not in content.replace('action="/accounts/logout/"', "").split("<main", 1)[-1]
        assert 'name="to"' not in content and "<dialog" not in content
        if expected == 403 and headers:
            assert response["HX-Reswap"] == "none" and "toast" in response["HX-Trigger"]


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_the_dialogs_actions_stay_refused_when_posted_anyway(who, personas, client, labeler, project, world):
    waiting, labeling = world["waiting"], world["labeling"]
    client.force_login(personas[who])
    move = purl("move", project, waiting.pk)
    assert client.post(move, {"to": "delete", "confirm": "yes", "from": "unassigned"}).status_code == 403
    assert client.post(move, {"to": "annotating", "labeler": labeler.pk, "selection": "all"}).status_code == 403
    unassign = purl("move", project, labeling.pk)
    assert client.post(unassign, {"to": "unassigned", "keep_annotations": "1"}).status_code == 403
    assert Batch.objects.get(pk=waiting.pk).status == BatchStatus.UNASSIGNED
    assert Batch.objects.get(pk=labeling.pk).status == BatchStatus.ANNOTATING
    assert waiting.images.count() == 3
