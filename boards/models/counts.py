"""The image counts a card shows, stored on its batch (``Batch.n_images`` and the others) and counted here."""

from django.db import models

from boards.models.choices import AnnotationState, ReviewState
from boards.models.images import Annotation, Image

# What a card counts among its batch's images: all of them, the annotated
# (boxes or marked empty), the reviewed ones, and the pre-labeled ones (boxes
# kept from an earlier round, not yet confirmed by a labeler: unannotated with
# boxes). Keys are Batch's stored fields.
CARD_COUNTS = {
    "n_images": models.Q(),
    "n_annotated": ~models.Q(annotation_state=AnnotationState.UNANNOTATED),
    "n_reviewed": ~models.Q(review_state=ReviewState.PENDING),
    # A subquery, built when counting (a queryset cannot be built while models load).
    "n_prelabeled": lambda: models.Q(
        models.Exists(Annotation.objects.filter(image=models.OuterRef("pk"))),
        annotation_state=AnnotationState.UNANNOTATED,
    ),
}


def count_card_images(batch_ids) -> dict[int, tuple[int, ...]]:
    """Each batch's ``CARD_COUNTS`` from its images, in one grouped query; batches without images are left out."""
    rows = (
        Image.objects.filter(batch_id__in=batch_ids)
        .order_by()
        .values("batch_id")
        .annotate(**{name: models.Count("pk", filter=q() if callable(q) else q) for name, q in CARD_COUNTS.items()})
        .values_list("batch_id", *CARD_COUNTS)
    )
    return {row[0]: tuple(row[1:]) for row in rows}
