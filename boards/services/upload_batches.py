"""The batch an upload lands in: a new one, the batch a continued upload made (checked under its
row lock), or the API's batch of a name."""

from __future__ import annotations

from accounts.models import User
from boards.models import MAX_BATCH_IMAGES, Batch, BatchSource, BatchStatus, Placement, Project
from boards.services.common import _locked, unique_batch_name, upload_batch_name
from core.errors import ConcurrentChange, InvalidInput, WrongState


def _check_upload_target(batch: Batch, project: Project, actor: User, *, adding: int) -> None:
    _check_upload_owner(batch, project, actor)
    _check_upload_room(batch, adding=adding)


def _check_upload_owner(batch: Batch, project: Project, actor: User) -> None:
    if (
        batch.project_id != project.pk
        or batch.created_by_id != actor.pk
        or batch.source not in (BatchSource.WEB, BatchSource.API, BatchSource.BUCKET)
    ):
        raise InvalidInput("Images can only be added to a batch you are uploading right now.")


class _NoRoom(InvalidInput):
    pass


def _check_upload_room(batch: Batch, *, adding: int) -> None:
    if batch.status != BatchStatus.UNASSIGNED:
        raise WrongState("This batch has left Unassigned; start a new upload.")
    if Placement.objects.filter(batch=batch).count() + adding > MAX_BATCH_IMAGES:
        raise _NoRoom(f"A batch holds at most {MAX_BATCH_IMAGES:,} images; start a new upload for the rest.")


def _target(into: Batch | None, project, actor, *, adding: int, or_new_batch: bool) -> Batch | None:
    """The batch ``into`` under its row lock, checked; None for a new batch (with ``or_new_batch``, also
    when ``into`` cannot take the images any more: deleted, moved on or full). A batch that is not the
    actor's upload in this project is refused either way."""
    if into is None:
        return None
    try:
        batch = _locked(into, same_status=False)
    except ConcurrentChange:  # deleted
        if not or_new_batch:
            raise
        return None
    _check_upload_owner(batch, project, actor)
    try:
        _check_upload_room(batch, adding=adding)
    except (WrongState, _NoRoom):
        if not or_new_batch:
            raise
        return None
    return batch


def _batch_for_upload(project: Project, actor: User, batch_name: str | None, now) -> tuple[Batch, bool]:
    """The Unassigned batch this upload joins, or a new one; ``(batch, created)``.

    Uploads to a project pass here one at a time: the project's row stays
    locked until the upload commits, so uploads of one name sent at once find,
    or make, one batch (never "X" and "X (2)"). The lock is FOR NO KEY UPDATE:
    other work on the project goes on meanwhile.
    """
    wanted = (batch_name or "").strip()[:190] or upload_batch_name(now)
    Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
    latest = (
        Batch.objects.filter(project=project, upload_name=wanted, status=BatchStatus.UNASSIGNED)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is not None:
        # Lock it, and check again: it may have been assigned meanwhile.
        batch = Batch.objects.select_for_update(of=("self",)).filter(pk=latest, status=BatchStatus.UNASSIGNED).first()
        if batch is not None and Placement.objects.filter(batch=batch).count() < MAX_BATCH_IMAGES:
            batch.project = project
            return batch, False
    batch = Batch.objects.create(
        project=project,
        name=unique_batch_name(project, wanted),
        upload_name=wanted,
        source=BatchSource.API,
        uploaded_at=now,
        created_by=actor,
    )
    return batch, True
