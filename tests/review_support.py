"""A batch in Review, as the review screen and review-mark tests start from."""

from django.urls import reverse

from boards import services
from boards.formats.box import Box
from boards.models import Batch, Image, LabelClass


def fresh(batch: Batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def classes(project) -> tuple[LabelClass, LabelClass]:
    car = LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)
    person = LabelClass.objects.create(project=project, name="person", color="#facc15", hotkey=2)
    return car, person


def submitted(make_batch, manager, labeler, reviewer, n=2) -> Batch:
    """``n`` 64×48 images, each with two cars and a person, submitted by the labeler for review."""
    batch = make_batch(n, name="Harbour")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    for image in batch.images.order_by("pk"):
        boxes = [Box("car", 1, 1, 20, 10), Box("car", 30, 5, 10, 10), Box("person", 5, 20, 8, 20)]
        services.save_annotations(image=image, actor=labeler, boxes=boxes)
    return services.submit(batch=fresh(batch), actor=labeler)


def review_url(batch: Batch, name: str = "review") -> str:
    return reverse(name, args=[batch.project.workspace.slug, batch.project.slug, batch.pk])


def editor_url(batch: Batch, image: Image) -> str:
    return reverse("annotate", args=[batch.project.workspace.slug, batch.project.slug, batch.pk, image.pk])
