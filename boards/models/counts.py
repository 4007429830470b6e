"""The image counts a card shows, stored on its batch (``Batch.n_images`` and the others) and counted here."""

import functools

from django.db import connection, models

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

# ``Batch.counts_stored``, compared in the database (``.annotate(counts_fresh=COUNTS_FRESH)``).
COUNTS_FRESH = models.ExpressionWrapper(models.Q(counted_at=models.F("updated_at")), output_field=models.BooleanField())


def count_card_images(batch_ids) -> dict[int, tuple[int, ...]]:
    """Each batch's ``CARD_COUNTS`` from its images, in one query; batches without images are left out.

    Per batch, its images are named by the list of their ids (``one_of`` a subquery of its
    placements: an array on PostgreSQL), so that each is read by its primary key; the batches'
    counts are one ``UNION ALL``. Joined to the placements instead, PostgreSQL may read the whole
    image table to count one batch. The part of one batch is compiled once per database, with the
    batch as a parameter: building it through the ORM costs some milliseconds a batch.
    """
    pks = sorted({int(pk) for pk in batch_ids})
    sql, params = _count_one_batch(connection.vendor)
    found = {}
    # SQLite takes at most 500 terms in one compound SELECT: more batches, more statements.
    for start in range(0, len(pks), _UNION_MOST):
        chunk = pks[start : start + _UNION_MOST]
        with connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join([sql] * len(chunk)),
                [pk if value is _BATCH else value for pk in chunk for value in params],
            )
            found.update((row[0], tuple(row[1:])) for row in cursor.fetchall() if row[1])
    return found


_UNION_MOST = 400
_BATCH = object()  # where the batch goes among a compiled part's parameters
_SENTINEL = -7_000_000_001  # no batch has it: marks the batch's parameters when compiling


@functools.cache
def _count_one_batch(vendor: str) -> tuple[str, tuple]:
    """One batch's counts as SQL (``batch_ref`` first, then ``CARD_COUNTS``), its parameters with
    ``_BATCH`` where the batch goes."""
    counts = {name: models.Count("pk", filter=q() if callable(q) else q) for name, q in CARD_COUNTS.items()}
    one = (
        Image.objects.filter(pk__one_of=Placement.objects.filter(batch_id=_SENTINEL).values("image_id"))
        .order_by()
        .annotate(batch_ref=models.Value(_SENTINEL, output_field=models.BigIntegerField()))
        .values("batch_ref")
        .annotate(**counts)
        .values_list("batch_ref", *CARD_COUNTS)
    )
    sql, params = one.query.sql_with_params()
    marked = tuple(_BATCH if value == _SENTINEL else value for value in params)
    if marked.count(_BATCH) != 2:  # the batch's id and its placements' filter
        raise AssertionError(f"count_card_images: the batch is {marked.count(_BATCH)} parameters, not 2")
    return sql, marked
