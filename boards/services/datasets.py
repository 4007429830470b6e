"""The workspace catalog's datasets: renaming one.

A dataset groups a workspace's images (``Asset``); its name is unique in the
workspace. Who may manage the workspace's projects may rename its datasets:
the check is ``boards.manage_project`` asked of the dataset, which the role
backend answers from the actor's role in the dataset's workspace.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User
from boards.models import Dataset
from core.errors import ConcurrentChange, InvalidInput, WrongState
from core.permissions import require

NAME_LIMIT = Dataset._meta.get_field("name").max_length


def _clean_name(name) -> str:
    if not isinstance(name, str):
        raise InvalidInput("A dataset name is text.")
    name = name.strip()
    if not name:
        raise InvalidInput("Give the dataset a name.")
    if "\x00" in name:
        raise InvalidInput("A dataset name cannot hold a NUL character (\\0).")
    if len(name) > NAME_LIMIT:
        raise InvalidInput(f"A dataset name has at most {NAME_LIMIT} characters; this one has {len(name):,}.")
    return name


def _name_taken(name: str) -> WrongState:
    return WrongState(f"There is already a dataset named “{name}” in this workspace; choose another name.")


def rename_dataset(*, dataset: Dataset, actor: User, name: str) -> Dataset:
    """Give a dataset a new name, 1 to 200 characters (surrounding space stripped), unique in its workspace.

    The dataset's row is locked while the name is checked and written; a name
    another dataset took meanwhile is refused like one taken before (409).
    Renaming to the current name changes nothing.
    """
    require(
        actor, "boards.manage_project", dataset, message="Only the workspace's managers and owners may rename datasets."
    )
    name = _clean_name(name)
    with transaction.atomic():
        try:
            locked = Dataset.objects.select_for_update().get(pk=dataset.pk, workspace_id=dataset.workspace_id)
        except Dataset.DoesNotExist:
            raise ConcurrentChange("This dataset no longer exists; someone deleted it.") from None
        if locked.name == name:
            return locked
        if Dataset.objects.filter(workspace_id=locked.workspace_id, name=name).exclude(pk=locked.pk).exists():
            raise _name_taken(name)
        locked.name = name
        try:
            with transaction.atomic():
                locked.save(update_fields=["name"])
        except IntegrityError:  # the same name, given to another dataset a moment ago
            raise _name_taken(name) from None
    return locked
