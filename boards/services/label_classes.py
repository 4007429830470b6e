"""A project's label classes and its review setting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from accounts.models import User
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, Image, LabelClass, Project
from boards.models.projects import MAX_RESERVATION_CAP, MAX_RESERVATION_MINUTES
from boards.services.common import lock_batches, mark_changed
from boards.services.queue import sync_queue
from core.errors import ConcurrentChange, InvalidInput, WrongState
from core.permissions import require

HOTKEYS = range(1, 10)
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

MIN_SETTING = 1


class _Unchanged:
    """Marks a keyword left out of ``update_label_class``: that field stays as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


def _may_manage(project: Project, actor: User) -> None:
    require(
        actor,
        "boards.manage_project",
        project,
        message="Only the project's managers and owners may change its settings.",
    )


def _new_label_from_import(project: Project, name: str, n: int) -> LabelClass:
    """The new class an imported box names, if the database can store its name."""
    limit = LabelClass._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidInput(f"Box {n}: a class name has at most {limit} characters.")
    if "\x00" in name:
        raise InvalidInput(f"Box {n}: a class name cannot hold a NUL character.")
    return LabelClass.objects.create(project=project, name=name)


def _clean_name(project: Project, name, *, exclude: int | None = None) -> str:
    name = str(name or "").strip()
    if not name:
        raise InvalidInput("A class needs a name.")
    limit = LabelClass._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidInput(f"A class name has at most {limit} characters.")
    taken = LabelClass.objects.filter(project=project, name__iexact=name).exclude(pk=exclude).first()
    if taken is not None:
        raise InvalidInput(f"There is already a class “{taken.name}” in this project.")
    return name


def _clean_color(color) -> str:
    color = str(color or "").strip()
    if not _COLOR.match(color):
        raise InvalidInput(f"“{color}” is not a colour: write it like #3b82f6.")
    return color.lower()


def _clean_hotkey(project: Project, hotkey, *, exclude: int | None = None) -> int | None:
    if hotkey is None or hotkey == "":
        return None
    try:
        hotkey = int(hotkey)
    except (TypeError, ValueError):
        raise InvalidInput("A hotkey is a digit from 1 to 9.") from None
    if hotkey not in HOTKEYS:
        raise InvalidInput("A hotkey is a digit from 1 to 9.")
    holder = LabelClass.objects.filter(project=project, hotkey=hotkey).exclude(pk=exclude).first()
    if holder is not None:
        raise InvalidInput(f"Hotkey {hotkey} already belongs to “{holder.name}”; clear it there first.")
    return hotkey


def create_label_class(
    *, project: Project, actor: User, name: str, color: str = "#3b82f6", hotkey: int | None = None
) -> LabelClass:
    """Add a class to a project. Names are unique in a project (ignoring case), hotkeys 1–9 too."""
    with transaction.atomic():
        _may_manage(project, actor)
        # One settings change at a time per project, so the name and hotkey checks hold.
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        return LabelClass.objects.create(
            project=project,
            name=_clean_name(project, name),
            color=_clean_color(color),
            hotkey=_clean_hotkey(project, hotkey),
        )


def update_label_class(
    *,
    label: LabelClass,
    actor: User,
    name: str = UNCHANGED,
    color: str = UNCHANGED,
    hotkey: int | None = UNCHANGED,
) -> LabelClass:
    """Rename, recolour or re-key a class. Its boxes keep pointing at it, so a rename keeps them.

    ``hotkey=None`` clears the hotkey; a keyword left out leaves that field alone.
    """
    with transaction.atomic():
        project, label = _locked_label(label, actor)
        if name is not UNCHANGED:
            label.name = _clean_name(project, name, exclude=label.pk)
        if color is not UNCHANGED:
            label.color = _clean_color(color)
        if hotkey is not UNCHANGED:
            label.hotkey = _clean_hotkey(project, hotkey, exclude=label.pk)
        label.save(update_fields=["name", "color", "hotkey"])
    return label


def _locked_label(label: LabelClass, actor: User) -> tuple[Project, LabelClass]:
    """The class's project locked (class names and hotkeys are unique in it), the actor checked, the class read
    again: 409 if someone deleted it meanwhile. Call inside a transaction."""
    project = Project.objects.select_for_update(no_key=True).get(pk=label.project_id)
    _may_manage(project, actor)
    try:
        return project, LabelClass.objects.get(pk=label.pk, project=project)
    except LabelClass.DoesNotExist:
        raise ConcurrentChange("This class no longer exists; someone deleted it.") from None


@dataclass(frozen=True)
class LabelDeleted:
    name: str
    boxes: int
    images: int
    reopened: int  # images left with no box that went back to unannotated


OPEN_STATUSES = (BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING)


def delete_label_class(*, label: LabelClass, actor: User) -> LabelDeleted:
    """Delete a class and every box of it.

    Images that lose boxes get a new edit version, so an editor open on them
    reloads instead of saving boxes of a class that is gone. Those left with no
    box at all go back to unannotated while their work is still open
    (Unassigned or Annotating); in Review and Dataset they keep their state.
    """
    with transaction.atomic():
        project, label = _locked_label(label, actor)
        image_ids = set(Annotation.objects.filter(label=label).values_list("image_id", flat=True).distinct())
        lock_batches(
            Batch.objects.filter(placements__image__annotations__label=label).values_list("pk", flat=True).distinct()
        )
        boxes, _ = Annotation.objects.filter(label=label).delete()
        touched = Image.objects.filter(pk__in=image_ids)
        touched.update(annotation_version=F("annotation_version") + 1)
        reopened = (
            touched.filter(annotation_state=AnnotationState.ANNOTATED, annotations__isnull=True)
            .filter(Q(placement__isnull=True) | Q(placement__batch__status__in=OPEN_STATUSES))
            .update(annotation_state=AnnotationState.UNANNOTATED, annotated_by=None)
        )
        changed = list(Batch.objects.filter(placements__image__in=image_ids).values_list("pk", flat=True).distinct())
        if reopened:
            sync_queue(*changed)  # reopened images of a queue batch go back in the queue
        mark_changed(*changed)
        name = label.name
        label.delete()
    return LabelDeleted(name=name, boxes=boxes, images=len(image_ids), reopened=reopened)


def set_review_mode(*, project: Project, actor: User, review_mode: bool) -> Project:
    """Turn the project's review step on or off.

    Turning it off is refused while batches wait in Review: the board would
    hide them from everyone.
    """
    with transaction.atomic():
        locking = Project.objects.select_for_update(no_key=True, of=("self",))
        project = locking.select_related("workspace").get(pk=project.pk)
        _may_manage(project, actor)
        review_mode = bool(review_mode)
        if project.review_mode and not review_mode:
            waiting = Batch.objects.filter(project=project, status=BatchStatus.REVIEW).count()
            if waiting:
                raise WrongState(
                    f"{waiting} batch{'es are' if waiting != 1 else ' is'} waiting in Review; "
                    "approve or reject them before turning review off."
                )
        if project.review_mode != review_mode:
            project.review_mode = review_mode
            project.save(update_fields=["review_mode", "updated_at"])
    return project


def set_queue_settings(*, project: Project, actor: User, reservation_minutes: int, reservation_cap: int) -> Project:
    """How long the label queue keeps an idle image reserved, and how many images one labeler may hold."""
    if not MIN_SETTING <= reservation_minutes <= MAX_RESERVATION_MINUTES:
        raise InvalidInput(f"A reservation lasts from 1 to {MAX_RESERVATION_MINUTES:,} minutes.")
    if not MIN_SETTING <= reservation_cap <= MAX_RESERVATION_CAP:
        raise InvalidInput(f"A labeler may hold from 1 to {MAX_RESERVATION_CAP} images of the queue.")
    with transaction.atomic():
        project = (
            Project.objects.select_for_update(no_key=True, of=("self",)).select_related("workspace").get(pk=project.pk)
        )
        _may_manage(project, actor)
        project.reservation_minutes, project.reservation_cap = reservation_minutes, reservation_cap
        project.save(update_fields=["reservation_minutes", "reservation_cap", "updated_at"])
    return project
