"""Splits: counts before and after add up, nothing is lost or doubled, events on both sides."""

import pytest

from boards import services
from boards.models import (
    AnnotationState,
    Batch,
    BatchEvent,
    BatchSource,
    BatchStatus,
    EventKind,
    Image,
    Job,
    ReviewState,
)
from core.errors import InvalidInput
from tests.factories import set_images

pytestmark = pytest.mark.django_db


def _image_ids(batch):
    return set(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True))


def test_assigning_a_selection_splits_the_rest_off(make_batch, manager, labeler):
    batch = make_batch(10, priority=2)
    before = _image_ids(batch)
    chosen = sorted(before)[:4]
    result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=chosen)

    assigned, rest = _image_ids(result.batch), _image_ids(result.remainder)
    assert assigned == set(chosen)
    assert assigned | rest == before and not assigned & rest
    assert Image.objects.filter(project=batch.project).count() == 10
    assert result.batch.status == BatchStatus.ANNOTATING
    assert result.remainder.status == BatchStatus.UNASSIGNED
    assert result.remainder.priority == 2
    assert result.remainder.source == BatchSource.SPLIT and result.remainder.split_from_id == batch.pk
    assert result.remainder.name == f"{batch.name} · part 2"
    assert not Job.objects.filter(batch=result.remainder).exists()
    split = BatchEvent.objects.get(batch=batch, kind=EventKind.SPLIT)
    assert split.detail["images_moved"] == 6 and split.detail["into_batch"] == result.remainder.pk
    created = BatchEvent.objects.get(batch=result.remainder, kind=EventKind.CREATED)
    assert created.detail["images"] == 6 and created.detail["split_from"] == batch.pk
    assert BatchEvent.objects.get(batch=batch, kind=EventKind.ASSIGNED).detail["images"] == 4


def test_assigning_every_image_does_not_split(make_batch, manager, labeler):
    batch = make_batch(3)
    result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=_image_ids(batch))
    assert result.remainder is None
    assert Batch.objects.count() == 1


def test_split_names_stay_unique(make_batch, manager, labeler, project):
    batch = make_batch(4, name="Route 9")
    Batch.objects.create(project=project, name="Route 9 · part 2")
    result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=list(_image_ids(batch))[:1])
    assert result.remainder.name == "Route 9 · part 3"


def test_a_selection_from_another_batch_is_refused_and_nothing_moves(make_batch, manager, labeler):
    batch, other = make_batch(3), make_batch(2)
    foreign = list(_image_ids(other))
    with pytest.raises(InvalidInput, match="2 of the 3 selected images are not in this batch"):
        services.assign(
            batch=batch, actor=manager, labeler=labeler, image_ids=[*foreign, next(iter(_image_ids(batch)))]
        )
    assert Batch.objects.count() == 2
    assert len(_image_ids(batch)) == 3 and len(_image_ids(other)) == 2
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED


def test_an_empty_selection_is_refused(make_batch, manager, labeler):
    with pytest.raises(InvalidInput, match="Select at least one image"):
        services.assign(batch=make_batch(2), actor=manager, labeler=labeler, image_ids=[])


def _to_review(make_batch, manager, labeler, reviewer, n):
    batch = make_batch(n)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)


def test_a_mixed_review_splits_rejected_images_back_to_the_same_labeler(make_batch, manager, labeler, reviewer):
    batch = _to_review(make_batch, manager, labeler, reviewer, 6)
    ids = sorted(_image_ids(batch))
    approved, rejected = ids[:4], ids[4:]
    result = services.review(
        batch=batch,
        actor=reviewer,
        approved=approved,
        rejected=rejected,
        comments={rejected[0]: "Missed a car"},
    )

    assert _image_ids(result.approved) == set(approved)
    assert _image_ids(result.rejected) == set(rejected)
    assert Image.objects.filter(project=batch.project).count() == 6
    assert result.approved.pk == batch.pk and result.approved.status == BatchStatus.DATASET
    back = result.rejected
    assert back.status == BatchStatus.ANNOTATING and back.split_from_id == batch.pk
    assert back.name == f"{batch.name} · part 2"
    job = back.current_job
    assert job.labeler == labeler and job.reviewer == reviewer
    assert set(Image.objects.filter(placement__batch=back).values_list("review_state", flat=True)) == {
        ReviewState.REJECTED
    }
    assert Image.objects.get(pk=rejected[0]).review_comment == "Missed a car"
    assert set(Image.objects.filter(placement__batch=batch).values_list("review_state", flat=True)) == {
        ReviewState.APPROVED
    }
    kinds = set(BatchEvent.objects.filter(batch=batch).values_list("kind", flat=True))
    assert {EventKind.SPLIT, EventKind.APPROVED} <= kinds
    back_kinds = set(BatchEvent.objects.filter(batch=back).values_list("kind", flat=True))
    assert {EventKind.CREATED, EventKind.REJECTED} <= back_kinds


def test_an_image_both_approved_and_rejected_is_refused(make_batch, manager, labeler, reviewer):
    batch = _to_review(make_batch, manager, labeler, reviewer, 2)
    ids = sorted(_image_ids(batch))
    with pytest.raises(InvalidInput, match="both approved and rejected"):
        services.review(batch=batch, actor=reviewer, approved=ids, rejected=ids[:1])
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW
    assert Batch.objects.count() == 1


def test_the_rejected_batch_can_be_fixed_and_resubmitted(make_batch, manager, labeler, reviewer):
    batch = _to_review(make_batch, manager, labeler, reviewer, 3)
    ids = sorted(_image_ids(batch))
    result = services.review(batch=batch, actor=reviewer, approved=ids[:2], rejected=ids[2:])
    # A rejected image is changed or checked before the batch goes back to review.
    services.confirm_rework(image=Image.objects.get(pk=ids[2]), actor=labeler)
    services.submit(batch=result.rejected, actor=labeler)
    back = Batch.objects.get(pk=result.rejected.pk)
    assert back.status == BatchStatus.REVIEW
    services.approve(batch=back, actor=reviewer)
    assert Batch.objects.get(pk=back.pk).status == BatchStatus.DATASET


def test_a_partial_selection_with_a_foreign_image_is_refused_and_nothing_moves(make_batch, manager, labeler):
    batch, other = make_batch(5), make_batch(2)
    picked = [next(iter(_image_ids(batch))), next(iter(_image_ids(other)))]
    with pytest.raises(InvalidInput, match="1 of the 2 selected images are not in this batch"):
        services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=picked)
    assert Batch.objects.count() == 2
    assert len(_image_ids(batch)) == 5 and len(_image_ids(other)) == 2
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
