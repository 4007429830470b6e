"""Pre-labels: boxes kept when a batch goes back to Unassigned show on the card, the batch page,
its history and the editor, until a labeler confirms them by saving."""

import json

import pytest
from django.urls import reverse

from boards import selectors, services
from boards.models import Annotation, AnnotationState, Batch, BatchEvent, BatchStatus, EventKind, LabelClass
from boards.templatetags.board_tags import event_text
from boards.views import CardRenderer
from tests.board_html import parse_board
from tests.factories import set_images

pytestmark = pytest.mark.django_db


def url(name, batch, *extra):
    return reverse(name, args=[batch.project.workspace.slug, batch.project.slug, batch.pk, *extra])


def board_url(project):
    return reverse("board", args=[project.workspace.slug, project.slug])


def card(client, batch):
    columns = parse_board(client.get(board_url(batch.project)).content)
    return next(c for column in columns.values() for c in column.cards if c.id == batch.pk)


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)


@pytest.fixture
def labeled(make_batch, manager, labeler, car):
    """A batch of 3 images, assigned, each with one box, and each annotated."""
    batch = make_batch(3)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    Annotation.objects.bulk_create(
        Annotation(image=image, label=car, x=10, y=10, width=20, height=20) for image in batch.images.all()
    )
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return Batch.objects.get(pk=batch.pk)


def test_it_shows_kept_boxes_as_prelabeled_on_the_card(client, manager, labeled):
    client.force_login(manager)
    assert card(client, labeled).prelabeled == 0  # annotated boxes are not pre-labels
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=True)
    shown = card(client, labeled)
    assert shown.prelabeled == 3 and shown.images == 3


def test_it_shows_no_prelabels_when_the_boxes_were_removed(client, manager, labeled):
    client.force_login(manager)
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=False)
    assert card(client, labeled).prelabeled == 0
    assert b"pre-labeled" not in client.get(url("batch", labeled)).content


def test_the_card_shows_the_prelabeled_count_and_a_new_version_when_it_changes(manager, labeled):
    before = Batch.objects.get(pk=labeled.pk).updated_at
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=True)
    card = selectors.card_of(labeled)
    assert card.prelabeled_count == 3
    assert Batch.objects.get(pk=labeled.pk).updated_at > before  # the cached card's key moves on
    html = CardRenderer(manager, labeled.project).render([card])[0].html
    assert ">3 pre-labeled</span>" in html
    card.prelabeled_count = 0
    assert "pre-labeled" not in CardRenderer(manager, labeled.project).render([card])[0].html


def test_the_batch_page_counts_prelabels_and_the_history_says_they_were_kept(client, manager, labeled):
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=True)
    client.force_login(manager)
    page = client.get(url("batch", labeled)).content.decode()
    assert "3 pre-labeled" in page
    assert "<dt>Pre-labeled</dt>" in page
    assert "Moved to Unassigned from Annotating; boxes kept as pre-labels on 3 images" in page
    assert "Unassigned → Unassigned" not in page


def test_the_history_says_how_many_boxes_were_removed(client, manager, labeled):
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=False)
    client.force_login(manager)
    page = client.get(url("batch", labeled)).content.decode()
    assert "Moved to Unassigned from Annotating; 3 boxes removed" in page
    assert "Unassigned → Unassigned" not in page


def test_the_event_records_how_many_images_keep_boxes(manager, labeled):
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=True)
    detail = BatchEvent.objects.get(batch=labeled, kind=EventKind.UNASSIGNED).detail
    assert detail["kept_annotations"] is True and detail["prelabeled_images"] == 3


def test_history_lines_do_not_name_the_column_twice(manager, make_batch):
    batch = make_batch(1)
    services.archive(batch=batch, actor=manager)
    archived = BatchEvent.objects.get(batch=batch, kind=EventKind.ARCHIVED)
    assert event_text(archived) == "Archived"
    older = BatchEvent(kind=EventKind.UNASSIGNED, from_status=BatchStatus.REVIEW, to_status=BatchStatus.UNASSIGNED)
    assert event_text(older) == "Moved to Unassigned from Review"  # an event from before the detail was written


def test_the_editor_shows_prelabels_and_saving_confirms_them(client, manager, labeler, labeled, car):
    services.move_to_unassigned(batch=labeled, actor=manager, keep_annotations=True)
    services.assign(batch=Batch.objects.get(pk=labeled.pk), actor=manager, labeler=labeler)
    image = labeled.images.order_by("pk").first()
    client.force_login(labeler)

    page = client.get(url("annotate", labeled, image.pk)).content.decode()
    assert "Pre-labels to confirm" in page and 'data-action="confirm"' in page
    boxes = json.loads(page.split('id="editor-boxes" type="application/json">')[1].split("</script>")[0])
    assert len(boxes) == 1
    assert card(client, labeled).progress == (0, 3, "annotated")
    assert card(client, labeled).prelabeled == 3

    box = boxes[0]
    body = {"version": image.annotation_version, "empty": False, "boxes": [box | {"label": car.pk}]}
    response = client.post(url("annotate-save", labeled, image.pk), json.dumps(body), content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == AnnotationState.ANNOTATED

    shown = card(client, labeled)
    assert shown.prelabeled == 2 and shown.progress == (1, 3, "annotated")
    assert "Pre-labels to confirm" not in client.get(url("annotate", labeled, image.pk)).content.decode()
