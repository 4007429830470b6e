"""Reads of the label queue: who holds what, what waits, and whether a labeler may edit a queued image."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from accounts.models import User, initials_of
from accounts.roles import Role, role_at_least
from boards.models import Image, Project, QueueEntry


def reservation_cutoff(project: Project, now=None):
    """Reservations made before this moment have expired."""
    return (now or timezone.now()) - timedelta(minutes=project.reservation_minutes)


def queue_refusal(image: Image, user: User) -> str | None:
    """Why this labeler may not edit this image of a queue batch; None when they may.

    They may while the queue reserves it for them (an expired reservation
    nobody else took is still theirs), and after they finished it while its
    batch is still in Annotating.
    """
    entry = QueueEntry.objects.filter(image_id=image.pk).values_list("reserved_by_id").first()
    if entry is None:
        if image.annotated_by_id == user.pk:
            return None
        return "This image of the label queue was labeled by someone else."
    if entry[0] == user.pk:
        return None
    if entry[0] is None:
        return "Images of the label queue are handed out by “Start labeling”: press it to get one."
    return "This image of the label queue is reserved for someone else."


def queue_workers(batch_ids) -> dict[int, tuple[list[tuple[int, str, str]], datetime | None]]:
    """Who holds images of these queue batches now, by batch: (id, email, initials), most images first,
    and when the first of those holds may expire (None when none can: images sent back to their labeler)."""
    rows = (
        QueueEntry.objects.filter(batch_id__in=list(batch_ids), reserved_by__isnull=False)
        .order_by()
        .values("batch_id", "reserved_by_id", "pinned")
        .annotate(n=Count("pk"), latest=Max("reserved_at"))
        .values_list(
            "batch_id",
            "reserved_by_id",
            "reserved_by__email",
            "reserved_by__full_name",
            "pinned",
            "n",
            "latest",
            "project__reservation_minutes",
        )
    )
    now = timezone.now()
    held_by: dict[int, dict[int, list]] = defaultdict(dict)
    until: dict[int, datetime | None] = {}
    for batch_id, pk, email, name, pinned, n, latest, minutes in rows:
        ends = None if pinned else latest + timedelta(minutes=minutes)
        if ends is not None and ends < now:
            continue
        person = held_by[batch_id].setdefault(pk, [0, email, initials_of(name or "", email)])
        person[0] += n
        if ends is not None:
            until[batch_id] = min(filter(None, (until.get(batch_id), ends)))
    return {
        batch_id: (
            [
                (pk, email, initials)
                for pk, (_n, email, initials) in sorted(people.items(), key=lambda p: (-p[1][0], p[1][1]))
            ],
            until.get(batch_id),
        )
        for batch_id, people in held_by.items()
    }


def queue_waiting(user: User, *, project: Project | None = None) -> list[dict]:
    """The projects whose label queue has images for this labeler (or this one project, if so):
    name, slugs, how many images wait and their best priority; highest priority first."""
    workspaces = [ws for ws, role in user.workspace_roles().items() if role_at_least(role, Role.LABELER)]
    if not workspaces:
        return []
    entries = QueueEntry.objects.filter(project__workspace_id__in=workspaces)
    if project is not None:
        entries = entries.filter(project=project)
    rows = (
        entries.filter(Q(reserved_by__isnull=True) | Q(reserved_by=user) | Q(pinned=False))
        .order_by()
        .values("project_id")
        .annotate(
            n=Count("pk", filter=Q(reserved_by__isnull=True)),
            mine=Count("pk", filter=Q(reserved_by=user)),
            best=Min("priority"),
        )
        .values_list("project_id", "project__name", "project__slug", "project__workspace__slug", "n", "mine", "best")
    )
    # Reservations of others that may have expired count for the order, not as waiting images.
    found = [
        {"project_id": pk, "name": name, "slug": slug, "workspace": ws, "waiting": n, "held": mine, "priority": best}
        for pk, name, slug, ws, n, mine, best in rows
    ]
    return sorted(found, key=lambda row: (row["priority"], row["name"]))
