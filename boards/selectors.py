"""Reads shared by the pages and the API. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q
from django.http import Http404

from accounts.models import User
from boards.models import Batch, BatchEvent, BatchStatus, Image, Job, JobState, Project

BOARD_COLUMNS = [
    (BatchStatus.UNASSIGNED, "Unassigned", "New uploads and split-off images wait here for a labeler."),
    (BatchStatus.ANNOTATING, "Annotating", "Batches assigned to a labeler appear here."),
    (BatchStatus.REVIEW, "Review", "Submitted batches wait here for a reviewer."),
    (BatchStatus.DATASET, "Dataset", "Approved images end up here, ready to export."),
]


def member_projects(user: User):
    """Every project in the user's workspaces, with per-column batch counts."""
    return (
        Project.objects.filter(workspace__memberships__user=user)
        .select_related("workspace")
        .annotate(
            **{
                f"n_{status}": Count("batches", filter=Q(batches__status=status))
                for status, _label, _hint in BOARD_COLUMNS
            }
        )
        .order_by("workspace__name", "name")
    )


def project_for(user: User, ws_slug: str, project_slug: str) -> Project:
    """The project, if the user belongs to its workspace; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404
    try:
        project = Project.objects.select_related("workspace").get(workspace__slug=ws_slug, slug=project_slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    if user.role_in(project.workspace_id) is None:
        raise Http404("No such project.")
    return project


def batch_in(project: Project, batch_id: int) -> Batch:
    try:
        batch = Batch.objects.get(project=project, pk=batch_id)
    except Batch.DoesNotExist:
        raise Http404("No such batch.") from None
    batch.project = project
    return batch


def image_for(user: User, image_id: int) -> Image:
    try:
        image = Image.objects.select_related("project").get(pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    if not user.is_authenticated or user.role_in(image.project.workspace_id) is None:
        raise Http404("No such image.")
    return image


@dataclass
class Column:
    status: str
    label: str
    hint: str
    batches: list[Batch]

    @property
    def count(self) -> int:
        return len(self.batches)


def shows_review(user: User, project: Project) -> bool:
    return project.review_mode and user.has_perm("boards.review_batch", project)


def board_columns(user: User, project: Project) -> list[Column]:
    """The board's columns with their cards, in a constant number of queries."""
    batches = list(
        Batch.objects.filter(project=project)
        .exclude(status=BatchStatus.ARCHIVED)
        .annotate(image_count=Count("images"))
        .prefetch_related(
            Prefetch(
                "jobs",
                queryset=Job.objects.exclude(state=JobState.CANCELLED).select_related("labeler", "reviewer"),
                to_attr="open_jobs",
            )
        )
        .order_by("priority", "uploaded_at", "pk")
    )
    by_status: dict[str, list[Batch]] = {status: [] for status, _l, _h in BOARD_COLUMNS}
    for batch in batches:
        batch.project = project
        batch._current_job = batch.open_jobs[0] if batch.open_jobs else None
        by_status.setdefault(batch.status, []).append(batch)
    review_visible = shows_review(user, project)
    return [
        Column(status, label, hint, by_status[status])
        for status, label, hint in BOARD_COLUMNS
        if status != BatchStatus.REVIEW or review_visible
    ]


def batch_images(batch: Batch):
    return Image.objects.filter(batch=batch).order_by("pk")


def batch_history(batch: Batch):
    return BatchEvent.objects.filter(batch=batch).select_related("actor").order_by("-at", "-pk")


def assignable_labelers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.LABELER, Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")


def assignable_reviewers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")
