"""Saving an image's boxes: permissions, versions, clipping, labels."""

import pytest

from boards import services
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, Batch, LabelClass
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState
from tests.factories import set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car")


@pytest.fixture
def assigned(make_batch, manager, labeler, car):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    return Batch.objects.get(pk=batch.pk)


def test_the_assigned_labeler_saves_boxes_and_the_version_goes_up(assigned, labeler, car):
    image = assigned.images.first()
    saved = services.save_annotations(
        image=image, actor=labeler, boxes=[Box("car", 1, 2, 10, 20), Box(car.pk, 5, 5, 5, 5)], expected_version=0
    )
    assert saved.annotation_version == 1 and saved.annotation_state == AnnotationState.ANNOTATED
    assert list(Annotation.objects.filter(image=image).values_list("x", "y", "width", "height")) == [
        (1, 2, 10, 20),
        (5, 5, 5, 5),
    ]


def test_a_save_from_an_old_version_is_refused(assigned, labeler):
    image = assigned.images.first()
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 2, 2)], expected_version=0)
    with pytest.raises(ConcurrentChange, match="saved elsewhere meanwhile"):
        services.save_annotations(image=image, actor=labeler, boxes=[], expected_version=0)
    assert Annotation.objects.filter(image=image).count() == 1


def test_no_boxes_is_empty_only_when_marked(assigned, labeler):
    image = assigned.images.first()
    assert services.save_annotations(image=image, actor=labeler, boxes=[], empty=True).annotation_state == "empty"
    assert services.save_annotations(image=image, actor=labeler, boxes=[]).annotation_state == "unannotated"


def test_boxes_are_clipped_to_the_image_and_outside_ones_refused(assigned, labeler):
    image = assigned.images.first()  # 64×48
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", -5, 40, 20, 20)])
    assert list(Annotation.objects.filter(image=image).values_list("x", "y", "width", "height")) == [(0, 40, 15, 8)]
    with pytest.raises(InvalidInput, match="wholly outside the 64×48 image"):
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 100, 100, 5, 5)])
    with pytest.raises(InvalidInput, match="reaches outside"):
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 60, 0, 10, 5)], clip=False)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        (Box("truck", 1, 1, 2, 2), "no class “truck”"),
        (Box("car", 1, 1, 0, 2), "greater than zero"),
        (Box("car", "a", 1, 2, 2), "must be numbers"),
        (Box("car", float("nan"), 1, 2, 2), "must be numbers"),
    ],
)
def test_bad_boxes_are_refused_and_nothing_changes(box, message, assigned, labeler):
    image = assigned.images.first()
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 2, 2)])
    with pytest.raises(InvalidInput, match=message):
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 3, 3, 3, 3), box])
    assert list(Annotation.objects.filter(image=image).values_list("x", flat=True)) == [1]


def test_unknown_classes_are_created_only_when_asked(assigned, labeler, project):
    image = assigned.images.first()
    services.save_annotations(image=image, actor=labeler, boxes=[Box("truck", 1, 1, 2, 2)], create_labels=True)
    assert LabelClass.objects.filter(project=project, name="truck").exists()


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_public_users_cannot_annotate(who, personas, assigned):
    with pytest.raises(NotAllowed):
        services.save_annotations(image=assigned.images.first(), actor=personas[who], boxes=[])


def test_another_labeler_cannot_annotate_my_batch(workspace, assigned):
    from tests.factories import MembershipFactory

    other = MembershipFactory(workspace=workspace, role="labeler").user
    with pytest.raises(NotAllowed, match="assigned to someone else"):
        services.save_annotations(image=assigned.images.first(), actor=other, boxes=[])


def test_reviewers_may_fix_boxes_in_annotating(assigned, reviewer):
    image = services.save_annotations(image=assigned.images.first(), actor=reviewer, boxes=[Box("car", 1, 1, 2, 2)])
    assert image.annotation_state == "annotated"


def test_managers_import_into_unassigned_but_labelers_cannot(make_batch, manager, labeler, car):
    image = make_batch(1).images.get()
    services.save_annotations(image=image, actor=manager, boxes=[Box("car", 1, 1, 2, 2)])
    with pytest.raises(NotAllowed):
        services.save_annotations(image=image, actor=labeler, boxes=[])


def test_boxes_are_frozen_once_submitted(assigned, labeler):
    set_images(assigned.images, annotation_state=AnnotationState.EMPTY)
    services.submit(batch=assigned, actor=labeler)
    with pytest.raises(WrongState, match="only while the batch is in Annotating"):
        services.save_annotations(image=assigned.images.first(), actor=labeler, boxes=[])
