"""The image counts a card shows, stored on its batch (``Batch.n_images`` and the others) and counted here."""

from django.db import models

from boards.models.choices import AnnotationState, ReviewState
from boards.models.images import Annotation, Image, Placement

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
    """Each batch's ``CARD_COUNTS`` from its images, in one query; batches without images are left out.

    Per batch, its images are named by the list of their ids (``one_of`` a subquery of its
    placements: an array on PostgreSQL), so that each is read by its primary key; the batches'
    counts are one ``UNION ALL``. Joined to the placements instead, PostgreSQL may read the whole
    image table to count one batch.
    """
    counts = {name: models.Count("pk", filter=q() if callable(q) else q) for name, q in CARD_COUNTS.items()}
    parts = [
        Image.objects.filter(pk__one_of=Placement.objects.filter(batch_id=pk).values("image_id"))
        .order_by()
        .annotate(batch_ref=models.Value(pk))
        .values("batch_ref")
        .annotate(**counts)
        .values_list("batch_ref", *CARD_COUNTS)
        for pk in sorted(set(batch_ids))
    ]
    found = {}
    # SQLite takes at most 500 terms in one compound SELECT: more batches, more statements.
    for start in range(0, len(parts), _UNION_MOST):
        chunk = parts[start : start + _UNION_MOST]
        rows = chunk[0].union(*chunk[1:], all=True) if len(chunk) > 1 else chunk[0]
        found.update((row[0], tuple(row[1:])) for row in rows if row[1])
    return found


_UNION_MOST = 400
