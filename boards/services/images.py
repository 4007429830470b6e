"""Deleting images for good."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.models import User
from boards.models import Annotation, Batch, BatchStatus, EventKind, Image, Project
from boards.services.common import STATUS_LABELS, _event, _lock_batches, mark_changed
from boards.services.files import _delete_unreferenced, _drop_orphan_assets, lock_catalog
from core.errors import ConcurrentChange, InvalidInput, NotFound, WrongState
from core.permissions import require

MAX_IMAGES_PER_DELETE = 10_000


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
        locked = _lock_batches(
            Image.objects.filter(project=project, pk__in=ids, batch__isnull=False).values_list("batch_id", flat=True)
        )
        rows = list(
            Image.objects.select_for_update(of=("self",))
            .filter(project=project, pk__in=ids)
            .values_list("pk", "batch_id", "batch__name", "batch__status", "file", "thumbnail", "asset_id")
        )
        if any(r[1] is not None and r[1] not in locked for r in rows):
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
