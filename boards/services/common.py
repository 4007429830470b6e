"""What every service shares: card counts, events, row locks, transitions, batch names, splits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from accounts.models import User
from boards.models import (
    CARD_COUNTS,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchSource,
    BatchStatus,
    EventKind,
    FreeImage,
    Image,
    Placement,
    Project,
    ReviewState,
    count_card_images,
)
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, NotFound, WrongState

STATUS_LABELS = dict(BatchStatus.choices)


def mark_changed(*batches: Batch | int | None, counted: dict[int, tuple[int, ...]] | None = None) -> None:
    """Mark batches changed and store the image counts their cards show: two queries (one when
    ``counted``, the counts the caller knows without counting by batch, holds every batch's: a
    change of one image knows them from ``counts_after_one``).

    Every change to a batch's images (which ones, their annotation or review
    state) ends with this: the board's change check reads ``updated_at``, and
    the stored counts hold while ``counted_at`` equals it. A change that moves
    ``updated_at`` without this costs the board a count; one that changes images
    and neither would leave a wrong number on the card (and in what
    ``split_counts`` takes from it), which is why the admin ends its writes of
    images with this too. Callers hold the
    batches' row locks (``_locked``, ``lock_batches``), taken before they
    changed any image: the counts then include every committed change. The ``Batch`` instances
    given are kept in step with their rows (``selectors.batch_progress(..., stored=True)`` reads them).
    """
    ids = {b.pk if isinstance(b, Batch) else b for b in batches if b is not None}
    if not ids:
        return
    instances = [b for b in batches if isinstance(b, Batch)]
    known = {pk: counts for pk, counts in (counted or {}).items() if pk in ids}
    counted = count_card_images(ids - known.keys()) if ids - known.keys() else {}
    counted.update(known)
    now = timezone.now()
    stored = {
        pk: {"updated_at": now, "counted_at": now, **dict(zip(CARD_COUNTS, counted.get(pk, (0, 0, 0, 0)), strict=True))}
        for pk in ids
    }
    if len(ids) == 1:  # one batch (a save, a decision): a plain UPDATE, not bulk_update's CASE per column
        ((pk, values),) = stored.items()
        Batch.objects.filter(pk=pk).update(**values)
    else:
        rows = [Batch(pk=pk, **values) for pk, values in stored.items()]
        Batch.objects.bulk_update(rows, ["updated_at", "counted_at", *CARD_COUNTS], batch_size=500)
    for batch in instances:  # the callers' rows, in step with what was stored
        for name, value in stored[batch.pk].items():
            setattr(batch, name, value)


def card_terms(image: Image, *, boxes: bool) -> tuple[int, ...]:
    """What one image adds to its batch's ``CARD_COUNTS`` (in their order): to all, annotated (boxes
    or marked empty), reviewed, and pre-labeled (unannotated, with ``boxes``)."""
    unannotated = image.annotation_state == AnnotationState.UNANNOTATED
    return (1, int(not unannotated), int(image.review_state != ReviewState.PENDING), int(unannotated and boxes))


def counts_after_one(batch: Batch | None, before: tuple[int, ...], after: tuple[int, ...]) -> dict:
    """The card counts of a batch one of whose images changed from ``before`` to ``after``
    (``card_terms``), for ``mark_changed(counted=...)``: the counts stored on the batch's row, which
    the caller locked before changing the image, moved by the difference. Nothing (so counted
    afresh) when the stored counts do not hold.

    The editor's autosave and a reviewer's decision change one image each time: so they store
    their batch's counts without reading its images (a count grows with the batch).
    """
    if batch is None or not batch.counts_stored:
        return {}
    stored = tuple(getattr(batch, name) for name in CARD_COUNTS)
    counts = tuple(n - old + new for n, old, new in zip(stored, before, after, strict=True))
    if not all(0 <= n <= counts[0] for n in counts):  # stored counts gone wrong: count them afresh
        return {}
    return {batch.pk: counts}


def _event(
    batch: Batch,
    kind: str,
    actor: User | None,
    *,
    from_status: str = "",
    to_status: str = "",
    **detail,
) -> BatchEvent:
    return BatchEvent.objects.create(
        project_id=batch.project_id,
        batch=batch,
        batch_name=batch.name,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        detail=detail,
    )


# Row locks are taken in one order everywhere: the project row (only where a
# project-wide rule needs it, as FOR NO KEY UPDATE so that rows referring to
# the project can still be inserted meanwhile), then batch rows in id order,
# then image rows. A service that starts from an image locks its batch first.
# Two services in one order wait for each other instead of deadlocking, and
# ``mark_changed`` counts a batch's images while its row is locked, so the
# counts it stores include every change committed before.


def _locked(batch: Batch, *, same_status: bool = True) -> Batch:
    """Re-read the batch under a row lock; refuse if it was deleted or (``same_status``) moved meanwhile."""
    try:
        fresh = Batch.objects.select_for_update(of=("self",)).select_related("project").get(pk=batch.pk)
    except Batch.DoesNotExist:
        raise ConcurrentChange("This batch no longer exists; someone deleted it.") from None
    if same_status and fresh.status != batch.status:
        raise ConcurrentChange(f"Someone else moved this batch to {STATUS_LABELS[fresh.status]} meanwhile.")
    return fresh


def lock_batches(ids: Iterable[int]) -> dict[int, Batch]:
    """Lock these batches' rows, in id order; those that still exist, by id."""
    rows = Batch.objects.select_for_update(of=("self",)).select_related("project").filter(pk__in=set(ids))
    return {batch.pk: batch for batch in rows.order_by("pk")}


def _locked_image(image: Image) -> Image:
    """Re-read the image under a row lock, its batch (``image.batch``) locked first: the images of a
    locked batch stay in it (every move locks the batches it moves images between)."""
    if image.batch_as_read and image.batch_id is not None:
        # Read in a batch (``selectors.batch_image``, ``image_in``): that batch is locked, and the image
        # checked to be still in it below. (One read free may have joined a batch since: read again.)
        found = [image.batch_id]
    else:
        found = list(Image.objects.filter(pk=image.pk).values_list("placement__batch_id", flat=True))
    if not found:
        raise NotFound("This image no longer exists; someone deleted it.")
    batch = lock_batches([found[0]]).get(found[0]) if found[0] is not None else None
    # A free image stays free while its free row is locked (a batch takes an image by deleting that
    # row): locked before the image's own row, the order ``place_free`` takes them in.
    still_free = batch is None and FreeImage.objects.select_for_update().filter(image_id=image.pk).exists()
    fresh = (
        Image.objects.select_for_update(of=("self",)).select_related("project", "placement").filter(pk=image.pk).first()
    )
    if fresh is None:
        raise NotFound("This image no longer exists; someone deleted it.")
    # Still where it was found: in that batch (which still exists), or free.
    if fresh.batch_id != found[0] or (found[0] is None and not still_free):
        raise ConcurrentChange("This image moved to another batch meanwhile; reload and try again.")
    if batch is not None:
        fresh.placement.batch = batch  # the row just locked, read once
    return fresh


def _check_transition(batch: Batch, name: str, actor: User, *, verb: str) -> None:
    """Permission first (403), then state (409); the conditions are checked when the transition runs.

    The permission is the one the transition declares (a name, or a function
    such as ``can_submit``), asked through django-fsm rather than ``require``.
    """
    method = getattr(batch, name)
    meta = method._django_fsm
    any_transition = next(iter(meta.transitions.values()))
    if not actor.is_authenticated or not any_transition.has_perm(batch, actor):
        raise NotAllowed(f"You do not have permission to {verb} this batch.")
    if not meta.has_transition(batch.status):
        raise WrongState(f"A batch in {STATUS_LABELS[batch.status]} cannot be {_past(verb)}.")


def _past(verb: str) -> str:
    return {
        "assign": "assigned",
        "submit": "submitted",
        "review": "reviewed",
        "move": "moved to Unassigned",
        "archive": "archived",
        "restore": "restored",
    }.get(verb, verb)


@dataclass
class Transition:
    """A batch's move under way: the locked batch, and what its event will say.

    The body of ``transition`` calls the FSM method on ``batch`` and fills in
    ``detail``; it may change ``kind`` (a review that rejects) and names in
    ``also`` the batches split off, whose card counts are stored with the batch's;
    ``counted`` has the counts of those it knows without counting (``split_counts``).
    """

    batch: Batch
    kind: str
    from_status: str
    detail: dict[str, Any] = field(default_factory=dict)
    also: list[Batch] = field(default_factory=list)
    counted: dict[int, tuple[int, ...]] = field(default_factory=dict)


@contextmanager
def transition(
    batch: Batch, name: str, actor: User, *, verb: str, event: str, lock_project: bool = False
) -> Iterator[Transition]:
    """Lock and check a batch's transition ``name``; after the body has run it, save and record it.

    One transaction, locks in the order above: the project row first when
    ``lock_project`` (for a project setting the move reads, such as
    ``review_mode``), then the batch row, re-read (``_locked``: deleted or
    moved meanwhile is a 409), then the images the body updates. The check
    (``_check_transition``: 403, then 409) comes before the body. The body
    does the bulk updates and calls the FSM method itself, so work that must
    precede the transition, or decides which one runs, stays with the service.
    Then the batch is saved (``ConcurrentTransitionMixin`` turns a status
    changed underneath into a 409), its card counts and those of ``also`` are
    stored after every image changed, and one ``BatchEvent`` says from where
    to where. A body that raises leaves nothing behind.
    """
    with transaction.atomic():
        if lock_project:
            Project.objects.select_for_update(no_key=True).filter(pk=batch.project_id).first()
        locked = _locked(batch)
        _check_transition(locked, name, actor, verb=verb)
        change = Transition(batch=locked, kind=event, from_status=locked.status)
        yield change
        try:
            locked.save()
        except ConcurrentTransition:
            raise ConcurrentChange("Someone else moved this batch meanwhile; reload and try again.") from None
        mark_changed(locked, *change.also, counted=change.counted)
        _event(locked, change.kind, actor, from_status=change.from_status, to_status=locked.status, **change.detail)


def unique_batch_name(project: Project, base: str, *, exclude: Iterable[str] = ()) -> str:
    """``base``, or ``base (2)``, ``base (3)``… whichever is free in the project."""
    base = base.strip()[:190] or "Batch"
    taken = set(Batch.objects.filter(project=project, name__startswith=base).values_list("name", flat=True)) | set(
        exclude
    )
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def upload_batch_name(at) -> str:
    """Like "Uploaded on 11/22/22 at 1:39 pm", in the server's time zone."""
    local = timezone.localtime(at)
    hour = local.hour % 12 or 12
    return f"Uploaded on {local:%m/%d/%y} at {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


def _parse_image_ids(image_ids: Iterable[int], *, what: str) -> set[int]:
    try:
        ids = {int(i) for i in image_ids}
    except (TypeError, ValueError):
        raise InvalidInput(f"The {what} must be a list of image ids.") from None
    if not ids:
        raise InvalidInput(f"Select at least one image to {what.split()[0]}.")
    return ids


def _check_all_in(ids: set[int], found: int) -> None:
    if found != len(ids):
        raise InvalidInput(f"{len(ids) - found} of the {len(ids)} selected images are not in this batch.")


def _image_ids_in(batch: Batch, image_ids: Iterable[int], *, what: str) -> set[int]:
    ids = _parse_image_ids(image_ids, what=what)
    _check_all_in(ids, Placement.objects.filter(batch=batch, image_id__one_of=ids).count())
    return ids


# What splits used to append to a batch's name, and what they append now: a
# part number. ``(N)`` counts only after an old suffix (``unique_batch_name``
# added it there); elsewhere it may be the name's own.
_OLD_SUFFIX = r"\((?:rest|rejected)\)(?:\s*\(\d+\))?"
_PART = r"·\s*part\s+\d+"
_SPLIT_TAIL = re.compile(rf"(?:\s*(?:{_OLD_SUFFIX}|{_PART}))+\s*$")
_STALE_TAIL = re.compile(rf"(?:\s*{_OLD_SUFFIX})+(?=\s*(?:{_PART}\s*)?$)")


def split_name(project: Project, name: str) -> str:
    """The name of a batch split off the batch ``name``: "Name · part 2", then part 3...

    Parts count from the name without its split suffixes, so splitting a
    part again gives the next free part number, never a stacked suffix.
    """
    base = _SPLIT_TAIL.sub("", name).strip()[:180] or "Batch"
    taken = set(Batch.objects.filter(project=project, name__startswith=base).values_list("name", flat=True))
    n = 2
    while f"{base} · part {n}" in taken:
        n += 1
    return unique_batch_name(project, f"{base} · part {n}", exclude=taken)


def _drop_stale_suffix(batch: Batch) -> dict:
    """A batch reaching Dataset sheds a "(rest)" or "(rejected)" it still carries; saved with its transition.

    Returns the event detail naming the old name, if it changed.
    """
    clean = _STALE_TAIL.sub("", batch.name).strip()
    if clean == batch.name or not clean:
        return {}
    if Batch.objects.filter(project_id=batch.project_id, name=clean).exclude(pk=batch.pk).exists():
        clean = split_name(batch.project, clean)
    old, batch.name = batch.name, clean
    return {"renamed_from": old}


def _split_off(
    batch: Batch, image_ids: set[int] | None, *, keep: bool, status: str, actor, after: int | None = None
) -> tuple[Batch, int]:
    """Move images out of ``batch`` into a new batch split from it; the new batch and how many moved.

    With ``keep`` the ids are the ones that stay and every other image moves;
    otherwise the ids are the ones that move. ``after`` instead of ids: the
    images with a greater id move (the first N in upload order stay, and no
    list of them is sent). The new batch is named as a part of the old one
    (``split_name``).
    """
    for attempt in range(5):
        try:
            # Parts of one batch split at once pick the same free "part N": the
            # project's unique name refuses the second, which takes the next.
            with transaction.atomic():
                new = Batch.objects.create(
                    project=batch.project,
                    name=split_name(batch.project, batch.name),
                    priority=batch.priority,
                    status=status,
                    source=BatchSource.SPLIT,
                    uploaded_at=batch.uploaded_at,
                    created_by=actor,
                    split_from=batch,
                )
            break
        except IntegrityError:
            if attempt == 4:
                raise ConcurrentChange("Other splits of this batch are being named right now; try again.") from None
    # Only the placements change: the image rows, wide and indexed for the catalog, are not rewritten.
    moving = Placement.objects.filter(batch=batch)
    if after is not None:
        moving = moving.filter(image_id__gt=after)
    else:
        moving = moving.exclude(image_id__one_of=image_ids) if keep else moving.filter(image_id__one_of=image_ids)
    moved = moving.update(batch=new)
    # Both batches' counts are stored by the caller (``mark_changed``), after its transition.
    _event(
        batch,
        EventKind.SPLIT,
        actor,
        from_status=batch.status,
        to_status=batch.status,
        images_moved=moved,
        into_batch=new.pk,
        into_batch_name=new.name,
    )
    _event(
        new,
        EventKind.CREATED,
        actor,
        to_status=status,
        images=moved,
        split_from=batch.pk,
        split_from_name=batch.name,
    )
    return new, moved


def split_counts(source: Batch, part: Batch, *, total: int, moved: int) -> dict[int, tuple[int, ...]]:
    """Both batches' card counts after ``moved`` of the ``total`` images of ``source`` (read under
    its row lock, its stored counts as they were before the split) went to ``part``, nothing else
    about them changed: the smaller side counted, the other the difference from the source's stored
    counts. Counting a batch reads each of its images: a 12,500-image split then reads half of them.
    Nothing (both are counted) when the stored counts do not hold (``counts_stored``) or do not add
    up: their image count is not ``total``, or a difference would be negative (images changed behind
    the services' back)."""
    before = tuple(getattr(source, name) for name in CARD_COUNTS)
    if not source.counts_stored or before[0] != total:
        return {}
    small, other = (part, source) if moved <= total - moved else (source, part)
    counts = count_card_images([small.pk]).get(small.pk, (0,) * len(CARD_COUNTS))
    rest = tuple(whole - some for whole, some in zip(before, counts, strict=True))
    if min(rest) < 0:
        return {}
    return {small.pk: counts, other.pk: rest}


def _validate_priority(priority) -> None:
    if not isinstance(priority, int) or not PRIORITY_HIGHEST <= priority <= PRIORITY_LOWEST:
        raise InvalidInput(
            f"Priority is a whole number from {PRIORITY_HIGHEST} (highest) to {PRIORITY_LOWEST} (lowest)."
        )
