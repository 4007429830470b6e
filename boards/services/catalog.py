"""The image catalog: batches from a filter, a selection or a sample; restore, merge.

The catalog picks images with a ``catalog.CatalogFilter`` or a list of ids.
Images move with one UPDATE … WHERE id IN (SELECT …) whatever their number.
Nothing here saves one image at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from boards import catalog
from boards.models import (
    CARD_COUNTS,
    MAX_BATCH_IMAGES,
    PRIORITY_DEFAULT,
    UNARCHIVE,
    Asset,
    Batch,
    BatchEvent,
    BatchSource,
    BatchStatus,
    EventKind,
    Image,
    Placement,
    Project,
    insert_placements,
    place_free,
)
from boards.services.common import (
    STATUS_LABELS,
    _event,
    _validate_priority,
    lock_batches,
    mark_changed,
    transition,
)
from boards.services.files import lock_catalog
from core.errors import ConcurrentChange, InvalidInput, WrongState
from core.lookups import one_of_sql
from core.permissions import require


@dataclass
class CatalogBatchResult:
    batch: Batch
    taken: int
    preview: catalog.BatchPreview

    def to_dict(self) -> dict:
        return {
            "batch": {
                "id": self.batch.pk,
                "name": self.batch.name,
                "priority": self.batch.priority,
                "status": self.batch.status,
                "sample_seed": self.batch.sample_seed,
            },
            "taken": self.taken,
            **{k: v for k, v in self.preview.to_dict().items() if k != "would_take"},
        }


def _new_batch_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the batch a name.")
    if len(name) > Batch._meta.get_field("name").max_length:
        raise InvalidInput("A batch name has at most 200 characters.")
    return name


def _queued_already(images, preview) -> str:
    """Which of the images are already in a batch of the project, by column (ten named at most)."""
    some = list(images.filter(placement__isnull=False).order_by("pk").values_list("pk", flat=True)[:10])
    more = f" and {preview.left_out - len(some):,} more" if preview.left_out > len(some) else ""
    by_column = sorted(preview.in_batches.items(), key=_in_column_order)
    parts = ", ".join(f"{n:,} in {STATUS_LABELS[status]}" for status, n in by_column)
    noun = "image is" if preview.left_out == 1 else "images are"
    return (
        f"{preview.left_out:,} {noun} already in a batch of this project ({parts}): "
        f"{', '.join(map(str, some))}{more}. An image is in at most one batch per project; leave them out."
    )


def _in_column_order(item: tuple[str, int]) -> int:
    return list(BatchStatus.values).index(item[0])


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput(f"There is already a batch named “{name}” in this project; choose another name.")


def _create_catalog_batch(*, project: Project, actor: User, name: str, priority: int, seed: int | None) -> Batch:
    if Batch.objects.filter(project=project, name=name).exists():
        raise _name_taken(name)
    try:
        with transaction.atomic():
            return Batch.objects.create(
                project=project,
                name=name,
                priority=priority,
                source=BatchSource.CATALOG,
                created_by=actor,
                sample_seed=seed,
            )
    except IntegrityError:  # the same name, created a moment ago by someone else
        raise _name_taken(name) from None


def create_batch_from_images(
    *,
    project: Project,
    actor: User,
    name: str,
    priority: int = PRIORITY_DEFAULT,
    filters: catalog.CatalogFilter | None = None,
    image_ids: Iterable[int] | None = None,
    sample: catalog.Sample | Mapping | None = None,
    all_or_nothing: bool = False,
) -> CatalogBatchResult:
    """A new Unassigned batch of the free images that ``filters`` or ``image_ids`` pick.

    Images already in a batch are left out and counted (by that batch's
    status): an image is never in two batches. ``sample`` takes ``n`` of the
    free ones, at random with a seed (stored on the batch, so the same seed
    over the same images picks the same sample) or the first ``n`` by upload
    time or file name. More than ``MAX_BATCH_IMAGES`` is an error naming the
    limit, never a silent cut. ``catalog.preview_batch`` counts the same
    numbers without creating anything.
    With ``all_or_nothing`` (the API's rule, as Labelbox's), an image
    already in a batch of the project refuses the whole request (409) instead.
    """
    require(actor, "boards.create_batch", project, verb="create batches in this project")
    name = _new_batch_name(name)
    _validate_priority(priority)
    sample = catalog.Sample.parse(sample)
    with transaction.atomic():
        images = catalog.selected_images(project, filters=filters, image_ids=image_ids)
        preview = catalog.preview_of(images, sample, free_only=filters is not None and filters.free_only)
        if all_or_nothing and preview.left_out:
            raise WrongState(_queued_already(images, preview))
        if preview.would_take == 0:
            raise InvalidInput(
                "No free image is selected. " + (preview.left_out_reason() or "Nothing matches the filter.")
            )
        if preview.over_limit:
            raise InvalidInput(preview.limit_error())
        seed = sample.seed if sample is not None else None  # parsed: an ordered sample has none
        batch = _create_catalog_batch(project=project, actor=actor, name=name, priority=priority, seed=seed)
        # The ids first, then each row by primary key (``one_of``): not a join of the whole table.
        pool = images.filter(free__isnull=False).order_by()
        chosen = (
            pool.values("pk") if sample is None else pool.order_by(*sample.ordering(free=True)).values("pk")[: sample.n]
        )
        taken = len(place_free(chosen, batch))
        _record_catalog_batch(batch, actor, taken, preview, filters, sample, all_or_nothing=all_or_nothing)
    return CatalogBatchResult(batch=batch, taken=taken, preview=preview)


def _record_catalog_batch(batch, actor, taken, preview, filters, sample, *, all_or_nothing, counted=None) -> None:
    """The end of every catalog batch: refuse what changed since the preview, store the counts (``counted``:
    the batch's, when the caller knows them; see ``mark_changed``), write the event."""
    if taken > MAX_BATCH_IMAGES:  # more images became free since they were counted
        raise InvalidInput(replace(preview, would_take=taken).limit_error())
    if taken == 0 or (all_or_nothing and taken < preview.would_take):
        raise ConcurrentChange("The selected images joined another batch meanwhile; nothing was taken.")
    mark_changed(batch, counted=counted)
    _event(
        batch,
        EventKind.CREATED,
        actor,
        to_status=batch.status,
        images=taken,
        source=BatchSource.CATALOG,
        left_out=preview.left_out,
        left_out_by_status=preview.in_batches,
        filter=dict(filters.items()) if filters is not None else None,
        sample=sample.describe() if sample is not None else None,
        sample_seed=batch.sample_seed,
    )


def restore_batch(*, batch: Batch, actor: User) -> Batch:
    """Archived → Unassigned, with the images it had, while every one of them is still free."""
    with transition(batch, "restore", actor, verb="restore", event=EventKind.RESTORED) as change:
        batch = change.batch
        had, still_free = catalog.restorable(batch)
        if still_free < had:
            raise _not_restorable(batch, had - still_free, had)
        restored = len(place_free(Image.objects.filter(archived_from=batch), batch, setting=UNARCHIVE))
        if restored < had:  # taken by a new batch while this one waited for their free rows' locks
            raise _not_restorable(batch, had - restored, had)
        batch.restore()
        change.detail.update(images_restored=restored)
    return batch


def _not_restorable(batch: Batch, gone: int, had: int) -> WrongState:
    return WrongState(
        f"{gone:,} of the {had:,} images of “{batch.name}” joined other batches since it was archived, "
        "so it cannot be restored as it was. Its images are never in two batches."
    )


def merge_batches(*, project: Project, actor: User, batches: Iterable[Batch | int], name: str) -> Batch:
    """Merge two or more Unassigned batches into one named ``name``.

    The batch first on the board (highest priority, then oldest) keeps its
    place and takes the others' images and the highest priority among them;
    the others are deleted, their history kept under their names with a
    "merged" event. At most ``MAX_BATCH_IMAGES`` images in all.
    """
    require(actor, "boards.merge_batches", project, verb="merge batches in this project")
    name = _new_batch_name(name)
    try:
        ids = {b.pk if isinstance(b, Batch) else int(b) for b in batches}
    except (TypeError, ValueError):
        raise InvalidInput("Choose the batches to merge by their numbers.") from None
    if len(ids) < 2:
        raise InvalidInput("Choose two or more batches to merge.")
    # Not a ``transition``: several batches are locked and checked, and all but one are deleted.
    with transaction.atomic():
        # Locked in id order, as everywhere; then first on the board first.
        locked = lock_batches(Batch.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
        chosen = sorted(locked.values(), key=lambda b: (b.priority, b.uploaded_at, b.pk))
        if len(chosen) != len(ids):
            raise InvalidInput(f"{len(ids) - len(chosen)} of the chosen batches are not in this project.")
        for batch in chosen:
            if batch.status != BatchStatus.UNASSIGNED:
                raise WrongState(
                    f"Only batches in Unassigned can be merged; “{batch.name}” is in {STATUS_LABELS[batch.status]}."
                )
        counts = dict(
            Placement.objects.filter(batch__in=chosen).order_by().values_list("batch_id").annotate(n=Count("pk"))
        )
        total = sum(counts.values())
        if total > MAX_BATCH_IMAGES:
            raise InvalidInput(
                f"Together these batches hold {total:,} images; a batch holds at most {MAX_BATCH_IMAGES:,}. "
                "Merge fewer of them."
            )
        if Batch.objects.filter(project=project, name=name).exclude(pk__in=ids).exists():
            raise _name_taken(name)
        keep, others = chosen[0], chosen[1:]
        priority = min(b.priority for b in chosen)
        Placement.objects.filter(batch__in=others).update(batch=keep)
        now = timezone.now()
        BatchEvent.objects.bulk_create(
            BatchEvent(
                project_id=project.pk,
                batch=other,
                batch_name=other.name,
                kind=EventKind.MERGED,
                from_status=BatchStatus.UNASSIGNED,
                actor=actor,
                at=now,
                detail={"into_batch": keep.pk, "into_batch_name": name, "images": counts.get(other.pk, 0)},
            )
            for other in others
        )
        Batch.objects.filter(pk__in=[b.pk for b in others]).delete()
        Batch.objects.filter(pk=keep.pk).update(name=name, priority=priority, sample_seed=None)
        mark_changed(keep)
        old_name = keep.name
        keep.refresh_from_db()
        _event(
            keep,
            EventKind.MERGED,
            actor,
            from_status=BatchStatus.UNASSIGNED,
            to_status=BatchStatus.UNASSIGNED,
            images=total,
            old_name=old_name,
            priority=priority,
            merged=[{"id": b.pk, "name": b.name, "images": counts.get(b.pk, 0)} for b in others],
        )
    return keep


def add_batch_to_project(
    *,
    project: Project,
    actor: User,
    name: str,
    priority: int = PRIORITY_DEFAULT,
    filters: catalog.WorkspaceFilter | None = None,
    asset_ids: Iterable[int] | None = None,
    sample: catalog.Sample | Mapping | None = None,
    all_or_nothing: bool = False,
) -> CatalogBatchResult:
    """A new Unassigned batch of ``project`` from the workspace catalog ("Add batch to project").

    The images are picked in the workspace catalog (by filter or by id), by
    the rules of ``create_batch_from_images``: those already in a batch of
    *this* project are left out and counted by column (being queued in another
    project does not matter), an optional sample of the rest (drawn over the
    catalog's images, so only the sampled ones join the project), at most
    ``MAX_BATCH_IMAGES``, a name unique in the project. Images the project
    does not have yet join it straight into the batch (one INSERT, no file
    stored again, their per-project state starts afresh); its free copies move
    in (one UPDATE). All or nothing; with ``all_or_nothing`` (the API's rule)
    an image already in a batch of the project refuses the whole request too.
    """
    require(actor, "boards.create_batch", project, verb="create batches in this project")
    name = _new_batch_name(name)
    _validate_priority(priority)
    sample = catalog.Sample.parse(sample)
    with transaction.atomic():
        assets, wanted, _ = catalog.selection(project.workspace_id, filters=filters, asset_ids=asset_ids)
        made = None
        if wanted is not None and sample is None:
            made = _batch_of_new_pictures(project, actor, assets, wanted, name=name, priority=priority)
        if made is not None:
            batch, preview = made
            joined = taken = preview.would_take
        else:
            batch, preview, joined, taken = _batch_the_usual_way(
                project,
                actor,
                assets,
                wanted,
                asked_ids=asset_ids is not None,
                name=name,
                priority=priority,
                sample=sample,
                all_or_nothing=all_or_nothing,
            )
        # Images that just joined the project start unannotated, unreviewed and without boxes: when
        # they are all the batch holds, its card's counts are known without counting.
        counted = {batch.pk: (taken,) + (0,) * (len(CARD_COUNTS) - 1)} if joined == taken else None
        _record_catalog_batch(
            batch, actor, taken, preview, filters, sample, all_or_nothing=all_or_nothing, counted=counted
        )
    return CatalogBatchResult(batch=batch, taken=taken, preview=preview)


# How many of a selection's ids are looked for in the project before its pictures join at once.
PROBED = 1_000


class _NotAllNew(Exception):
    """Some of a selection are not pictures of the workspace new to the project (``_batch_of_new_pictures``)."""


def _batch_of_new_pictures(
    project: Project, actor: User, assets, ids, *, name: str, priority: int
) -> tuple[Batch, catalog.BatchPreview] | None:
    """The new batch and its preview when every one of ``ids`` is a picture of the workspace's catalog
    that the project does not use yet, as when a dataset is added to a project: its image rows made
    at once, without counting the selection or previewing it first (on PostgreSQL 80–120 ms and
    40–70 ms for 25,000), since one INSERT that makes as many rows as there are ids says the same.
    None, with nothing changed, when that is not so or the name is taken: the caller then goes the
    usual way, which counts, previews and refuses as it does for any selection.

    Before the INSERT, at most ``PROBED`` of the ids, spread evenly over them, are looked for in the
    project (all 25,000 took 60–70 ms on PostgreSQL, for nothing when the pictures are new, as they
    are when this succeeds). A part of the selection the project has already, as a batch of it
    would be, is found there; a few pictures of it scattered among the rest may not be, and then
    the INSERT stops at the first (the (asset, project) constraint) and is undone."""
    n = len(ids)
    preview = catalog.BatchPreview(matching=n, in_batches={}, free=n, would_take=n)  # what it is if so
    if not n or preview.over_limit:
        return None
    chosen = sorted(ids)
    probed = chosen[:: math.ceil(n / PROBED)]
    if catalog.images_in_project(project, assets, asset_ids=probed).exists():
        return None
    try:
        with transaction.atomic():
            lock_catalog(project.workspace_id, exclusive=False)
            batch = _create_catalog_batch(project=project, actor=actor, name=name, priority=priority, seed=None)
            if _join_project(project, chosen, batch=batch, known_new=True) != n:
                raise _NotAllNew  # some are not the workspace's: asked so, or deleted meanwhile
    except (_NotAllNew, InvalidInput, IntegrityError):  # IntegrityError: one joined the project meanwhile
        return None
    return batch, preview


def _batch_the_usual_way(
    project: Project,
    actor: User,
    assets,
    wanted,
    *,
    asked_ids: bool,
    name: str,
    priority: int,
    sample: catalog.Sample | None,
    all_or_nothing: bool,
) -> tuple[Batch, catalog.BatchPreview, int, int]:
    """The new batch of any selection (``wanted``: its ids, when known), checked and previewed first;
    with its preview, how many images joined the project and how many it took in all."""
    if asked_ids and (missing := catalog.missing_ids(assets, wanted)):
        shown = ", ".join(map(str, missing[:10])) + ("…" if len(missing) > 10 else "")
        raise InvalidInput(f"{len(missing):,} of the images are not in this workspace's catalog: {shown}.")
    # By ids, as asked (every one there: counted just now) or a filter's read as its ids: as many as they are.
    preview = catalog.preview_for_project(
        assets, project, sample, matching=None if wanted is None else len(wanted), asset_ids=wanted
    )
    if all_or_nothing and preview.left_out:
        raise WrongState(_queued_already(catalog.images_in_project(project, assets, asset_ids=wanted), preview))
    if preview.would_take == 0:
        raise InvalidInput("No free image is selected. " + (preview.left_out_reason() or "Nothing matches the filter."))
    if preview.over_limit:
        raise InvalidInput(preview.limit_error())
    # Fixed before anything changes: a filter may name this project ("in project X", "in no project").
    if wanted is not None and not preview.left_out and (sample is None or sample.mode == catalog.RANDOM):
        # None of them queued here: the ids are the choice (a random sample ranked from them as the
        # database would rank them), not read again.
        chosen = sorted(wanted if sample is None else sample.take_from(wanted))
    else:
        queued_here = Image.objects.filter(asset=OuterRef("pk"), project=project, placement__isnull=False)
        taking = assets.exclude(Exists(queued_here))
        if sample is not None:
            taking = taking.order_by(*sample.ordering())[: sample.n]
        chosen = list(taking.values_list("pk", flat=True))
    # No delete drops an unused asset while this joins them; one that did a moment ago shows below.
    lock_catalog(project.workspace_id, exclusive=False)
    seed = sample.seed if sample is not None else None  # parsed: an ordered sample has none
    batch = _create_catalog_batch(project=project, actor=actor, name=name, priority=priority, seed=seed)
    # The pictures new to the project join it; those it has, free, move in: only when some are
    # left, as every one is when the pictures are new to it (an UPDATE probing each id for nothing).
    joined = taken = _join_project(project, chosen, batch=batch)
    if taken < len(chosen):
        taken += len(place_free(Image.objects.filter(project=project, asset_id__one_of=chosen), batch))
    # Fewer than chosen: some joined another batch of the project meanwhile, or were deleted.
    if taken < len(chosen) and Asset.objects.filter(pk__one_of=chosen).count() < len(chosen):
        raise ConcurrentChange("Some of the selected images were deleted meanwhile; nothing was taken.")
    return batch, preview, joined, taken


def _join_project(project: Project, asset_ids: list[int], *, batch: Batch, known_new: bool = False) -> int:
    """Give the project an image row, in ``batch``, for each of these assets it does not use yet: one
    INSERT … SELECT and their placements. Each asset is read by its id and each is looked for in the
    project through the (asset, project) index: an ``IN (subquery)`` here was hash-joined with the
    whole asset table and every image of the project. ``known_new``: the project uses none of them
    (looked up just now), so none is looked for; one it took meanwhile breaks the (asset, project)
    constraint (``IntegrityError``) instead of being passed over."""
    image, fields = Image._meta.db_table, ", ".join(Asset.COPIED)
    chosen, ids = one_of_sql("a.id", list(asset_ids), connection.vendor)
    defaults = Image(project=project)  # the per-project state a new image starts with
    insert = (
        f"INSERT INTO {image} (project_id, asset_id, {fields}, annotation_state, "  # noqa: S608 - names from the models
        "review_state, review_comment, annotation_version, rejections, split) "
        f"SELECT %s, a.id, {', '.join(f'a.{name}' for name in Asset.COPIED)}, %s, %s, %s, %s, %s, %s "
        f"FROM {Asset._meta.db_table} a WHERE {chosen} AND a.workspace_id = %s"
    )
    if not known_new:
        insert += f" AND NOT EXISTS (SELECT 1 FROM {image} i WHERE i.asset_id = a.id AND i.project_id = %s)"  # noqa: S608
    params = [
        project.pk,
        defaults.annotation_state,
        defaults.review_state,
        defaults.review_comment,
        defaults.annotation_version,
        defaults.rejections,
        defaults.split,
        ids,
        project.workspace_id,
        *([] if known_new else [project.pk]),
    ]
    return insert_placements(insert + " RETURNING id", params, batch)
