"""My work lists a labeler's submitted batches, and where their review stands, until they are decided."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import AnnotationState, Batch, BatchStatus
from tests.factories import set_images

pytestmark = pytest.mark.django_db


def fresh(batch):
    return Batch.objects.get(pk=batch.pk)


def _submitted(make_batch, manager, labeler, reviewer, name, n=3):
    batch = make_batch(n, name=name)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return services.submit(batch=fresh(batch), actor=labeler)


def _submitted_section(client) -> str:
    page = client.get(reverse("my-work")).content.decode()
    start = page.index('id="submitted-title"')
    return page[start : page.index("</section>", start)]


def test_a_submitted_batch_is_listed_as_waiting_for_review(client, make_batch, manager, labeler, reviewer):
    _submitted(make_batch, manager, labeler, reviewer, "Dock 7 scans")
    client.force_login(labeler)
    section = _submitted_section(client)
    assert "Dock 7 scans" in section and "Waiting for review" in section and "0 / 3" in section


def test_decisions_under_way_show_in_review_or_some_images_sent_back(client, make_batch, manager, labeler, reviewer):
    batch = _submitted(make_batch, manager, labeler, reviewer, "Dock 7 scans")
    first, second = batch.images.order_by("pk")[:2]
    client.force_login(labeler)
    services.record_decision(image=first, actor=reviewer, decision="approve")
    section = _submitted_section(client)
    assert "In review" in section and "1 / 3" in section
    services.record_decision(image=second, actor=reviewer, decision="reject", comment="Missed a van")
    section = _submitted_section(client)
    assert "Some images sent back" in section and "(1 so far)" in section and "2 / 3" in section


def test_a_decided_batch_leaves_the_list_and_sent_back_images_are_to_label(
    client, make_batch, manager, labeler, reviewer
):
    batch = _submitted(make_batch, manager, labeler, reviewer, "Dock 7 scans")
    ids = sorted(batch.images.values_list("pk", flat=True))
    result = services.review(batch=fresh(batch), actor=reviewer, approved=ids[:2], rejected=ids[2:])
    client.force_login(labeler)
    page = client.get(reverse("my-work")).content.decode()
    assert "None of your batches is waiting for review." in page
    assert result.rejected.name in page and "1 sent back to rework" in page


def test_other_labelers_batches_are_not_listed(client, make_batch, manager, labeler, reviewer, owner):
    _submitted(make_batch, manager, owner, reviewer, "Owner's own")
    client.force_login(labeler)
    assert "Owner's own" not in _submitted_section(client)


def test_a_batch_submitted_straight_to_dataset_is_not_waiting(client, project, make_batch, manager, labeler):
    project.review_mode = False
    project.save()
    batch = _submitted(make_batch, manager, labeler, None, "No review")
    assert batch.status == BatchStatus.DATASET
    client.force_login(labeler)
    assert "No review" not in _submitted_section(client)


def test_my_work_needs_a_constant_number_of_queries(
    client, make_batch, manager, labeler, reviewer, django_assert_max_num_queries
):
    client.force_login(labeler)
    _submitted(make_batch, manager, labeler, reviewer, "Round 0")
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("my-work"))
    for n in range(1, 6):
        batch = _submitted(make_batch, manager, labeler, reviewer, f"Round {n}")
        services.record_decision(image=batch.images.first(), actor=reviewer, decision="reject")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("my-work")).content.decode()
    assert page.count("Some images sent back") == 5 and page.count("Waiting for review") == 1
