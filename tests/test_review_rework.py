"""Images a review sent back must be changed or checked before their batch is submitted again."""

import json

import pytest
from django.urls import reverse

from boards import services
from boards.formats.box import Box
from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    LabelClass,
    ReviewState,
)
from core.errors import NotAllowed, WrongState
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL = ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"]
MAY_EDIT = {"owner", "manager", "reviewer", "labeler"}


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car")


@pytest.fixture
def sent_back(make_batch, manager, labeler, reviewer, car):
    """A batch of three boxed images, reviewed: two rejected (with comments) went back to the labeler."""
    batch = make_batch(3, name="Dock 7 scans")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    for n, image in enumerate(batch.images.order_by("pk")):
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1 + n, 2, 10, 10)])
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    ids = list(batch.images.order_by("pk").values_list("pk", flat=True))
    result = services.review(
        batch=Batch.objects.get(pk=batch.pk),
        actor=reviewer,
        approved=ids[:1],
        rejected=ids[1:],
        comments={ids[1]: "The car is cut off", ids[2]: "Missed a van"},
    )
    back = Batch.objects.get(pk=result.rejected.pk)
    assert back.status == BatchStatus.ANNOTATING
    return back, [Image.objects.get(pk=pk) for pk in ids[1:]]


def fresh(batch):
    return Batch.objects.get(pk=batch.pk)


def _rejected(batch):
    return Image.objects.filter(placement__batch=batch, review_state=ReviewState.REJECTED).count()


# --- the rule, in the service -------------------------------------------------------


def test_it_refuses_to_submit_while_sent_back_images_await_rework(sent_back, labeler):
    back, _images = sent_back
    with pytest.raises(WrongState, match="2 images sent back by the review still await rework") as refused:
        services.submit(batch=back, actor=labeler)
    assert refused.value.status == 409
    assert fresh(back).status == BatchStatus.ANNOTATING
    assert _rejected(back) == 2
    assert not BatchEvent.objects.filter(batch=back, kind=EventKind.SUBMITTED).exists()


def test_a_save_with_the_same_boxes_is_no_rework(sent_back, labeler):
    back, (first, _second) = sent_back
    same = [Box(a.label_id, a.x, a.y, a.width, a.height) for a in first.annotations.all()]
    saved = services.save_annotations(image=first, actor=labeler, boxes=same)
    assert saved.review_state == ReviewState.REJECTED
    assert saved.annotation_version == first.annotation_version + 1
    with pytest.raises(WrongState, match="2 images"):
        services.submit(batch=fresh(back), actor=labeler)


def test_a_changed_image_no_longer_awaits_rework(sent_back, labeler):
    back, (first, _second) = sent_back
    saved = services.save_annotations(image=first, actor=labeler, boxes=[Box("car", 5, 5, 20, 20)])
    assert saved.review_state == ReviewState.PENDING
    assert saved.review_comment == "The car is cut off"  # kept until the next decision
    with pytest.raises(WrongState, match="1 image sent back by the review still awaits rework"):
        services.submit(batch=fresh(back), actor=labeler)


def test_changing_one_and_checking_the_other_lets_the_batch_be_submitted(sent_back, labeler):
    back, (first, second) = sent_back
    services.save_annotations(image=first, actor=labeler, boxes=[Box("car", 5, 5, 20, 20)])
    services.confirm_rework(image=second, actor=labeler)
    submitted = services.submit(batch=fresh(back), actor=labeler)
    assert submitted.status == BatchStatus.REVIEW
    assert set(Image.objects.filter(placement__batch=back).values_list("review_state", flat=True)) == {
        ReviewState.PENDING
    }


@pytest.mark.parametrize("who", ALL)
def test_who_may_check_an_image_as_needing_no_change(who, personas, sent_back):
    back, (first, _second) = sent_back
    if who in MAY_EDIT:
        services.confirm_rework(image=first, actor=personas[who])
        image = Image.objects.get(pk=first.pk)
        assert image.review_state == ReviewState.PENDING
        assert image.review_comment == "The car is cut off"
        assert list(image.annotations.values_list("x", flat=True)) == [first.annotations.get().x]  # boxes untouched
        event = BatchEvent.objects.get(batch=back, kind=EventKind.CHECKED)
        assert (event.actor, event.detail["image"], event.detail["image_name"]) == (
            personas[who],
            first.pk,
            first.original_filename,
        )
        assert fresh(back).n_reviewed == 1  # the stored card counts follow
    else:
        with pytest.raises(NotAllowed):
            services.confirm_rework(image=first, actor=personas[who])
        assert Image.objects.get(pk=first.pk).review_state == ReviewState.REJECTED
        assert not BatchEvent.objects.filter(kind=EventKind.CHECKED).exists()


def test_another_labeler_may_not_check_an_image(workspace, sent_back):
    _back, (first, _second) = sent_back
    other = MembershipFactory(workspace=workspace, role="labeler", user=UserFactory()).user
    with pytest.raises(NotAllowed, match="assigned to someone else"):
        services.confirm_rework(image=first, actor=other)
    assert Image.objects.get(pk=first.pk).review_state == ReviewState.REJECTED


def test_only_an_image_awaiting_rework_can_be_checked(sent_back, make_batch, manager, labeler):
    _back, (first, _second) = sent_back
    services.confirm_rework(image=first, actor=labeler)
    with pytest.raises(WrongState, match="does not await rework"):
        services.confirm_rework(image=first, actor=labeler)
    assert BatchEvent.objects.filter(kind=EventKind.CHECKED).count() == 1
    approved = Image.objects.filter(review_state=ReviewState.APPROVED).get()
    with pytest.raises(WrongState, match="this one is in Dataset"):
        services.confirm_rework(image=approved, actor=manager)


def test_a_whole_rejected_batch_needs_every_image_reworked(make_batch, manager, labeler, reviewer, car):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    for image in batch.images.all():
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    services.submit(batch=fresh(batch), actor=labeler)
    services.reject(batch=fresh(batch), actor=reviewer, comment="Boxes too loose")
    with pytest.raises(WrongState, match="2 images"):
        services.submit(batch=fresh(batch), actor=labeler)
    for image in batch.images.all():
        services.confirm_rework(image=image, actor=labeler)
    assert services.submit(batch=fresh(batch), actor=labeler).status == BatchStatus.REVIEW


def test_moving_back_to_unassigned_clears_the_rework(sent_back, manager, labeler):
    back, _images = sent_back
    services.move_to_unassigned(batch=back, actor=manager, keep_annotations=True)
    assert _rejected(back) == 0


# --- every way to submit is refused ------------------------------------------------------


def _move_url(batch):
    return reverse("move", args=["acme", "parcels", batch.pk])


def test_the_board_move_refuses_the_submit(client, sent_back, labeler):
    back, _images = sent_back
    client.force_login(labeler)
    response = client.post(_move_url(back), {"to": "review", "from": "annotating"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "2 images sent back by the review still await rework" in response.content.decode()
    assert fresh(back).status == BatchStatus.ANNOTATING


def test_the_batch_page_form_refuses_the_submit(client, sent_back, labeler):
    back, _images = sent_back
    client.force_login(labeler)
    response = client.post(_move_url(back), {"to": "review", "from": "annotating", "from_page": "batch"})
    assert response.status_code == 409
    assert "still await rework" in response.content.decode()
    assert fresh(back).status == BatchStatus.ANNOTATING


def test_the_api_move_refuses_the_submit(client, sent_back, labeler, make_key):
    from tests.api_support import Api

    back, _images = sent_back
    response = Api(client, make_key(labeler)).post(f"/acme/parcels/batches/{back.pk}/move", {"to": "review"})
    assert response.status_code == 409
    assert "still await rework" in response.json()["error"]["message"]
    assert fresh(back).status == BatchStatus.ANNOTATING


# --- what the screens say ------------------------------------------------------------------


def _editor(client, batch, image):
    return client.get(reverse("annotate", args=["acme", "parcels", batch.pk, image.pk]))


def test_the_editor_lists_the_images_awaiting_rework_and_says_why_submit_waits(client, sent_back, labeler):
    back, (first, second) = sent_back
    client.force_login(labeler)
    page = _editor(client, back, first).content.decode()
    assert "Awaiting rework" in page
    assert first.original_filename in page and second.original_filename in page
    assert "The car is cut off" in page and "Missed a van" in page
    assert "Checked, no change needed" in page
    assert reverse("annotate-checked", args=["acme", "parcels", back.pk, first.pk]) in page
    assert 'id="submit-form" class="submit-form" hidden' in page
    assert "Submit waits: 2 images sent back by the review still await rework" in page
    assert page.count('class="rework-badge"') == 2


def test_the_editor_save_answers_whether_submit_is_offered(client, sent_back, labeler, car):
    back, (first, second) = sent_back
    client.force_login(labeler)
    url = reverse("annotate-save", args=["acme", "parcels", back.pk, first.pk])
    body = {"version": first.annotation_version, "boxes": [{"label": car.pk, "x": 3, "y": 3, "width": 9, "height": 9}]}
    data = client.post(url, json.dumps(body), content_type="application/json").json()
    assert data["review_state"] == "pending" and data["progress"]["rework"] == 1
    assert data["all_done"] is False and "1 image sent back" in data["submit_waits"]
    services.confirm_rework(image=second, actor=labeler)
    body = {"version": data["version"], "boxes": data["boxes"]}
    data = client.post(url, json.dumps(body), content_type="application/json").json()
    assert data["all_done"] is True and data["submit_waits"] == ""


def test_the_checked_button_posts_and_opens_the_next_image_awaiting_rework(client, sent_back, labeler):
    back, (first, second) = sent_back
    client.force_login(labeler)
    url = reverse("annotate-checked", args=["acme", "parcels", back.pk, first.pk])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("annotate", args=["acme", "parcels", back.pk, second.pk])
    assert Image.objects.get(pk=first.pk).review_state == ReviewState.PENDING
    again = client.post(url, follow=True)
    assert "does not await rework" in again.content.decode()


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_the_checked_button_is_refused_to_those_who_may_not_edit(who, personas, client, sent_back):
    back, (first, _second) = sent_back
    client.force_login(personas[who])
    response = client.post(reverse("annotate-checked", args=["acme", "parcels", back.pk, first.pk]))
    assert response.status_code == (404 if who == "outsider" else 403)
    assert Image.objects.get(pk=first.pk).review_state == ReviewState.REJECTED


def test_the_card_menu_and_batch_page_offer_no_submit_and_say_why(client, sent_back, labeler):
    back, (first, second) = sent_back
    client.force_login(labeler)
    menu = client.get(reverse("card-menu", args=["acme", "parcels", back.pk]), HTTP_HX_REQUEST="true")
    text = menu.content.decode()
    assert "Submit for review" not in text and "Submit waits: 2 images sent back" in text
    page = client.get(reverse("batch", args=["acme", "parcels", back.pk])).content.decode()
    assert "Submit for review" not in page and "Submit waits: 2 images sent back" in page
    services.confirm_rework(image=first, actor=labeler)
    services.confirm_rework(image=second, actor=labeler)
    menu = client.get(reverse("card-menu", args=["acme", "parcels", back.pk]), HTTP_HX_REQUEST="true")
    assert "Submit for review" in menu.content.decode() and "Submit waits" not in menu.content.decode()


def test_the_board_card_says_how_many_images_await_rework(client, sent_back, labeler):
    back, (first, _second) = sent_back
    client.force_login(labeler)
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert "2 to rework" in board
    services.confirm_rework(image=first, actor=labeler)
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert "1 to rework" in board


def test_an_annotated_batch_never_reviewed_submits_as_before(make_batch, manager, labeler, car):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    Annotation.objects.bulk_create(
        Annotation(image=i, label=car, x=1, y=1, width=2, height=2) for i in batch.images.all()
    )
    batch.images.update(annotation_state=AnnotationState.ANNOTATED)
    services.mark_changed(batch)
    assert services.submit(batch=fresh(batch), actor=labeler).status == BatchStatus.REVIEW
