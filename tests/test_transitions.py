"""Every transition × every persona: allowed or refused, and the database after."""

import pytest

from boards import services
from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    Job,
    JobState,
    LabelClass,
    ReviewState,
)
from core.errors import ConcurrentChange, NotAllowed, WrongState
from tests.factories import set_images

pytestmark = pytest.mark.django_db

ALL = ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"]


def _assigned(make_batch, manager, labeler, reviewer=None, n=3):
    batch = make_batch(n)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    return Batch.objects.get(pk=batch.pk)


def _annotate_all(batch):
    label = LabelClass.objects.get_or_create(project=batch.project, name="car")[0]
    images = list(batch.images.all())
    Annotation.objects.bulk_create(Annotation(image=i, label=label, x=1, y=2, width=3, height=4) for i in images)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)


def _in_review(make_batch, manager, labeler, reviewer, n=3):
    batch = _assigned(make_batch, manager, labeler, reviewer, n)
    _annotate_all(batch)
    return services.submit(batch=batch, actor=labeler)


# --- assign -----------------------------------------------------------------------

ASSIGN_ALLOWED = {"owner", "manager"}


@pytest.mark.parametrize("who", ALL)
def test_assign_is_for_owners_and_managers(who, personas, make_batch, labeler):
    batch = make_batch(3)
    if who in ASSIGN_ALLOWED:
        result = services.assign(batch=batch, actor=personas[who], labeler=labeler)
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ANNOTATING
        assert result.job.labeler == labeler
        assert Job.objects.filter(batch=batch).count() == 1
        event = BatchEvent.objects.get(batch=batch, kind=EventKind.ASSIGNED)
        assert (event.from_status, event.to_status, event.actor) == ("unassigned", "annotating", personas[who])
    else:
        with pytest.raises(NotAllowed):
            services.assign(batch=batch, actor=personas[who], labeler=labeler)
        batch.refresh_from_db()
        assert batch.status == BatchStatus.UNASSIGNED
        assert not Job.objects.exists()
        assert not BatchEvent.objects.filter(kind=EventKind.ASSIGNED).exists()


@pytest.mark.parametrize("role_name", ["labeler", "reviewer", "manager", "owner"])
def test_it_assigns_to_any_member_who_may_label(role_name, personas, make_batch, manager):
    batch = make_batch(2)
    result = services.assign(batch=batch, actor=manager, labeler=personas[role_name])
    assert result.job.labeler == personas[role_name]


@pytest.mark.parametrize("role_name", ["viewer", "outsider"])
def test_it_refuses_a_labeler_who_may_not_label(role_name, personas, make_batch, manager):
    batch = make_batch(2)
    with pytest.raises(services.InvalidInput, match="cannot label"):
        services.assign(batch=batch, actor=manager, labeler=personas[role_name])
    batch.refresh_from_db()
    assert batch.status == BatchStatus.UNASSIGNED


def test_it_refuses_a_reviewer_without_the_reviewer_role(make_batch, manager, labeler):
    batch = make_batch(2)
    with pytest.raises(services.InvalidInput, match="cannot review"):
        services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=labeler)


def test_it_records_the_reviewer_on_the_job(make_batch, manager, labeler, reviewer):
    batch = _assigned(make_batch, manager, labeler, reviewer)
    assert batch.current_job.reviewer == reviewer


def test_it_refuses_to_assign_an_empty_batch(project, manager, labeler):
    batch = Batch.objects.create(project=project, name="empty")
    with pytest.raises(services.InvalidInput, match="no images"):
        services.assign(batch=batch, actor=manager, labeler=labeler)


def test_it_refuses_to_assign_twice(make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    with pytest.raises(WrongState, match="Annotating cannot be assigned"):
        services.assign(batch=batch, actor=manager, labeler=labeler)
    assert Job.objects.count() == 1


def test_it_refuses_a_move_based_on_a_stale_read(make_batch, manager, labeler):
    batch = make_batch(2)
    stale = Batch.objects.get(pk=batch.pk)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    with pytest.raises(ConcurrentChange, match="Someone else moved this batch to Annotating"):
        services.archive(batch=stale, actor=manager)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING


# --- submit -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ALL)
def test_submit_is_for_the_assigned_labeler_and_reviewers_up(who, personas, make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    _annotate_all(batch)
    allowed = who in {"owner", "manager", "reviewer", "labeler"}
    if allowed:
        services.submit(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.REVIEW
        assert batch.current_job.state == JobState.IN_REVIEW
        assert BatchEvent.objects.filter(batch=batch, kind=EventKind.SUBMITTED, actor=personas[who]).exists()
    else:
        with pytest.raises(NotAllowed):
            services.submit(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ANNOTATING


def test_a_labeler_may_not_submit_someone_elses_batch(workspace, make_batch, manager, labeler):
    from tests.factories import MembershipFactory

    other = MembershipFactory(workspace=workspace, role="labeler").user
    batch = _assigned(make_batch, manager, other)
    _annotate_all(batch)
    with pytest.raises(NotAllowed):
        services.submit(batch=batch, actor=labeler)


def test_submit_goes_straight_to_dataset_without_review_mode(project, make_batch, manager, labeler):
    project.review_mode = False
    project.save()
    batch = _assigned(make_batch, manager, labeler)
    _annotate_all(batch)
    services.submit(batch=batch, actor=labeler)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DATASET
    assert batch.current_job.state == JobState.COMPLETE


def test_submit_needs_every_image_annotated_or_empty(make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler, n=3)
    first, second, _third = batch.images.all()
    set_images(Image.objects.filter(pk=first.pk), annotation_state=AnnotationState.ANNOTATED)
    set_images(Image.objects.filter(pk=second.pk), annotation_state=AnnotationState.EMPTY)
    with pytest.raises(WrongState, match="1 image is not annotated yet"):
        services.submit(batch=batch, actor=labeler)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING
    set_images(
        batch.images.filter(annotation_state=AnnotationState.UNANNOTATED), annotation_state=AnnotationState.EMPTY
    )
    services.submit(batch=batch, actor=labeler)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW


# --- approve / reject -------------------------------------------------------------

REVIEW_ALLOWED = {"owner", "manager", "reviewer"}


@pytest.mark.parametrize("who", ALL)
def test_approve_is_for_reviewers_and_up(who, personas, make_batch, manager, labeler, reviewer):
    batch = _in_review(make_batch, manager, labeler, reviewer)
    if who in REVIEW_ALLOWED:
        services.approve(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.DATASET
        assert set(batch.images.values_list("review_state", flat=True)) == {ReviewState.APPROVED}
        assert batch.current_job.state == JobState.COMPLETE
    else:
        with pytest.raises(NotAllowed):
            services.approve(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.REVIEW
        assert set(batch.images.values_list("review_state", flat=True)) == {ReviewState.PENDING}


@pytest.mark.parametrize("who", ALL)
def test_reject_is_for_reviewers_and_up(who, personas, make_batch, manager, labeler, reviewer):
    batch = _in_review(make_batch, manager, labeler, reviewer)
    if who in REVIEW_ALLOWED:
        services.reject(batch=batch, actor=personas[who], comment="Boxes too loose")
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ANNOTATING
        assert batch.current_job.labeler == labeler
        assert batch.current_job.state == JobState.ANNOTATING
        assert set(batch.images.values_list("review_comment", flat=True)) == {"Boxes too loose"}
    else:
        with pytest.raises(NotAllowed):
            services.reject(batch=batch, actor=personas[who])
        assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW


def test_review_refuses_a_batch_not_in_review(make_batch, manager, labeler, reviewer):
    batch = _assigned(make_batch, manager, labeler, reviewer)
    with pytest.raises(WrongState):
        services.approve(batch=batch, actor=reviewer)


def test_review_needs_a_decision_for_every_image(make_batch, manager, labeler, reviewer):
    batch = _in_review(make_batch, manager, labeler, reviewer, n=3)
    first = batch.images.first()
    with pytest.raises(services.InvalidInput, match="2 images still need a decision"):
        services.review(batch=batch, actor=reviewer, approved=[first.pk])
    # Nothing half-applied.
    assert set(Image.objects.filter(placement__batch=batch).values_list("review_state", flat=True)) == {
        ReviewState.PENDING
    }


def test_recorded_decisions_count_toward_the_review(make_batch, manager, labeler, reviewer):
    batch = _in_review(make_batch, manager, labeler, reviewer, n=2)
    for image in batch.images.all():
        services.record_decision(image=image, actor=reviewer, decision=services.APPROVE)
    result = services.review(batch=batch, actor=reviewer)
    assert result.approved.status == BatchStatus.DATASET and result.rejected is None


@pytest.mark.parametrize("who", ["labeler", "viewer", "outsider"])
def test_record_decision_is_refused_without_review_permission(who, personas, make_batch, manager, labeler, reviewer):
    batch = _in_review(make_batch, manager, labeler, reviewer, n=1)
    with pytest.raises(NotAllowed):
        services.record_decision(image=batch.images.get(), actor=personas[who], decision=services.APPROVE)


# --- move to unassigned -------------------------------------------------------------

MOVE_ALLOWED = {"owner", "manager"}


@pytest.mark.parametrize("who", ALL)
def test_move_to_unassigned_is_for_managers_and_removes_annotations(who, personas, make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    _annotate_all(batch)
    if who in MOVE_ALLOWED:
        services.move_to_unassigned(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.UNASSIGNED
        assert not Annotation.objects.filter(image__placement__batch=batch).exists()
        assert set(batch.images.values_list("annotation_state", flat=True)) == {AnnotationState.UNANNOTATED}
        assert set(Job.objects.filter(batch=batch).values_list("state", flat=True)) == {JobState.CANCELLED}
        assert batch.current_job is None
    else:
        with pytest.raises(NotAllowed):
            services.move_to_unassigned(batch=batch, actor=personas[who])
        assert Annotation.objects.filter(image__placement__batch=batch).count() == 3


@pytest.mark.parametrize("column", ["annotating", "review", "dataset"])
def test_move_to_unassigned_works_from_every_later_column(column, make_batch, manager, labeler, reviewer):
    batch = (
        _in_review(make_batch, manager, labeler, reviewer)
        if column != "annotating"
        else _assigned(make_batch, manager, labeler)
    )
    if column == "dataset":
        services.approve(batch=batch, actor=reviewer)
        batch.refresh_from_db()
    assert batch.status == column
    services.move_to_unassigned(batch=batch, actor=manager)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
    event = BatchEvent.objects.get(batch=batch, kind=EventKind.UNASSIGNED)
    assert event.from_status == column


def test_move_to_unassigned_can_keep_annotations_as_prelabels(make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    _annotate_all(batch)
    services.move_to_unassigned(batch=batch, actor=manager, keep_annotations=True)
    assert Annotation.objects.filter(image__placement__batch=batch).count() == 3
    assert set(batch.images.values_list("annotation_state", flat=True)) == {AnnotationState.UNANNOTATED}
    assert BatchEvent.objects.get(batch=batch, kind=EventKind.UNASSIGNED).detail["kept_annotations"] is True


def test_move_to_unassigned_refuses_a_batch_already_there(make_batch, manager):
    with pytest.raises(WrongState):
        services.move_to_unassigned(batch=make_batch(1), actor=manager)


# --- archive ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ALL)
def test_archive_is_for_managers_and_frees_the_images(who, personas, make_batch):
    batch = make_batch(3)
    image_ids = set(batch.images.values_list("pk", flat=True))
    if who in MOVE_ALLOWED:
        services.archive(batch=batch, actor=personas[who])
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ARCHIVED
        assert set(Image.objects.filter(pk__in=image_ids).values_list("placement__batch", flat=True)) == {None}
        assert set(Image.objects.filter(pk__in=image_ids).values_list("archived_from", flat=True)) == {batch.pk}
        assert BatchEvent.objects.get(batch=batch, kind=EventKind.ARCHIVED).detail["images_released"] == 3
    else:
        with pytest.raises(NotAllowed):
            services.archive(batch=batch, actor=personas[who])
        assert Image.objects.filter(placement__batch=batch).count() == 3


def test_archive_only_from_unassigned(make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    with pytest.raises(WrongState):
        services.archive(batch=batch, actor=manager)


# --- delete -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ALL)
def test_delete_is_for_managers_and_removes_images_and_files(who, personas, make_batch, settings):
    from django.core.files.storage import default_storage

    batch = make_batch(2)
    files = [n for pair in batch.images.values_list("file", "thumbnail") for n in pair]
    assert all(default_storage.exists(n) for n in files)
    if who in MOVE_ALLOWED:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            count = services.delete_batch(batch=batch, actor=personas[who])
        assert count == 2
        assert not Batch.objects.filter(pk=batch.pk).exists()
        assert not Image.objects.filter(project=batch.project).exists()
        assert not any(default_storage.exists(n) for n in files)
        event = BatchEvent.objects.get(kind=EventKind.DELETED)
        assert event.batch is None and event.batch_name == batch.name and event.detail["images_deleted"] == 2
    else:
        with pytest.raises(NotAllowed):
            services.delete_batch(batch=batch, actor=personas[who])
        assert Image.objects.filter(placement__batch=batch).count() == 2
        assert all(default_storage.exists(n) for n in files)


@pytest.mark.parametrize("column", ["annotating", "review", "dataset"])
def test_delete_outside_unassigned_says_to_move_it_first(column, make_batch, manager, labeler, reviewer):
    batch = (
        _in_review(make_batch, manager, labeler, reviewer)
        if column != "annotating"
        else _assigned(make_batch, manager, labeler)
    )
    if column == "dataset":
        services.approve(batch=batch, actor=reviewer)
        batch.refresh_from_db()
    with pytest.raises(WrongState, match="Move it to Unassigned first"):
        services.delete_batch(batch=batch, actor=manager)
    assert Image.objects.filter(placement__batch=batch).count() == 3


# --- priority -----------------------------------------------------------------------


@pytest.mark.parametrize("priority", [0, 6, "2", None])
def test_priority_outside_1_to_5_is_a_clear_error(priority, make_batch, manager):
    batch = make_batch(1)
    with pytest.raises(services.InvalidInput, match="from 1 \\(highest\\) to 5"):
        services.set_priority(batch=batch, actor=manager, priority=priority)
    assert Batch.objects.get(pk=batch.pk).priority == 3


def test_priority_change_is_recorded(make_batch, manager, labeler):
    batch = make_batch(1)
    services.set_priority(batch=batch, actor=manager, priority=1)
    assert Batch.objects.get(pk=batch.pk).priority == 1
    assert BatchEvent.objects.get(kind=EventKind.PRIORITY).detail == {"old": 3, "new": 1}
    with pytest.raises(NotAllowed):
        services.set_priority(batch=batch, actor=labeler, priority=2)


# --- the history itself -------------------------------------------------------------


def test_events_are_never_edited(make_batch, manager, labeler):
    batch = _assigned(make_batch, manager, labeler)
    event = BatchEvent.objects.filter(batch=batch).first()
    event.detail = {"forged": True}
    with pytest.raises(ValueError, match="never edited"):
        event.save()


def test_status_cannot_be_set_directly(make_batch):
    batch = make_batch(1)
    with pytest.raises(AttributeError):
        batch.status = BatchStatus.DATASET
