"""Deleting images for good."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from accounts.models import User, Workspace
from boards import catalog
from boards.models import Annotation, Batch, BatchStatus, EventKind, FreeImage, Image, Project
from boards.services.common import STATUS_LABELS, _event, lock_batches, mark_changed
from boards.services.files import _delete_unreferenced, _drop_orphan_assets, lock_catalog
from core.errors import ConcurrentChange, InvalidInput, NotFound, WrongState
from core.permissions import require

MAX_IMAGES_PER_DELETE = 10_000

log = logging.getLogger(__name__)


def delete_images(*, project: Project, actor: User, image_ids: Iterable) -> int:
    """Delete images from the project for good: only images in Unassigned batches or in no batch.

    A picture another project also uses stays in the workspace catalog (and
    its files stay); one no project uses any more goes with its files.

    All or nothing: if any image is elsewhere on the board, nothing is deleted
    and the error names the batches in the way. Returns how many images went.
    """
    require(actor, "boards.delete_batch", project, verb="delete images in this project")
    if isinstance(image_ids, str | bytes) or not isinstance(image_ids, Iterable):
        raise InvalidInput("Send the images to delete as a list of image ids.")
    try:
        ids = {int(i) for i in image_ids if not isinstance(i, bool)}
    except (TypeError, ValueError):
        raise InvalidInput("Send the images to delete as a list of image ids.") from None
    if not ids:
        raise InvalidInput("Name at least one image to delete.")
    if len(ids) > MAX_IMAGES_PER_DELETE:
        raise InvalidInput(f"Delete at most {MAX_IMAGES_PER_DELETE:,} images at once.")
    with transaction.atomic():
        # Their pictures may leave the catalog: that lock before any row lock, as every holder takes it;
        # then their batches, then the images: the order every service locks in.
        lock_catalog(project.workspace_id, exclusive=True)
        locked = lock_batches(
            Image.objects.filter(project=project, pk__in=ids, placement__isnull=False).values_list(
                "placement__batch_id", flat=True
            )
        )
        # The free ones stay free while their free rows are locked (a batch takes an image by deleting its row).
        still_free = set(
            FreeImage.objects.select_for_update().filter(project=project, image_id__in=ids).values_list("pk", flat=True)
        )
        rows = list(
            Image.objects.select_for_update(of=("self",))
            .filter(project=project, pk__in=ids)
            .values_list(
                "pk",
                "placement__batch_id",
                "placement__batch__name",
                "placement__batch__status",
                "file",
                "thumbnail",
                "asset_id",
            )
        )
        # A free image taken meanwhile has lost its free row, and its new batch is not locked here.
        if any((r[1] not in locked) if r[1] is not None else (r[0] not in still_free) for r in rows):
            raise ConcurrentChange("Some of these images moved to another batch meanwhile; try again.")
        missing = sorted(ids - {r[0] for r in rows})
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + ("…" if len(missing) > 10 else "")
            raise NotFound(f"{len(missing)} of the images are not in this project: {shown}.")
        blocked: dict[str, str] = {}
        for _pk, _batch_id, batch_name, status, *_rest in rows:
            if status not in (None, BatchStatus.UNASSIGNED):
                blocked[batch_name] = STATUS_LABELS[status]
        if blocked:
            n = sum(1 for r in rows if r[3] not in (None, BatchStatus.UNASSIGNED))
            where = "; ".join(f"“{name}” is in {label}" for name, label in sorted(blocked.items())[:5])
            raise WrongState(
                f"{n} of the images are in batches past Unassigned ({where}). Only images in Unassigned "
                "batches or in no batch can be deleted: move those batches to Unassigned first, or leave "
                "their images out."
            )
        per_batch: dict[int, int] = {}
        for _pk, batch_id, *_rest in rows:
            if batch_id is not None:
                per_batch[batch_id] = per_batch.get(batch_id, 0) + 1
        for batch in Batch.objects.filter(pk__in=per_batch):
            _event(
                batch,
                EventKind.REMOVED,
                actor,
                from_status=batch.status,
                to_status=batch.status,
                images_removed=per_batch[batch.pk],
            )
        Annotation.objects.filter(image_id__in=ids).delete()
        Image.tags.through.objects.filter(image_id__in=ids).delete()
        Image.objects.filter(pk__in=ids).delete()
        _drop_orphan_assets(r[6] for r in rows)  # what other projects use stays in the catalog
        mark_changed(*per_batch)
        files = [name for r in rows for name in (r[4], r[5])]
        transaction.on_commit(lambda: _delete_unreferenced(files))
    return len(rows)


@dataclass(frozen=True)
class CatalogDeletion:
    """What deleting a selection of the workspace catalog does (or did): the images in no project go
    for good with their files, the ones a project uses stay (a project removes its own on its board).
    Both are counted up to a cap: ``unused`` past ``MAX_IMAGES_PER_DELETE`` is too many to delete."""

    unused: int
    used: int
    used_exact: bool = True

    @property
    def too_many(self) -> bool:
        return self.unused > MAX_IMAGES_PER_DELETE

    @property
    def limit_error(self) -> str:
        return (
            f"More than {MAX_IMAGES_PER_DELETE:,} of these images are in no project: delete at most "
            f"{MAX_IMAGES_PER_DELETE:,} at once. Narrow the filter (a dataset, upload dates) or select fewer."
        )


def _unused(assets):
    return assets.exclude(Exists(Image.objects.filter(asset=OuterRef("pk"))))


def _selected(workspace: Workspace, selection: dict):
    """The catalog images a request picked; ids of images not in this workspace's catalog are 404."""
    asked = selection.get("asset_ids")
    if asked is not None:
        selection = selection | {"asset_ids": catalog.asset_id_set(asked)}  # read once: an iterator will do
    assets = catalog.selected_assets(workspace.pk, **selection)
    if asked is not None and (missing := catalog.missing_ids(assets, selection["asset_ids"])):
        raise NotFound(f"{len(missing):,} of the selected images are not in this workspace's catalog.")
    return assets


def catalog_deletion(workspace: Workspace, **selection) -> CatalogDeletion:
    """How many of the selected catalog images (``filters`` or ``asset_ids``) would go, and how many stay:
    two counts, each stopping past its cap."""
    return _count_deletion(_selected(workspace, selection))


def _count_deletion(assets) -> CatalogDeletion:
    unused = _unused(assets).order_by()[: MAX_IMAGES_PER_DELETE + 1].count()
    cap = catalog.COUNT_CAP
    used = assets.filter(Exists(Image.objects.filter(asset=OuterRef("pk")))).order_by()[: cap + 1].count()
    return CatalogDeletion(unused=unused, used=min(used, cap), used_exact=used <= cap)


def delete_catalog_images(
    *, workspace: Workspace, actor: User, expected: int | None = None, **selection
) -> CatalogDeletion:
    """Delete for good the selected images of the workspace catalog that no project uses, with their files.

    The selection is ``filters`` ("all matching") or ``asset_ids``; ids of another workspace are
    refused. Images a project uses are left as they are. At most ``MAX_IMAGES_PER_DELETE`` go at
    once. ``expected``: how many the person was told would go; another number (the catalog changed
    since) deletes nothing. All or nothing. Managers and owners of the workspace only.
    """
    require(actor, "boards.manage_project", workspace, verb="delete images from this workspace's catalog")
    try:
        with transaction.atomic():
            # Alone: no upload or "Add batch to project" takes one of these pictures while they go.
            lock_catalog(workspace.pk, exclusive=True)
            assets = _selected(workspace, selection)
            counted = _count_deletion(assets)
            if counted.too_many:
                raise InvalidInput(counted.limit_error)
            if not counted.unused:
                if not counted.used:
                    raise WrongState("No image matches this selection any more, so none was deleted.")
                raise WrongState(
                    "Every selected image is used by a project, so none was deleted: a project removes its "
                    "images by deleting them (or their batch) in Unassigned on its board."
                )
            if expected is not None and expected != counted.unused:
                raise ConcurrentChange(
                    f"The catalog changed since it was counted: {counted.unused:,} of these images are in no "
                    "project now. Nothing was deleted; look at the count again."
                )
            rows = list(_unused(assets).values_list("pk", "file", "thumbnail"))
            dropped = _drop_orphan_assets(pk for pk, _f, _t in rows)
            files = [name for _pk, file, thumbnail in rows for name in (file, thumbnail)]
            transaction.on_commit(lambda: _delete_unreferenced(files))
    except IntegrityError:  # a project took one of them meanwhile (the lock keeps that out on PostgreSQL)
        raise ConcurrentChange("A project started using some of these images meanwhile; nothing was deleted.") from None
    log.info("Deleted %d images in no project from workspace %s's catalog", dropped, workspace.slug)
    return CatalogDeletion(unused=dropped, used=counted.used, used_exact=counted.used_exact)
