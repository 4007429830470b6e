"""The image counts a card shows, stored on the batch by the services.

The autouse check in conftest asserts after every test that stored counts,
where valid, equal the images' counts; these tests assert that each service
leaves them stored (valid), and that the board reads them instead of counting.
"""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from boards import selectors, services
from boards.catalog import CatalogFilter
from boards.formats.box import Box
from boards.models import (
    CARD_COUNTS,
    Annotation,
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    LabelClass,
    ReviewState,
    count_card_images,
)
from tests.board_html import parse_board
from tests.factories import BatchFactory, ImageFactory, set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car")


def fresh(batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def stored(batch) -> tuple[int, int, int] | None:
    """(images, annotated, reviewed) as stored on the batch, or None when they are not stored."""
    batch = fresh(batch)
    return (batch.n_images, batch.n_annotated, batch.n_reviewed) if batch.counts_stored else None


def annotate_all(batch, actor):
    for image in batch.images.all():
        services.save_annotations(image=image, actor=actor, boxes=[], empty=True)


def test_an_upload_stores_its_batchs_counts(client, manager, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import jpeg_bytes

    client.force_login(manager)
    files = [SimpleUploadedFile(f"{n}.jpg", jpeg_bytes(color=(n, n, n))) for n in range(3)]
    response = client.post(
        reverse("upload", args=["acme", "parcels"]), {"files": files}, headers={"accept": "application/json"}
    )
    assert stored(Batch.objects.get(pk=response.json()["batch"]["id"])) == (3, 0, 0)


def test_assigning_part_of_a_batch_stores_both_halves(make_batch, manager, labeler):
    batch = make_batch(5)
    ids = list(batch.images.order_by("pk").values_list("pk", flat=True))[:2]
    result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=ids)
    assert stored(result.batch) == (2, 0, 0) and stored(result.remainder) == (3, 0, 0)


def _all_stored(batch) -> tuple[int, ...]:
    batch = fresh(batch)
    assert batch.counts_stored
    return tuple(getattr(batch, name) for name in CARD_COUNTS)


def _mixed_batch(make_batch, car):
    """Seven images: annotated, pre-labeled (a box, unannotated) and reviewed ones on either side of
    any selection of the first few; their counts stored, as the services leave them."""
    batch = make_batch(7)
    ids = list(batch.images.order_by("pk").values_list("pk", flat=True))
    set_images(Image.objects.filter(pk__in=[ids[1], ids[4]]), annotation_state=AnnotationState.ANNOTATED)
    set_images(Image.objects.filter(pk__in=[ids[3], ids[6]]), review_state=ReviewState.APPROVED)
    Annotation.objects.bulk_create(
        [Annotation(image_id=pk, label=car, x=1, y=1, width=5, height=5) for pk in (ids[0], ids[5])]
    )
    services.mark_changed(batch)
    return fresh(batch), ids


def _counts_sent(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if '"batch_ref"' in query["sql"]]


@pytest.mark.parametrize("kept", [2, 5])
def test_assigning_part_of_a_batch_counts_one_side_and_takes_the_other_from_its_stored_counts(
    make_batch, manager, labeler, car, kept
):
    batch, ids = _mixed_batch(make_batch, car)
    whole = _all_stored(batch)

    with CaptureQueriesContext(connection) as queries:
        result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=ids[:kept])

    sent = _counts_sent(queries)
    assert len(sent) == 1 and "UNION" not in sent[0]  # one batch counted: the smaller side
    both = count_card_images([result.batch.pk, result.remainder.pk])
    assert _all_stored(result.batch) == both[result.batch.pk]
    assert _all_stored(result.remainder) == both[result.remainder.pk]
    assert tuple(map(sum, zip(both[result.batch.pk], both[result.remainder.pk], strict=True))) == whole
    assert fresh(result.batch).n_images == kept


def test_assigning_the_first_n_takes_the_other_side_from_the_stored_counts_too(make_batch, manager, labeler, car):
    batch, _ids = _mixed_batch(make_batch, car)

    with CaptureQueriesContext(connection) as queries:
        result = services.assign(batch=batch, actor=manager, labeler=labeler, first=3)

    assert len(_counts_sent(queries)) == 1
    both = count_card_images([result.batch.pk, result.remainder.pk])
    assert (_all_stored(result.batch), _all_stored(result.remainder)) == (
        both[result.batch.pk],
        both[result.remainder.pk],
    )


def test_a_split_of_a_batch_whose_stored_counts_do_not_hold_counts_both_sides(make_batch, manager, labeler, car):
    batch, ids = _mixed_batch(make_batch, car)
    Batch.objects.filter(pk=batch.pk).update(updated_at=timezone.now())  # changed behind the services' back

    with CaptureQueriesContext(connection) as queries:
        result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=ids[:2])

    sent = _counts_sent(queries)
    assert len(sent) == 1 and "UNION ALL" in sent[0]  # both batches, counted afresh
    both = count_card_images([result.batch.pk, result.remainder.pk])
    assert (_all_stored(result.batch), _all_stored(result.remainder)) == (
        both[result.batch.pk],
        both[result.remainder.pk],
    )


@pytest.mark.parametrize("behind", ["deleted", "reviewed"])
def test_a_split_whose_stored_counts_do_not_add_up_counts_both_sides(make_batch, manager, labeler, car, behind):
    """Images changed behind the services' back, the batch row untouched: its stored counts look
    fresh but are not. The split notices when they do not add up (fewer images than stored, or
    more reviewed on the side it counts than the batch had) and counts both sides. (A change it
    cannot notice stays on the card, as it did on the board, until the batch's next change.)"""
    batch, ids = _mixed_batch(make_batch, car)
    if behind == "deleted":
        Image.objects.filter(pk__in=ids[5:]).delete()
    else:  # reviewed: the first three approved, the two approved ones back to pending
        Image.objects.filter(pk__in=ids[:3]).update(review_state=ReviewState.APPROVED)
        Image.objects.filter(pk__in=[ids[3], ids[6]]).update(review_state=ReviewState.PENDING)
    assert fresh(batch).counts_stored

    result = services.assign(batch=batch, actor=manager, labeler=labeler, first=3)

    both = count_card_images([result.batch.pk, result.remainder.pk])
    assert (_all_stored(result.batch), _all_stored(result.remainder)) == (
        both[result.batch.pk],
        both[result.remainder.pk],
    )
    assert fresh(result.remainder).n_images == (2 if behind == "deleted" else 4)


def test_labeling_submitting_and_reviewing_keep_the_counts_stored(make_batch, manager, labeler, reviewer, car):
    batch = services.assign(batch=make_batch(4), actor=manager, labeler=labeler).batch
    image = batch.images.first()
    services.save_annotations(image=image, actor=labeler, boxes=[Box(label="car", x=1, y=1, width=5, height=5)])
    assert stored(batch) == (4, 1, 0)
    annotate_all(batch, labeler)
    services.submit(batch=fresh(batch), actor=labeler)
    assert stored(batch) == (4, 4, 0)
    first, second, *_rest = batch.images.order_by("pk")
    services.record_decision(image=first, actor=reviewer, decision="approve")
    services.record_decision(image=second, actor=reviewer, decision="reject")
    assert stored(batch) == (4, 4, 2)
    for image in batch.images.order_by("pk")[2:]:
        services.record_decision(image=image, actor=reviewer, decision="approve")
    result = services.review(batch=fresh(batch), actor=reviewer)
    assert stored(result.approved) == (3, 3, 3) and stored(result.rejected) == (1, 1, 1)


def _counted(queries) -> int:
    """The statements that counted a batch's images (``count_card_images``)."""
    return sum(1 for q in queries if '"batch_ref"' in q["sql"])


def _all_counts(batch) -> tuple[int, ...]:
    batch = fresh(batch)
    assert batch.counts_stored
    return tuple(getattr(batch, name) for name in CARD_COUNTS)


def _step_without_counting(batch, step) -> tuple[int, ...]:
    """Run one image's change; it counts nothing, and leaves what a count gives. Returns the counts."""
    with CaptureQueriesContext(connection) as queries:
        step()
    assert _counted(queries.captured_queries) == 0
    counts = _all_counts(batch)
    assert counts == count_card_images([batch.pk]).get(batch.pk, (0,) * len(CARD_COUNTS))
    return counts


def test_one_images_save_or_decision_moves_the_stored_counts_without_counting(
    make_batch, manager, labeler, reviewer, car
):
    """Each save and decision of one image changes the counts by that image alone, read from the
    locked batch's row: the same numbers a count gives, at every step, and no count."""
    batch = services.assign(batch=make_batch(4), actor=manager, labeler=labeler).batch
    first, second, third, fourth = batch.images.order_by("pk")
    for image in (first, second):
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 2, 2, 6, 6)])
    services.move_to_unassigned(batch=fresh(batch), actor=manager, keep_annotations=True)  # two pre-labels
    batch = services.assign(batch=fresh(batch), actor=manager, labeler=labeler).batch
    assert _all_counts(batch) == (4, 0, 0, 2)
    box = [Box("car", 1, 1, 5, 5)]

    def save(image, boxes=(), **kwargs):
        return lambda: services.save_annotations(image=image, actor=labeler, boxes=list(boxes), **kwargs)

    steps = [
        (save(third, box), (4, 1, 0, 2)),  # to annotated
        (save(third, [Box("car", 3, 3, 5, 5)]), (4, 1, 0, 2)),  # a box moved: nothing to count
        (save(fourth, empty=True), (4, 2, 0, 2)),  # to empty
        (save(fourth), (4, 1, 0, 2)),  # back to unannotated
        (save(first, box), (4, 2, 0, 1)),  # a pre-label confirmed with boxes
        (save(second, empty=True), (4, 3, 0, 0)),  # a pre-label's boxes dropped, marked empty
        (save(fourth, box), (4, 4, 0, 0)),
    ]
    for step, expected in steps:
        assert _step_without_counting(batch, step) == expected
    services.submit(batch=fresh(batch), actor=labeler)
    decisions = [
        (first, "reject", (4, 4, 1, 0)),
        (second, "approve", (4, 4, 2, 0)),
        (first, "approve", (4, 4, 2, 0)),  # a decision changed: still reviewed
        (first, "reject", (4, 4, 2, 0)),
        (third, "reject", (4, 4, 3, 0)),
        (fourth, "approve", (4, 4, 4, 0)),
    ]
    for image, decision, expected in decisions:
        step = lambda image=image, decision=decision: services.record_decision(  # noqa: E731
            image=image, actor=reviewer, decision=decision
        )
        assert _step_without_counting(batch, step) == expected
    back = services.review(batch=fresh(batch), actor=reviewer).rejected
    assert _all_counts(back) == (2, 2, 2, 0)
    assert selectors.batch_progress(back) == {"done": 2, "total": 2, "rework": 2}
    # The labeler fixes one (a save changing its boxes) and confirms the other as it is.
    assert _step_without_counting(back, save(first, [Box("car", 4, 4, 5, 5)])) == (2, 2, 1, 0)
    assert selectors.batch_progress(back) == {"done": 2, "total": 2, "rework": 1}
    step = lambda: services.confirm_rework(image=third, actor=labeler)  # noqa: E731
    assert _step_without_counting(back, step) == (2, 2, 0, 0)
    assert selectors.batch_progress(back) == {"done": 2, "total": 2, "rework": 0}


def test_stored_counts_that_would_go_below_zero_are_counted_afresh(make_batch, manager, labeler, car):
    batch = services.assign(batch=make_batch(2), actor=manager, labeler=labeler).batch
    first = batch.images.order_by("pk").first()
    services.save_annotations(image=first, actor=labeler, boxes=[], empty=True)
    Batch.objects.filter(pk=batch.pk).update(n_annotated=0)  # wrong, yet "stored" (counted_at untouched)
    with CaptureQueriesContext(connection) as queries:
        services.save_annotations(image=first, actor=labeler, boxes=[])  # would take it to -1
    assert _counted(queries.captured_queries) == 1
    assert _all_counts(batch) == (2, 0, 0, 0)


def test_one_images_save_counts_afresh_when_the_stored_counts_do_not_hold(make_batch, manager, labeler, car):
    batch = services.assign(batch=make_batch(2), actor=manager, labeler=labeler).batch
    first = batch.images.order_by("pk").first()
    ImageFactory(project=batch.project, batch=batch)  # behind the services' back,
    Batch.objects.filter(pk=batch.pk).update(updated_at=timezone.now())  # and the batch says it changed
    with CaptureQueriesContext(connection) as queries:
        services.save_annotations(image=first, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    assert _counted(queries.captured_queries) == 1
    assert _all_counts(batch) == (3, 1, 0, 0)


def test_moving_back_archiving_restoring_and_priority_keep_the_counts_stored(make_batch, manager, labeler):
    batch = services.assign(batch=make_batch(3), actor=manager, labeler=labeler).batch
    annotate_all(batch, labeler)
    services.move_to_unassigned(batch=fresh(batch), actor=manager, keep_annotations=False)
    assert stored(batch) == (3, 0, 0)
    services.set_priority(batch=fresh(batch), actor=manager, priority=1)
    assert stored(batch) == (3, 0, 0)
    services.archive(batch=fresh(batch), actor=manager)
    assert stored(batch) == (0, 0, 0)
    services.restore_batch(batch=fresh(batch), actor=manager)
    assert stored(batch) == (3, 0, 0)


def test_merging_catalog_batches_and_deleting_images_keep_the_counts_stored(make_batch, manager, project):
    first, second = make_batch(2), make_batch(3)
    merged = services.merge_batches(project=project, actor=manager, batches=[first, second], name="Both")
    assert stored(merged) == (5, 0, 0)
    ImageFactory.create_batch(4, project=project, batch=None)
    made = services.create_batch_from_images(project=project, actor=manager, name="Free", filters=CatalogFilter())
    assert stored(made.batch) == (4, 0, 0)
    services.delete_images(
        project=project, actor=manager, image_ids=list(made.batch.images.values_list("pk", flat=True)[:1])
    )
    assert stored(made.batch) == (3, 0, 0)


def test_a_batch_changed_elsewhere_is_counted_afresh(client, manager, make_batch, project):
    """Any save that skips the services (the admin renaming a batch, say) only costs a count."""
    batch = make_batch(2)
    services.set_priority(batch=batch, actor=manager, priority=2)
    ImageFactory(project=project, batch=batch)  # behind the services' back: the stored counts are stale now
    fresh(batch).save()  # ...and a plain save moves updated_at on, so they no longer count
    assert stored(batch) is None
    client.force_login(manager)
    assert (
        parse_board(client.get(reverse("board", args=["acme", "parcels"])).content)["unassigned"].cards[0].images == 3
    )


def test_the_board_reads_stored_counts_instead_of_counting(client, manager, labeler, project):
    batches = [BatchFactory(project=project, status=BatchStatus.UNASSIGNED) for _ in range(3)]
    for batch in batches:
        ImageFactory.create_batch(2, project=project, batch=batch)
    set_images(Image.objects.filter(placement__batch__in=batches), annotation_state="unannotated")  # stores the counts
    client.force_login(manager)
    client.get(reverse("board", args=["acme", "parcels"]))
    caches["boards"].clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("board", args=["acme", "parcels"]))
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"] and "boards_image" in q["sql"]]
    assert [c.images for c in parse_board(response.content)["unassigned"].cards] == [2, 2, 2]
