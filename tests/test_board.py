"""The board: pages, moves, dialogs, review and my-work views, for every persona, htmx and plain."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from boards import selectors, services
from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    LabelClass,
    ReviewState,
)
from tests.board_html import parse_board
from tests.factories import BatchFactory, ImageFactory, jpeg_bytes, set_images

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name, batch, *extra):
    return reverse(name, args=[batch.project.workspace.slug, batch.project.slug, batch.pk, *extra])


def board_url(project):
    return reverse("board", args=[project.workspace.slug, project.slug])


def move(client, batch, htmx=False, **data):
    return client.post(url("move", batch), data, headers=HTMX if htmx else {})


def status_of(batch):
    return Batch.objects.get(pk=batch.pk).status


@pytest.fixture
def in_review(make_batch, manager, labeler, reviewer):
    batch = make_batch(4)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)


# --- the board page ----------------------------------------------------------------


def test_htmx_gets_only_the_board_partial(client, manager, project, make_batch):
    make_batch(1, name="Dock 4")
    client.force_login(manager)
    full = client.get(board_url(project))
    partial = client.get(board_url(project), headers=HTMX)
    assert b"<html" in full.content and b"<html" not in partial.content
    assert b'id="board"' in partial.content and b"Dock 4" in partial.content
    assert "HX-Request" in partial["Vary"]


def test_the_filter_narrows_cards_by_name_and_labeler(client, manager, labeler, project, make_batch):
    make_batch(1, name="North route")
    mine = make_batch(1, name="South route")
    services.assign(batch=mine, actor=manager, labeler=labeler)
    client.force_login(manager)

    def names(**query):
        columns = parse_board(client.get(board_url(project), query).content).values()
        return sorted(name for c in columns for name in c.names)

    assert names(q="north") == ["North route"]
    assert names(labeler="labeler@acme") == ["South route"]
    assert names(q="route", labeler="nobody") == []
    assert b"No batch here matches the filter." in client.get(board_url(project), {"q": "zzz"}).content


def test_a_long_column_shows_fifty_cards_and_loads_the_rest(client, manager, project):
    for i in range(57):
        BatchFactory(project=project, name=f"b{i:02d}", priority=1 + i % 5)
    client.force_login(manager)
    column = parse_board(client.get(board_url(project)).content)["unassigned"]
    assert (len(column.cards), column.count, column.has_more) == (50, 57, True)
    more = client.get(reverse("column-more", args=[project.workspace.slug, project.slug, "unassigned"]), {"offset": 50})
    assert more.status_code == 200
    assert more.content.count(b'class="batch-card') == 7 and b"Show more" not in more.content
    shown = set(column.names)
    rest = {f"b{i:02d}" for i in range(57)} - shown
    assert len(rest) == 7 and all(f">{name}</a>".encode() in more.content for name in rest)


def test_more_cards_of_a_hidden_column_are_404(client, labeler, project):
    client.force_login(labeler)
    response = client.get(reverse("column-more", args=[project.workspace.slug, project.slug, "review"]))
    assert response.status_code == 404


def test_cards_show_counts_thumbnails_people_and_progress(client, manager, labeler, reviewer, in_review, project):
    client.force_login(manager)
    card = parse_board(client.get(board_url(project)).content)["review"].cards[0]
    assert (card.images, card.thumbnails, card.jobs) == (4, 4, 1)
    assert card.people == [f"Labeler: {labeler.email}", f"Reviewer: {reviewer.email}"]
    assert card.progress == (0, 4, "reviewed")
    services.record_decision(image=in_review.images.first(), actor=reviewer, decision="approve")
    response = client.get(board_url(project))
    assert parse_board(response.content)["review"].cards[0].progress == (1, 4, "reviewed")
    assert b'<rect width="25" height="1"/>' in response.content  # the bar, drawn without an inline style


def test_the_version_check_answers_304_until_something_changes(client, manager, project, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    version_url = reverse("board-version", args=[project.workspace.slug, project.slug])
    first = client.get(version_url)
    assert first.status_code == 204
    etag = first["ETag"]
    assert client.get(version_url, headers={"If-None-Match": etag}).status_code == 304
    services.set_priority(batch=batch, actor=manager, priority=1)
    changed = client.get(version_url, headers={"If-None-Match": etag})
    assert changed.status_code == 204 and changed["ETag"] != etag


def test_the_version_check_is_404_for_outsiders(client, outsider, project):
    client.force_login(outsider)
    assert client.get(reverse("board-version", args=[project.workspace.slug, project.slug])).status_code == 404


# --- which moves each persona is offered -------------------------------------------------


def card_moves(user, batch):
    """The moves the board offers this user on this batch's card."""
    return services.MoveRules(user, batch.project).moves(selectors.card_of(batch))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", ["annotating", "archived", "delete"]),
        ("manager", ["annotating", "archived", "delete"]),
        ("reviewer", []),
        ("labeler", []),
        ("viewer", []),
    ],
)
def test_unassigned_cards_offer_moves_by_role(who, expected, personas, make_batch):
    assert [m.target for m in card_moves(personas[who], make_batch(2))] == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("manager", ["dataset", "annotating", "unassigned"]),
        ("reviewer", ["dataset", "annotating"]),
        ("labeler", []),
        ("viewer", []),
    ],
)
def test_review_cards_offer_moves_by_role(who, expected, personas, in_review):
    assert [m.target for m in card_moves(personas[who], in_review)] == expected


def test_submit_is_offered_to_the_labeler_once_every_image_is_done(make_batch, manager, labeler, viewer):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    assert card_moves(labeler, batch) == []
    for image in batch.images.all():
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    assert [m.target for m in card_moves(labeler, batch)] == ["review"]
    assert card_moves(viewer, batch) == []


def test_locked_cards_are_marked_for_viewers(client, viewer, project, make_batch):
    make_batch(1)
    client.force_login(viewer)
    response = client.get(board_url(project))
    assert b"batch-card prio-3 locked" in response.content
    assert b'data-draggable="false"' in response.content and b"card-menu" not in response.content


@pytest.mark.parametrize(
    ("who", "labels"),
    [
        ("manager", ["Approve all", "Reject all", "Move to Unassigned…"]),
        ("reviewer", ["Approve all", "Reject all"]),
        ("labeler", []),
        ("viewer", []),
    ],
)
def test_the_card_menu_lists_only_this_users_moves(who, labels, personas, client, in_review):
    client.force_login(personas[who])
    response = client.get(url("card-menu", in_review), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    for label in ["Approve all", "Reject all", "Move to Unassigned…"]:
        assert (label in html) is (label in labels)
    forms = len([x for x in labels if not x.endswith("…")]) + (who == "manager")  # moves, and priority
    assert html.count("csrfmiddlewaretoken") == forms
    assert ("Review images…" in html) is bool(labels)
    assert ("Nothing you can do" in html) is (not labels)


def test_the_menu_of_a_card_moved_meanwhile_is_a_409(client, manager, labeler, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    response = client.get(url("card-menu", batch), {"from": "unassigned"}, headers=HTMX)
    assert response.status_code == 409
    assert "Someone else moved this batch to Annotating" in response.content.decode()
    fine = client.get(url("card-menu", batch), {"from": "annotating"}, headers=HTMX)
    assert fine.status_code == 200 and "Move to Unassigned…" in fine.content.decode()


def test_the_card_menu_without_htmx_is_the_batch_page(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    response = client.get(url("card-menu", batch))
    assert response.status_code == 302 and response["Location"] == url("batch", batch)


def test_the_card_menu_of_another_workspace_is_404(client, outsider, make_batch):
    client.force_login(outsider)
    assert client.get(url("card-menu", make_batch(1)), headers=HTMX).status_code == 404


def test_cards_carry_no_csrf_token_so_rendered_cards_can_be_shared(client, manager, make_batch, project):
    make_batch(1)
    client.force_login(manager)
    board = client.get(board_url(project), headers=HTMX).content
    assert b"card-menu" in board and b"csrfmiddlewaretoken" not in board


def test_each_user_sees_their_own_board_of_the_same_version(client, manager, viewer, labeler, in_review, project):
    client.force_login(manager)
    managers = parse_board(client.get(board_url(project)).content)
    client.force_login(viewer)
    viewers = parse_board(client.get(board_url(project)).content)
    assert list(managers) == ["unassigned", "annotating", "review", "dataset"]
    assert list(viewers) == ["unassigned", "annotating", "dataset"]
    assert managers["review"].cards[0].moves == ["dataset", "annotating", "unassigned"]
    client.force_login(manager)
    assert parse_board(client.get(board_url(project)).content) == managers


def test_a_changed_role_changes_the_board_at_once(client, manager, reviewer, in_review, project):
    client.force_login(reviewer)
    assert parse_board(client.get(board_url(project)).content)["review"].cards[0].moves == ["dataset", "annotating"]
    Membership.objects.filter(user=reviewer).update(role=Role.VIEWER)
    client.force_login(reviewer)
    assert "review" not in parse_board(client.get(board_url(project)).content)


# --- moving cards ---------------------------------------------------------------------


def test_a_drop_on_annotating_asks_for_a_labeler_first(client, manager, make_batch):
    batch = make_batch(3)
    client.force_login(manager)
    response = move(client, batch, htmx=True, to="annotating")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#dialog-slot"
    assert b'id="assign-dialog"' in response.content
    assert status_of(batch) == BatchStatus.UNASSIGNED


def test_an_htmx_move_answers_with_the_board_out_of_band_and_a_toast(client, manager, labeler, make_batch):
    batch = make_batch(3, name="Pier 7")
    client.force_login(manager)
    response = move(client, batch, htmx=True, to="annotating", labeler=labeler.pk, selection="all")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="board"' not in body  # no redraw: the card and the counts only
    assert f'<li id="batch-{batch.pk}" hx-swap-oob="delete">' in body
    assert '<div hx-swap-oob="beforeend:#cards-annotating">' in body and f'id="batch-{batch.pk}"' in body
    assert '<span class="count" id="count-annotating" hx-swap-oob="true" aria-label="1 batch">1</span>' in body
    assert '<span class="count" id="count-unassigned" hx-swap-oob="true" aria-label="0 batches">0</span>' in body
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast["level"] == "success" and "Pier 7" in toast["message"]
    assert status_of(batch) == BatchStatus.ANNOTATING


def test_a_moved_card_lands_before_the_card_that_follows_it(client, manager, labeler, make_batch):
    urgent = make_batch(1, priority=1)
    later = make_batch(1, priority=4)
    services.assign(batch=later, actor=manager, labeler=labeler)
    client.force_login(manager)
    body = move(client, urgent, htmx=True, to="annotating", labeler=labeler.pk).content.decode()
    assert f'<div hx-swap-oob="beforebegin:#batch-{later.pk}">' in body


def test_a_split_shows_both_cards(client, manager, labeler, make_batch):
    batch = make_batch(4)
    client.force_login(manager)
    body = move(client, batch, htmx=True, to="annotating", labeler=labeler.pk, selection="first", first="1").content
    rest = Batch.objects.get(split_from=batch)
    assert b'<div hx-swap-oob="beforeend:#cards-unassigned">' in body
    assert f'id="batch-{rest.pk}"'.encode() in body and f'id="batch-{batch.pk}"'.encode() in body


def test_a_plain_move_redirects_to_the_board(client, manager, labeler, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    response = move(client, batch, to="annotating", labeler=labeler.pk)
    assert response.status_code == 302 and response["Location"] == board_url(batch.project)


def test_assigning_the_first_n_images_splits_off_the_rest(client, manager, labeler, make_batch):
    batch = make_batch(6)
    first_three = sorted(batch.images.values_list("pk", flat=True))[:3]
    client.force_login(manager)
    move(client, batch, htmx=True, to="annotating", labeler=labeler.pk, selection="first", first="3")
    assert sorted(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True)) == first_three
    rest = Batch.objects.get(split_from=batch)
    assert rest.status == BatchStatus.UNASSIGNED and rest.images.count() == 3


def test_assigning_picked_images_splits_off_the_rest(client, manager, labeler, make_batch):
    batch = make_batch(4)
    picked = list(batch.images.values_list("pk", flat=True))[1:2]
    client.force_login(manager)
    move(client, batch, to="annotating", labeler=labeler.pk, selection="chosen", images=picked)
    assert list(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True)) == picked


@pytest.mark.parametrize("htmx", [True, False])
def test_moving_picked_images_with_none_picked_moves_nothing(htmx, client, manager, labeler, make_batch):
    batch = make_batch(3)
    client.force_login(manager)
    response = move(client, batch, htmx=htmx, to="annotating", labeler=labeler.pk, selection="chosen")
    assert status_of(batch) == BatchStatus.UNASSIGNED and batch.images.count() == 3
    assert Batch.objects.filter(project=batch.project).count() == 1
    assert response.status_code == 400 and "Pick at least one image below" in response.content.decode()


@pytest.mark.parametrize("first", ["0", "x", ""])
def test_a_bad_first_n_is_a_400(first, client, manager, labeler, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    response = move(client, batch, htmx=True, to="annotating", labeler=labeler.pk, selection="first", first=first)
    assert response.status_code == 400 and status_of(batch) == BatchStatus.UNASSIGNED


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_moves_out_of_unassigned_are_refused_for_non_managers(who, personas, client, labeler, make_batch):
    batch = make_batch(2)
    client.force_login(personas[who])
    for htmx in (True, False):
        response = move(client, batch, htmx=htmx, to="annotating", labeler=labeler.pk)
        assert response.status_code == 403
    htmx_response = move(client, batch, htmx=True, to="archived")
    assert htmx_response.status_code == 403 and htmx_response["HX-Reswap"] == "none"
    assert "permission" in htmx_response.content.decode()
    assert status_of(batch) == BatchStatus.UNASSIGNED


def test_a_refused_plain_move_re_renders_the_board_with_the_reason(client, labeler, make_batch):
    batch = make_batch(1)
    client.force_login(labeler)
    response = move(client, batch, to="archived")
    assert response.status_code == 403
    assert b'id="board"' in response.content and b"do not have permission to archive" in response.content


@pytest.mark.parametrize("to", ["dataset", "annotating"])
@pytest.mark.parametrize("who", ["labeler", "viewer"])
def test_public_users_cannot_review_by_dragging(to, who, personas, client, in_review):
    client.force_login(personas[who])
    assert move(client, in_review, htmx=True, to=to).status_code == 403
    assert status_of(in_review) == BatchStatus.REVIEW


def test_a_reviewer_approves_by_dragging_to_dataset(client, reviewer, in_review):
    client.force_login(reviewer)
    assert move(client, in_review, htmx=True, to="dataset").status_code == 200
    assert status_of(in_review) == BatchStatus.DATASET
    assert set(in_review.images.values_list("review_state", flat=True)) == {ReviewState.APPROVED}


def test_a_reviewer_rejects_by_dragging_back_to_annotating(client, reviewer, labeler, in_review):
    client.force_login(reviewer)
    assert move(client, in_review, htmx=True, to="annotating").status_code == 200
    batch = Batch.objects.get(pk=in_review.pk)
    assert batch.status == BatchStatus.ANNOTATING and batch.current_job.labeler == labeler


def test_a_move_someone_else_beat_us_to_is_a_409(client, manager, labeler, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    stale = Batch.objects.get(pk=batch.pk)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    from boards.services import ConcurrentChange

    with pytest.raises(ConcurrentChange):
        services.move_batch(batch=stale, actor=manager, to="archived")
    response = move(client, batch, htmx=True, to="archived")  # the view reads afresh: wrong state now
    assert response.status_code == 409
    assert response.content.decode() == "A batch cannot move from Annotating to Archived."


@pytest.mark.parametrize(("to", "code"), [("dataset", 409), ("nowhere", 400), ("", 400)])
def test_impossible_moves_say_why(to, code, client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    response = move(client, batch, htmx=True, to=to)
    assert response.status_code == code and response.content


def test_submitting_to_the_wrong_column_for_the_projects_mode_is_refused(client, manager, labeler, make_batch):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    set_images(batch.images, annotation_state=AnnotationState.EMPTY)
    client.force_login(labeler)
    response = move(client, batch, htmx=True, to="dataset")
    assert response.status_code == 409 and "submit it to Review first" in response.content.decode()
    assert move(client, batch, htmx=True, to="review").status_code == 200
    assert status_of(batch) == BatchStatus.REVIEW


def test_moving_back_to_unassigned_asks_about_annotations(client, manager, labeler, make_batch):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    label = LabelClass.objects.create(project=batch.project, name="car")
    Annotation.objects.create(image=batch.images.first(), label=label, x=1, y=1, width=2, height=2)
    client.force_login(manager)
    asked = move(client, batch, htmx=True, to="unassigned")
    assert asked.status_code == 200 and b'id="unassign-dialog"' in asked.content
    assert move(client, batch, htmx=True, to="unassigned", keep_annotations="1").status_code == 200
    assert status_of(batch) == BatchStatus.UNASSIGNED and Annotation.objects.count() == 1


def test_delete_asks_for_confirmation_with_the_image_count(client, manager, make_batch):
    batch = make_batch(3)
    client.force_login(manager)
    asked = move(client, batch, htmx=True, to="delete")
    assert asked.status_code == 200 and b"permanent" in asked.content and b"3 images" in asked.content
    assert Batch.objects.filter(pk=batch.pk).exists()
    done = move(client, batch, htmx=True, to="delete", confirm="yes")
    assert done.status_code == 200 and "Deleted" in json.loads(done["HX-Trigger"])["toast"]["message"]
    assert not Batch.objects.filter(pk=batch.pk).exists() and not Image.objects.exists()


def test_delete_outside_unassigned_is_a_409_even_confirmed(client, manager, in_review):
    client.force_login(manager)
    response = move(client, in_review, htmx=True, to="delete", confirm="yes")
    assert response.status_code == 409 and "Move it to Unassigned first" in response.content.decode()


def test_other_workspaces_cards_cannot_be_moved(client, outsider, make_batch):
    batch = make_batch(1)
    client.force_login(outsider)
    assert move(client, batch, to="archived").status_code == 404
    assert client.get(url("dialog", batch, "assign")).status_code == 404
    assert status_of(batch) == BatchStatus.UNASSIGNED


@pytest.mark.parametrize("name", ["assign", "unassign", "delete"])
def test_dialogs_work_as_pages_and_as_htmx(name, client, manager, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    page = client.get(url("dialog", batch, name))
    assert page.status_code == 200 and b"<html" in page.content and b" open>" in page.content
    fragment = client.get(url("dialog", batch, name), headers=HTMX)
    assert b"<html" not in fragment.content and b"data-autoshow" in fragment.content


def test_unknown_dialogs_are_404(client, manager, make_batch):
    client.force_login(manager)
    assert client.get(url("dialog", make_batch(1), "explode")).status_code == 404


# --- review ---------------------------------------------------------------------------


def test_the_review_page_steps_through_images(client, reviewer, in_review):
    client.force_login(reviewer)
    response = client.get(url("review", in_review))
    assert response.status_code == 200
    first = in_review.images.order_by("pk").first()
    assert response.context["image"] == first and response.context["pending"] == 4
    decided = client.post(
        url("review-decide", in_review), {"image": first.pk, "decision": "reject", "comment": "Blurry"}, headers=HTMX
    )
    assert decided.status_code == 200 and b"<html" not in decided.content
    second = in_review.images.order_by("pk")[1]
    assert f'name="image" value="{second.pk}"'.encode() in decided.content
    assert b"1 rejected" in decided.content
    assert Image.objects.get(pk=first.pk).review_comment == "Blurry"


def test_review_decisions_work_as_plain_posts(client, reviewer, in_review):
    client.force_login(reviewer)
    image = in_review.images.first()
    response = client.post(url("review-decide", in_review), {"image": image.pk, "decision": "approve"})
    assert response.status_code == 302 and "?image=" in response["Location"]
    assert Image.objects.get(pk=image.pk).review_state == ReviewState.APPROVED


@pytest.mark.parametrize("who", ["labeler", "viewer"])
def test_public_users_get_no_review_page_and_no_decisions(who, personas, client, in_review):
    client.force_login(personas[who])
    assert client.get(url("review", in_review)).status_code == 403
    image = in_review.images.first()
    assert client.post(url("review-decide", in_review), {"image": image.pk, "decision": "approve"}).status_code == 403
    assert client.post(url("review-finish", in_review), {"all": "approve"}).status_code == 403
    assert Image.objects.get(pk=image.pk).review_state == ReviewState.PENDING
    assert status_of(in_review) == BatchStatus.REVIEW


def test_finishing_a_mixed_review_splits_the_batch(client, reviewer, labeler, in_review):
    client.force_login(reviewer)
    ids = sorted(in_review.images.values_list("pk", flat=True))
    for pk in ids[:3]:
        client.post(url("review-decide", in_review), {"image": pk, "decision": "approve"})
    client.post(url("review-decide", in_review), {"image": ids[3], "decision": "reject"})
    response = client.post(url("review-finish", in_review))
    assert response.status_code == 302
    assert status_of(in_review) == BatchStatus.DATASET and in_review.images.count() == 3
    back = Batch.objects.get(split_from=in_review)
    assert back.status == BatchStatus.ANNOTATING and back.current_job.labeler == labeler
    assert list(back.images.values_list("pk", flat=True)) == [ids[3]]


def test_finishing_with_undecided_images_says_how_many(client, reviewer, in_review):
    client.force_login(reviewer)
    response = client.post(url("review-finish", in_review))
    assert response.status_code == 400 and b"4 images still need a decision" in response.content
    assert status_of(in_review) == BatchStatus.REVIEW


def test_approve_all_from_the_review_page(client, reviewer, in_review):
    client.force_login(reviewer)
    client.post(url("review-finish", in_review), {"all": "approve"})
    assert status_of(in_review) == BatchStatus.DATASET


def test_the_review_page_sends_batches_not_in_review_to_their_page(client, reviewer, make_batch):
    batch = make_batch(1)
    client.force_login(reviewer)
    response = client.get(url("review", batch))
    assert response.status_code == 302 and response["Location"] == url("batch", batch)


def test_an_image_of_another_batch_cannot_be_decided_here(client, reviewer, in_review, make_batch):
    other = make_batch(1).images.get()
    client.force_login(reviewer)
    assert client.post(url("review-decide", in_review), {"image": other.pk, "decision": "approve"}).status_code == 404


# --- my work --------------------------------------------------------------------------


def test_my_work_lists_labeling_and_reviewing_with_counts(client, labeler, reviewer, manager, in_review, make_batch):
    todo = make_batch(3, priority=1)
    services.assign(batch=todo, actor=manager, labeler=labeler)
    client.force_login(labeler)
    mine = client.get(reverse("my-work")).context
    assert [j.batch.pk for j in mine["labeling"]] == [todo.pk]
    assert mine["images_to_label"] == 3 and mine["reviewing"] == []
    client.force_login(reviewer)
    theirs = client.get(reverse("my-work")).context
    assert [j.batch.pk for j in theirs["reviewing"]] == [in_review.pk] and theirs["images_to_review"] == 4


def test_my_work_needs_a_constant_number_of_queries(client, labeler, manager, project, django_assert_max_num_queries):
    for _ in range(10):
        batch = BatchFactory(project=project)
        ImageFactory(project=project, batch=batch)
        services.assign(batch=batch, actor=manager, labeler=labeler)
    client.force_login(labeler)
    with django_assert_max_num_queries(9):  # the eighth and ninth: the label queues waiting, whatever their number
        assert len(client.get(reverse("my-work")).context["labeling"]) == 10


# --- uploads in several requests ----------------------------------------------------------


def test_an_upload_sent_in_parts_lands_in_one_batch(client, manager, project):
    client.force_login(manager)
    upload_url = reverse("upload", args=[project.workspace.slug, project.slug])
    first = client.post(
        upload_url,
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(color=(1, 1, 1)))]},
        headers={"accept": "application/json"},
    ).json()
    second = client.post(
        upload_url,
        {"files": [SimpleUploadedFile("b.jpg", jpeg_bytes(color=(2, 2, 2)))], "batch": first["batch"]["id"]},
        headers={"accept": "application/json"},
    ).json()
    assert second["batch"]["id"] == first["batch"]["id"]
    assert Batch.objects.count() == 1 and Image.objects.filter(placement__batch_id=first["batch"]["id"]).count() == 2
    assert parse_board(client.get(board_url(project)).content)["unassigned"].cards[0].images == 2


def test_adding_to_a_batch_changes_the_board_version(client, manager, project):
    client.force_login(manager)
    upload_url = reverse("upload", args=[project.workspace.slug, project.slug])
    files = [SimpleUploadedFile("a.jpg", jpeg_bytes(color=(1, 1, 1)))]
    batch = client.post(upload_url, {"files": files}, headers={"accept": "application/json"}).json()["batch"]
    before = selectors.board_version(project)
    files = [SimpleUploadedFile("b.jpg", jpeg_bytes(color=(2, 2, 2)))]
    client.post(upload_url, {"files": files, "batch": batch["id"]}, headers={"accept": "application/json"})
    assert selectors.board_version(project) != before


def test_an_upload_cannot_add_to_someone_elses_batch(client, manager, owner, project, make_batch):
    theirs = services.upload_images(
        project=project, actor=owner, files=[SimpleUploadedFile("a.jpg", jpeg_bytes())]
    ).batch
    client.force_login(manager)
    response = client.post(
        reverse("upload", args=[project.workspace.slug, project.slug]),
        {"files": [SimpleUploadedFile("b.jpg", jpeg_bytes(color=(9, 9, 9)))], "batch": theirs.pk},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400 and "uploading right now" in response.json()["error"]["message"]
    assert theirs.images.count() == 1


def test_a_card_moved_by_someone_else_since_it_was_seen_is_a_409(client, manager, labeler, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    response = move(client, batch, htmx=True, to="annotating", labeler=labeler.pk, **{"from": "unassigned"})
    assert response.status_code == 409
    assert response.content.decode() == "Someone else moved this batch to Annotating meanwhile."
    deleted = move(client, batch, htmx=True, to="delete", confirm="yes", **{"from": "unassigned"})
    assert deleted.status_code == 409 and Batch.objects.filter(pk=batch.pk).exists()
    assert Batch.objects.get(pk=batch.pk).jobs.count() == 1


def test_a_card_says_when_its_batch_was_uploaded(client, manager, project):
    from datetime import UTC, datetime

    BatchFactory(project=project, uploaded_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    client.force_login(manager)
    assert b'title="Uploaded Mar 4, 2026 05:06"' in client.get(board_url(project)).content


def test_a_batch_deleted_while_its_priority_changes_is_a_conflict_not_a_crash(client, manager, make_batch, monkeypatch):
    batch = make_batch(2)
    stale = Batch.objects.get(pk=batch.pk)
    Batch.objects.filter(pk=batch.pk).delete()
    monkeypatch.setattr(selectors, "batch_in", lambda project, batch_id: stale)
    client.force_login(manager)
    url = reverse("priority", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    response = client.post(url, {"priority": "1"})
    assert response.status_code in (404, 409)
    assert stale.name in response.content.decode()  # the page it had, from the batch as it was


def test_the_card_of_a_deleted_batch_is_the_card_it_had(manager, make_batch):
    batch = make_batch(3)
    stale = Batch.objects.get(pk=batch.pk)
    Batch.objects.filter(pk=batch.pk).delete()
    card = selectors.card_of(stale)
    assert (card.pk, card.name, card.status) == (stale.pk, stale.name, stale.status)
    assert card.image_count == (3 if stale.counts_stored else 0)


def test_a_card_shows_the_first_four_images_of_its_batch_and_none_when_it_is_empty(make_batch):
    batch = make_batch(6)
    first_four = list(batch.images.order_by("pk").values_list("pk", flat=True)[:4])
    assert selectors.card_of(batch).thumb_ids == first_four
    assert selectors.card_of(make_batch(0)).thumb_ids == []
    one = make_batch(1)
    assert selectors.card_of(one).thumb_ids == [one.images.get().pk]


def test_the_first_thumbnails_query_refuses_a_database_it_was_not_written_for():
    from django.db import NotSupportedError, connection

    from boards.selectors.cards import FirstImages

    compiler = Batch.objects.all().query.get_compiler(connection=connection)
    # ``as_sql`` is what a vendor without its own ``as_<vendor>`` gets.
    with pytest.raises(NotSupportedError, match="PostgreSQL or SQLite"):
        FirstImages(4).as_sql(compiler, connection)
    assert getattr(FirstImages, f"as_{connection.vendor}")  # this database has its own


@pytest.mark.parametrize(("q", "shown"), [("100%", ["100% done"]), ("_", ["a_b"]), ("'", ["it's"]), ("%s", [])])
def test_the_filter_reads_wildcards_and_quotes_as_text(q, shown, client, manager, make_batch, project):
    for name in ("100% done", "a_b", "it's", "plain"):
        make_batch(1, name=name)
    client.force_login(manager)
    page = client.get(reverse("board", args=[project.workspace.slug, project.slug]), {"q": q})
    assert page.status_code == 200
    assert parse_board(page.content)["unassigned"].names == shown
