"""The board's card: what one batch's card shows, built for any number of batches in one pass.

A ``Card`` is plain data read with ``values_list`` (no model instances): the
batch's own fields, its image counts (stored by the services, or counted when
they are not current), its first thumbnails and its current job's people. Three
queries at most for any number of cards: the batches with their thumbnails, the
jobs, and a count of the images of batches whose stored counts are stale; a
fourth when some are queue batches (who holds their images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import NotSupportedError
from django.db.models import Field, OuterRef, Subquery

from accounts.models import initials_of
from boards.models import (
    COUNTS_FRESH,
    IDLE_STATUSES,
    Batch,
    BatchStatus,
    Job,
    JobState,
    Placement,
    count_card_images,
)
from boards.selectors.queue import queue_workers

THUMBS_PER_CARD = 4


@dataclass(frozen=True, slots=True)
class Person:
    pk: int
    email: str
    initials: str


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    label: str

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


@dataclass(slots=True)
class Card:
    pk: int
    name: str
    priority: int
    status: str
    uploaded_at: datetime
    image_count: int = 0
    annotated_count: int = 0
    reviewed_count: int = 0
    prelabeled_count: int = 0
    thumb_ids: list[int] = field(default_factory=list)
    num_jobs: int = 0  # assignments so far, cancelled ones included
    labeler: Person | None = None  # of the current job; none in Unassigned and Archived
    reviewer: Person | None = None
    queue: bool = False  # in Annotating, assigned to the project's label queue: no one labeler
    workers: tuple[Person, ...] = ()  # of a queue batch: who holds its images now, most first
    workers_until: datetime | None = None  # when the first of those holds may expire

    @property
    def labeler_id(self) -> int | None:
        return self.labeler.pk if self.labeler else None

    @property
    def rework_count(self) -> int:
        """In Annotating, the only reviewed images are those a review sent back and that
        were neither changed nor checked since: the images awaiting rework."""
        return self.reviewed_count if self.status == BatchStatus.ANNOTATING else 0

    @property
    def progress(self) -> Progress:
        if self.status == BatchStatus.REVIEW:
            return Progress(self.reviewed_count, self.image_count, "reviewed")
        return Progress(self.annotated_count, self.image_count, "annotated")


_FIELDS = ("pk", "name", "priority", "status", "uploaded_at")
_COUNTS = ("n_images", "n_annotated", "n_reviewed", "n_prelabeled", "counts_fresh")
_PEOPLE = tuple(f"{who}__{f}" for who in ("labeler", "reviewer") for f in ("id", "email", "full_name"))


class FirstImages(Subquery):
    """The ids of a batch's first images in one subquery: one probe per batch of the placements'
    (batch, image) index reading a few entries, not one probe per thumbnail, and no image row read.
    PostgreSQL answers an array, SQLite a "1,2,3" string."""

    output_field = Field()  # no conversion: ``_ids`` reads either form

    def __init__(self, count: int):
        super().__init__(Placement.objects.filter(batch=OuterRef("pk")).order_by("image_id").values("image_id")[:count])

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"The board's thumbnails need PostgreSQL or SQLite, not {connection.vendor}.")

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = Subquery.as_sql(self, compiler, connection, **extra)
        return f"ARRAY{sql}", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = Subquery.as_sql(self, compiler, connection, **extra)
        return f"(SELECT group_concat(firsts.image_id) FROM {sql} AS firsts)", params  # noqa: S608 - compiled by Django


def _ids(value) -> list[int]:
    if not value:
        return []
    return sorted(int(pk) for pk in (value.split(",") if isinstance(value, str) else value))


def build_cards(batches) -> dict[int, Card]:
    """The cards of these batches (a ``Batch`` queryset), by batch id."""
    cards: dict[int, Card] = {}
    stale: list[int] = []
    n = len(_FIELDS)
    rows = batches.order_by().annotate(counts_fresh=COUNTS_FRESH, thumbs=FirstImages(THUMBS_PER_CARD))
    rows = rows.values_list(*_FIELDS, *_COUNTS, "thumbs")
    for row in rows:
        card = cards[row[0]] = Card(*row[:n])
        images, annotated, reviewed, prelabeled, fresh = row[n : n + 5]
        if fresh:
            card.image_count, card.annotated_count, card.reviewed_count, card.prelabeled_count = (
                images,
                annotated,
                reviewed,
                prelabeled,
            )
        else:
            stale.append(card.pk)
        card.thumb_ids = _ids(row[n + 5])
    if not cards:
        return cards
    for pk, counts in count_card_images(stale).items() if stale else ():
        card = cards[pk]
        card.image_count, card.annotated_count, card.reviewed_count, card.prelabeled_count = counts
    jobs = Job.objects.filter(batch_id__in=list(cards)).order_by("-created_at", "-pk")
    current: set[int] = set()  # cards whose current job (the latest not cancelled) is read
    for batch_id, state, *people in jobs.values_list("batch_id", "state", *_PEOPLE):
        card = cards[batch_id]
        card.num_jobs += 1
        if batch_id in current or state == JobState.CANCELLED or card.status in IDLE_STATUSES:
            continue
        current.add(batch_id)
        card.labeler, card.reviewer = _person(*people[:3]), _person(*people[3:])
        card.queue = card.labeler is None and card.status == BatchStatus.ANNOTATING
    queued = [pk for pk in current if cards[pk].queue]
    if queued:  # a fourth query, only for boards with queue batches
        for batch_id, (people, until) in queue_workers(queued).items():
            cards[batch_id].workers = tuple(Person(*person) for person in people)
            cards[batch_id].workers_until = until
    return cards


def _person(pk: int | None, email: str | None, full_name: str | None) -> Person | None:
    return Person(pk, email, initials_of(full_name or "", email)) if pk is not None else None


def cards_of(project, ids) -> list[Card]:
    """These batches of the project as cards, in the order of ``ids``."""
    cards = build_cards(Batch.objects.filter(project=project, pk__in=list(ids)))
    return [cards[pk] for pk in ids if pk in cards]


def card_of(batch: Batch) -> Card:
    """One batch's card (its counts and people), e.g. for a dialog or the batch page.

    A batch deleted meanwhile (a refused move re-renders its page) keeps the card it
    had: its own fields, and its stored counts while they held.
    """
    card = build_cards(Batch.objects.filter(pk=batch.pk)).get(batch.pk)
    if card is None:
        card = Card(batch.pk, batch.name, batch.priority, batch.status, batch.uploaded_at)
        if batch.counts_stored:
            card.image_count, card.annotated_count = batch.n_images, batch.n_annotated
            card.reviewed_count, card.prelabeled_count = batch.n_reviewed, batch.n_prelabeled
    return card
