"""Archiving asks first, as deleting does: the dialog, then the confirmed post."""

import pytest
from django.urls import reverse

from boards import selectors, services
from boards.models import Batch, BatchStatus

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name, batch, *extra):
    return reverse(name, args=[batch.project.workspace.slug, batch.project.slug, batch.pk, *extra])


def test_the_archive_move_opens_a_dialog(manager, make_batch):
    batch = make_batch(1)
    moves = services.MoveRules(manager, batch.project).moves(selectors.card_of(batch))
    archive = next(m for m in moves if m.target == BatchStatus.ARCHIVED)
    assert (archive.label, archive.dialog) == ("Archive…", "archive")


@pytest.mark.parametrize("htmx", [True, False])
def test_an_unconfirmed_archive_asks_first_and_changes_nothing(client, manager, make_batch, htmx):
    batch = make_batch(2)
    client.force_login(manager)
    response = client.post(url("move", batch), {"to": "archived", "from": "unassigned"}, headers=HTMX if htmx else {})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="archive-dialog"' in page and 'name="confirm" value="yes"' in page and "2 images" in page
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED


def test_a_confirmed_archive_goes_ahead(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    response = client.post(url("move", batch), {"to": "archived", "confirm": "yes"}, headers=HTMX)
    assert response.status_code == 200 and "Archived" in response["HX-Trigger"]
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ARCHIVED


def test_the_archive_dialog_page_works_without_javascript(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    page = client.get(url("dialog", batch, "archive")).content.decode()
    assert 'id="archive-dialog"' in page and " open" in page


def test_those_who_may_not_archive_are_refused_not_asked(client, labeler, make_batch):
    batch = make_batch(1)
    client.force_login(labeler)
    assert client.post(url("move", batch), {"to": "archived"}, headers=HTMX).status_code == 403
    assert client.get(url("dialog", batch, "archive")).status_code == 403
