"""The label queue: keeping its entries true to the batches, and handing out the next image.

A queue batch (a batch in Annotating whose current job has no labeler) has one
``QueueEntry`` per image still to label: unannotated, or sent back by a review
(pinned to the labeler who labeled it). ``sync_queue`` makes a batch's entries
match its images after any bulk change; ``finish`` drops one image's entry when
it is done; ``next_image`` serves a labeler.

Serving never locks the batch: it reads the front of the queue's small index
and takes the entry with a compare-and-set update, so two labelers pressing
"Start labeling" at once never get the same image (on PostgreSQL the candidate
row is also locked with ``SKIP LOCKED``, so the second labeler takes the next
row at once instead of waiting).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import Membership, User
from accounts.roles import Role, role_at_least
from boards import selectors
from boards.models import (
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    Job,
    JobState,
    Placement,
    Project,
    QueueEntry,
    ReviewState,
)
from boards.selectors import TO_LABEL, reservation_cutoff

# How often serving retries when another labeler took the candidate between the read and the update.
_ATTEMPTS = 8

# "Start labeling" runs at every image a labeler finishes, by every labeler at once: its most frequent
# statements are written by hand below. Building each with the ORM cost 0.4-0.8 ms of CPU, more than
# PostgreSQL spends running it (an index probe of a few rows); as SQL, about 0.1 ms.
_ENTRIES, _IMAGES = QueueEntry._meta.db_table, Image._meta.db_table


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _when(moment) -> object:
    """A datetime as the database takes it in a hand-written statement (SQLite: naive UTC, as the ORM
    stores it, so that the text compares and sorts with the ORM's)."""
    return connection.ops.adapt_datetimefield_value(moment)


def queue_batch_ids(batch_ids) -> set[int]:
    """Which of these batches are queue batches now: in Annotating, their current job without a labeler."""
    ids = set(batch_ids)
    if not ids:
        return set()
    current: dict[int, int | None] = {}
    jobs = (
        Job.objects.filter(batch_id__in=ids, batch__status=BatchStatus.ANNOTATING)
        .exclude(state=JobState.CANCELLED)
        .order_by("batch_id", "-created_at", "-pk")
        .values_list("batch_id", "labeler_id")
    )
    for batch_id, labeler_id in jobs:
        current.setdefault(batch_id, labeler_id)
    return {batch_id for batch_id, labeler_id in current.items() if labeler_id is None}


def sync_queue(*batches: Batch | int) -> None:
    """Make these batches' queue entries match their images.

    A queue batch gets an entry for each unfinished image that has none
    (pinned to its labeler when a review sent it back), and loses those of
    images finished or gone; any other batch loses all its entries. Two
    statements per queue batch, one for the rest: called after assigning to
    the queue, a review sending images back, a move out of Annotating, and any
    bulk change of annotation states.
    """
    ids = {b.pk if isinstance(b, Batch) else b for b in batches if b is not None}
    if not ids:
        return
    queued = queue_batch_ids(ids)
    others = ids - queued
    if others:
        QueueEntry.objects.filter(batch_id__in=others).delete()
    if not queued:
        return
    QueueEntry.objects.filter(batch_id__in=queued).exclude(image__placement__batch_id__in=queued).delete()
    QueueEntry.objects.filter(batch_id__in=queued).exclude(
        image__in=Image.objects.filter(TO_LABEL, placement__batch_id__in=queued)
    ).delete()
    for batch in Batch.objects.filter(pk__in=queued):
        enqueue(batch)


def enqueue(batch: Batch) -> None:
    """Add an entry for each unfinished image of this batch that has none: one statement.

    Images a review sent back are pinned to the labeler who labeled them; the
    others are free, queued now at the batch's priority. The caller knows the
    batch is (or is becoming) a queue batch.
    """
    entries, images, placements = QueueEntry._meta.db_table, Image._meta.db_table, Placement._meta.db_table
    pinned = "(i.review_state = %s AND i.annotated_by_id IS NOT NULL)"
    sql = (
        f"INSERT INTO {entries} (project_id, batch_id, image_id, priority, queued_at, reserved_by_id, "  # noqa: S608
        "reserved_at, pinned) "
        f"SELECT %s, p.batch_id, i.id, %s, %s, CASE WHEN {pinned} THEN i.annotated_by_id END, "
        f"CASE WHEN {pinned} THEN %s END, CASE WHEN {pinned} THEN %s ELSE %s END "
        f"FROM {placements} p JOIN {images} i ON i.id = p.image_id "
        "WHERE p.batch_id = %s AND (i.annotation_state = %s OR i.review_state = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {entries} e WHERE e.image_id = i.id)"
    )
    now, rejected = _when(timezone.now()), ReviewState.REJECTED
    args = [batch.project_id, batch.priority, now, rejected, rejected, now, rejected, True, False]
    args += [batch.pk, AnnotationState.UNANNOTATED, rejected]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)


def dequeue(batch: Batch) -> None:
    """The batch left the queue (moved, submitted, reassigned): its entries go."""
    QueueEntry.objects.filter(batch=batch).delete()


def finish(*, user: User, image_id: int | None = None) -> list[int]:
    """The labeler moves on ("Next image", "Start labeling"): the images they hold that are done
    (annotated or empty, and not awaiting rework) leave the queue — ``image_id`` only, if given.
    Returns the batches whose last entry that was, for the caller to submit once this has committed.

    Only the holder's own entries go: a reservation someone else took over
    after it expired stays theirs.
    """
    # By hand (the statements of Start labeling, above), one condition for the read and the delete.
    done = "e.reserved_by_id = %s AND i.annotation_state <> %s AND i.review_state <> %s"
    args = [user.pk, AnnotationState.UNANNOTATED, ReviewState.REJECTED]
    if image_id is not None:
        done, args = f"{done} AND e.image_id = %s", [*args, image_id]
    finished = f"FROM {_ENTRIES} e JOIN {_IMAGES} i ON i.id = e.image_id WHERE {done}"  # noqa: S608
    # Read outside a transaction: most calls find nothing done, and then open none.
    batches = {batch_id for (batch_id,) in _rows(f"SELECT DISTINCT e.batch_id {finished}", args)}
    if not batches:
        return []
    with transaction.atomic():
        # Their batches' rows first (the lock order of every service): of two labelers finishing
        # a batch's last two images at once, the second sees the first one's entry gone.
        list(Batch.objects.select_for_update(of=("self",)).filter(pk__in=batches).order_by("pk").values_list("pk"))
        # Only the batches locked and checked below: an entry finished since the read is left for next time.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_ENTRIES} WHERE id IN (SELECT e.id {finished} "  # noqa: S608
                f"AND e.batch_id IN ({', '.join(['%s'] * len(batches))}))",
                [*args, *sorted(batches)],
            )
            if not cursor.rowcount:
                return []
        still = set(QueueEntry.objects.filter(batch_id__in=batches).values_list("batch_id", flat=True).distinct())
    return sorted(batches - still)


def after_save(image: Image, actor: User) -> None:
    """An image of a queue batch was saved (the caller checked the batch is one): the holder's
    reservation is renewed (its idle time starts again), and an image that needs a labeler again
    (cleared, sent back) and had left the queue goes back in it, free."""
    if hold(image, actor):
        return
    needs_labeler = image.annotation_state == AnnotationState.UNANNOTATED or image.review_state == ReviewState.REJECTED
    if needs_labeler and not QueueEntry.objects.filter(image_id=image.pk).exists():
        batch = image.batch
        QueueEntry.objects.create(
            project_id=batch.project_id,
            batch_id=batch.pk,
            image_id=image.pk,
            priority=batch.priority,
            queued_at=timezone.now(),
        )


def hold(image: Image, user: User) -> bool:
    """Renew the labeler's reservation of this image (its idle time starts again); False if they hold none.

    An expired reservation nobody else took is still theirs to renew.
    """
    with connection.cursor() as cursor:  # by hand: every Start labeling at the cap renews one
        cursor.execute(
            f"UPDATE {_ENTRIES} SET reserved_at = %s WHERE image_id = %s AND reserved_by_id = %s",  # noqa: S608
            [_when(timezone.now()), image.pk, user.pk],
        )
        return cursor.rowcount > 0


def next_queued_image(
    *, user: User, project: Project | None = None, current: int | None = None, below: int | None = None
) -> Image | None:
    """The next image of a label queue for this labeler (``project``'s, or the best of their workspaces'), reserved.

    ``below``: serve only images of a higher priority (a smaller number) than
    this, the priority of the work assigned to them. None when nothing waits.
    """
    if project is not None:
        return next_image(project=project, user=user, current=current, below=below)
    for row in selectors.queue_waiting(user):
        if below is not None and row["priority"] >= below:
            break
        project = Project.objects.select_related("workspace").get(pk=row["project_id"])
        found = next_image(project=project, user=user, current=current, below=below)
        if found is not None:
            return found
    return None


def next_image(*, project: Project, user: User, current: int | None = None, below: int | None = None) -> Image | None:
    """The next image of the project's label queue for this labeler, reserved for them; None when there is none.

    In this order: an image a review sent back to them; while they hold fewer
    than the project's ``reservation_cap`` images, a new one from the queue
    (highest priority first; within a priority, reservations that expired,
    oldest first, then the oldest queued); else, or when the queue is empty,
    the oldest image they hold. ``current`` (the image they are on) is never
    served again by this call: "next" moves on, and what they leave stays
    reserved for them. ``below`` limits all of it to priorities above it.
    """
    if not role_at_least(user.role_in(project.workspace_id), Role.LABELER):
        return None
    with transaction.atomic():
        # One labeler's requests (several tabs) take their turns: the cap holds. (SQLite runs one
        # writing transaction at a time: nothing to lock there.)
        if connection.features.has_select_for_update:
            _rows(f"SELECT 1 FROM {User._meta.db_table} WHERE id = %s FOR UPDATE", [user.pk])  # noqa: S608
        now = timezone.now()
        # What they hold (pinned, or reserved since the cutoff), in one read: images sent back to them
        # first, then by priority and age; enough rows to tell whether they are at the cap (``current``
        # may be among them).
        cap = project.reservation_cap
        rows = _rows(
            f"SELECT image_id, pinned, priority, batch_id FROM {_ENTRIES} "  # noqa: S608
            "WHERE project_id = %s AND reserved_by_id = %s AND (pinned OR reserved_at >= %s) "
            "ORDER BY pinned DESC, priority, reserved_at, id LIMIT %s",
            [project.pk, user.pk, _when(reservation_cutoff(project, now)), cap + 2],
        )
        mine = [row for row in rows if row[0] != current and (below is None or row[2] < below)]
        found = next(((image_id, batch_id) for image_id, pinned, _p, batch_id in mine if pinned), None)
        new_batch = False
        if found is None and len(rows) < cap:
            found = _reserve(project, user, now, below, current)
            new_batch = found is not None and found[1] not in {row[3] for row in rows}
        if found is None and mine:
            found = mine[0][0], mine[0][3]  # the oldest they hold
            hold(Image(pk=found[0]), user)
    if found is None:
        return None
    image_id, batch_id = found
    if new_batch:
        _show_workers(batch_id)
    # Enough of the image for the editor's address; the editor reads the rest.
    # (Its batch is set on the instance only: it is never saved.)
    return Image(pk=image_id, project=project, batch=Batch(pk=batch_id, project=project))


def _reserve(project: Project, user: User, now, below: int | None, current: int | None) -> tuple[int, int] | None:
    """Take the front entry of the queue for ``user``: its image's and batch's ids (None: the queue is empty).

    Two candidates, each the first of small partial indexes: a held entry that
    is up for grabs (a reservation that expired, or an image sent back to a
    person who left the workspace or lost the labeler role), and the first
    free entry; the best priority wins, the first before free entries of the
    same priority. ``current`` is passed over.
    """
    expiry = _when(reservation_cutoff(project, now))
    # By hand, as the statements of Start labeling above (a reservation builds three).
    scope, scope_args = "project_id = %s", [project.pk]
    if current is not None:
        scope, scope_args = f"{scope} AND image_id <> %s", [*scope_args, current]
    if below is not None:
        scope, scope_args = f"{scope} AND priority < %s", [*scope_args, below]
    roles = [r for r in Role.values if role_at_least(r, Role.LABELER)]
    labelers = (
        f"SELECT user_id FROM {Membership._meta.db_table} "  # noqa: S608
        f"WHERE workspace_id = %s AND role IN ({', '.join(['%s'] * len(roles))})"
    )
    # Up for grabs: expired, or sent back to someone who is no longer a labeler here. Free: nobody's.
    loose = (
        "((NOT pinned AND reserved_at < %s AND reserved_by_id IS NOT NULL) "
        f"OR (pinned AND reserved_by_id IS NOT NULL AND reserved_by_id NOT IN ({labelers})))"
    )
    candidates = [
        (loose, [expiry, project.workspace_id, *roles], "reserved_at"),
        ("reserved_by_id IS NULL", [], "queued_at"),
    ]
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    for _ in range(_ATTEMPTS):
        # Within the caller's transaction (``next_image``'s): a miss is an update of no row, not an
        # error, so an attempt needs no savepoint of its own (two statements fewer each).
        with transaction.atomic(savepoint=False):
            # Each candidate is one range read of its partial index; locked rows are passed over.
            firsts = [
                (priority, rank, pk, image_id, batch_id, condition, args)
                for rank, (condition, args, order) in enumerate(candidates)
                for priority, pk, image_id, batch_id in _rows(
                    f"SELECT priority, id, image_id, batch_id FROM {_ENTRIES} "  # noqa: S608
                    f"WHERE {scope} AND {condition} ORDER BY priority, {order}, id LIMIT 1{skip_locked}",
                    [*scope_args, *args],
                )
            ]
            if not firsts:
                return None
            # An expired reservation goes before the free entries of its priority.
            _priority, _rank, pk, image_id, batch_id, condition, args = min(firsts, key=lambda row: row[:2])
            with connection.cursor() as cursor:  # taken only if still as read (SQLite locks no row)
                cursor.execute(
                    f"UPDATE {_ENTRIES} SET reserved_by_id = %s, reserved_at = %s, pinned = %s "  # noqa: S608
                    f"WHERE id = %s AND {scope} AND {condition}",
                    [user.pk, _when(now), False, pk, *scope_args, *args],
                )
                if cursor.rowcount:
                    return image_id, batch_id
    return None


def _show_workers(batch_id: int) -> None:
    """Let the board redraw the card of a batch a labeler took a first image of (the caller knows).

    The card is cached under the batch's ``updated_at``: it moves on (with
    ``counted_at`` while the stored counts hold, since no image changed), so
    the card names them. A labeler taking one more image of a batch they
    already work on writes nothing to the batch row.
    """
    now = timezone.now()
    Batch.objects.filter(pk=batch_id).update(
        updated_at=now,
        counted_at=Case(When(counted_at=F("updated_at"), then=Value(now)), default=F("counted_at")),
    )
