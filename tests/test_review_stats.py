"""Per-batch and per-labeler counts: annotated, approved, rejected, first-pass acceptance."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from boards import selectors, services
from boards.formats.box import Box
from boards.models import Batch, Image, LabelClass
from tests.factories import MembershipFactory, UserFactory, set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car", hotkey=1)


def fresh(batch):
    return Batch.objects.get(pk=batch.pk)


def annotate_all(batch, user):
    for image in Image.objects.filter(placement__batch=batch):
        services.save_annotations(image=image, actor=user, boxes=[Box("car", 1, 1, 5, 5)])


def rejections(batch):
    return sorted(Image.objects.filter(placement__batch=batch).values_list("rejections", flat=True))


@pytest.fixture
def reviewed_once(make_batch, manager, labeler, reviewer, car):
    """Four images by the labeler: three approved at the first review, one sent back."""
    batch = make_batch(4, name="Harbour")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    annotate_all(batch, labeler)
    services.submit(batch=fresh(batch), actor=labeler)
    images = list(Image.objects.filter(placement__batch=batch).order_by("pk"))
    services.record_decision(image=images[0], actor=reviewer, decision="reject", comment="Tighter, please.")
    for image in images[1:]:
        services.record_decision(image=image, actor=reviewer, decision="approve")
    result = services.review(batch=fresh(batch), actor=reviewer)
    return result.approved, result.rejected


def test_a_finished_review_counts_each_rejection(reviewed_once):
    approved, rejected = reviewed_once
    assert rejections(approved) == [0, 0, 0]
    assert rejections(rejected) == [1]


def test_a_decision_alone_is_not_yet_a_rejection(make_batch, manager, labeler, reviewer, car):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    annotate_all(batch, labeler)
    services.submit(batch=fresh(batch), actor=labeler)
    image = batch.images.get()
    services.record_decision(image=image, actor=reviewer, decision="reject")
    services.record_decision(image=image, actor=reviewer, decision="approve")
    services.review(batch=fresh(batch), actor=reviewer)
    assert rejections(batch) == [0]


def test_rejecting_a_whole_batch_counts_every_image_and_again_next_time(make_batch, manager, labeler, reviewer, car):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    annotate_all(batch, labeler)
    for expected in ([1, 1], [2, 2]):
        for image in Image.objects.filter(placement__batch=batch, review_state="rejected"):
            services.confirm_rework(image=image, actor=labeler)  # checked: no change needed
        services.submit(batch=fresh(batch), actor=labeler)
        services.move_batch(batch=fresh(batch), actor=reviewer, to="annotating", comment="Redo")
        assert rejections(batch) == expected


def test_moving_back_to_unassigned_starts_the_counts_over(reviewed_once, manager):
    _approved, rejected = reviewed_once
    services.move_to_unassigned(batch=fresh(rejected), actor=manager, keep_annotations=True)
    image = Image.objects.get(placement__batch=rejected)
    assert (image.rejections, image.annotated_by, image.review_comment) == (0, None, "")


def test_the_second_review_of_a_fixed_image_is_not_a_first_pass(reviewed_once, labeler, reviewer):
    approved, rejected = reviewed_once
    image = Image.objects.get(placement__batch=rejected)
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 0, 0, 9, 9)])
    services.submit(batch=fresh(rejected), actor=labeler)
    services.approve(batch=fresh(rejected), actor=reviewer)

    first = selectors.batch_stats(fresh(approved))["total"]
    assert (first.images, first.annotated, first.approved, first.rejected, first.acceptance) == (3, 3, 3, 0, 100)
    second = selectors.batch_stats(fresh(rejected))["total"]
    assert (second.images, second.approved, second.rejected, second.reviewed, second.acceptance) == (1, 1, 1, 1, 0)
    (row,) = selectors.batch_stats(fresh(rejected))["labelers"]
    assert row.label == labeler.email
    project_wide = row.in_project
    assert (project_wide.images, project_wide.approved, project_wide.rejected, project_wide.reviewed) == (4, 4, 1, 4)
    assert project_wide.acceptance == 75


def test_a_review_under_way_counts_its_decisions(make_batch, manager, labeler, reviewer, car):
    batch = make_batch(4)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    annotate_all(batch, labeler)
    services.submit(batch=fresh(batch), actor=labeler)
    images = list(Image.objects.filter(placement__batch=batch).order_by("pk"))
    services.record_decision(image=images[0], actor=reviewer, decision="reject")
    services.record_decision(image=images[1], actor=reviewer, decision="approve")
    total = selectors.batch_stats(fresh(batch))["total"]
    assert (total.annotated, total.approved, total.rejected, total.reviewed, total.acceptance) == (4, 1, 1, 2, 50)


def test_nothing_reviewed_has_no_acceptance_rate(make_batch):
    total = selectors.batch_stats(make_batch(2))["total"]
    assert (total.images, total.annotated, total.reviewed, total.acceptance) == (2, 0, 0, None)


def test_each_labeler_of_a_batch_gets_a_row(make_batch, workspace, manager, labeler, car):
    batch = make_batch(3)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    first, second, _third = Image.objects.filter(placement__batch=batch).order_by("pk")
    services.save_annotations(image=first, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    services.save_annotations(image=second, actor=manager, boxes=[], empty=True)
    rows = {row.label: (row.images, row.annotated) for row in selectors.batch_stats(fresh(batch))["labelers"]}
    assert rows == {labeler.email: (1, 1), manager.email: (1, 1), "Not annotated yet": (1, 0)}


def test_the_batch_page_shows_the_counts(client, reviewed_once, manager, labeler):
    approved, _rejected = reviewed_once
    client.force_login(manager)
    response = client.get(reverse("batch", args=["acme", "parcels", approved.pk]))
    body = response.content.decode()
    assert "Annotation and review" in body and "First-pass acceptance" in body
    assert "100%" in body and labeler.email in body
    assert "75% of 4 reviewed" in body


def test_the_batch_page_counts_cost_a_constant_number_of_queries(
    client, make_batch, manager, workspace, car, django_assert_num_queries
):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=manager)
    services.save_annotations(image=batch.images.first(), actor=manager, boxes=[], empty=True)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("batch", args=["acme", "parcels", batch.pk]))
    for _ in range(4):
        user = MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory()).user
        image = Image.objects.create(
            project=batch.project, batch=batch, width=64, height=48, sha256=f"{user.pk:064x}", file="x.jpg"
        )
        set_images(Image.objects.filter(pk=image.pk), annotated_by=user, annotation_state="annotated")
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(reverse("batch", args=["acme", "parcels", batch.pk]))
