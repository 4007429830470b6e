"""Jobs: a user's queue across projects ("My work") and the API's job rows. Nothing here writes."""

from __future__ import annotations

from django.db.models import Count, Q

from accounts.models import User
from boards.models import (
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    Job,
    JobState,
    Project,
    ReviewState,
)
from boards.selectors.cards import build_cards
from boards.selectors.queue import queue_waiting


def my_work(user: User) -> dict:
    """A labeler's and a reviewer's queue across projects, highest priority first."""
    from accounts.roles import Role, role_at_least

    labeling = decorate_jobs(
        Job.objects.filter(labeler=user, state=JobState.ANNOTATING, batch__status=BatchStatus.ANNOTATING)
    )
    reviewer_workspaces = [ws for ws, role in user.workspace_roles().items() if role_at_least(role, Role.REVIEWER)]
    reviewing = decorate_jobs(
        Job.objects.filter(state=JobState.IN_REVIEW, batch__status=BatchStatus.REVIEW).filter(
            Q(reviewer=user) | Q(reviewer__isnull=True, batch__project__workspace_id__in=reviewer_workspaces)
        )
    )
    submitted = decorate_jobs(
        Job.objects.filter(labeler=user, state=JobState.IN_REVIEW, batch__status=BatchStatus.REVIEW)
    )
    _review_states(submitted)
    return {
        "labeling": labeling,
        "reviewing": reviewing,
        "submitted": submitted,
        "queues": queue_waiting(user),
        "images_to_label": sum(j.card.image_count - j.card.annotated_count for j in labeling),
        "images_to_review": sum(j.card.image_count - j.card.reviewed_count for j in reviewing),
    }


def _review_states(jobs: list[Job]) -> None:
    """Where the review of each submitted batch stands, for its labeler: one query for them all.

    ``job.review_status`` is "waiting for review" (no decision yet), "in review"
    (decisions so far all approvals) or "some images sent back" (the reviewer
    rejected some so far); ``job.sent_back`` counts those.
    """
    rejected = (
        dict(
            Image.objects.filter(placement__batch_id__in=[j.batch_id for j in jobs], review_state=ReviewState.REJECTED)
            .order_by()
            .values("placement__batch_id")
            .annotate(n=Count("pk"))
            .values_list("placement__batch_id", "n")
        )
        if jobs
        else {}
    )
    for job in jobs:
        job.sent_back = rejected.get(job.batch_id, 0)
        if job.sent_back:
            job.review_status = "some images sent back"
        elif job.card.reviewed_count:
            job.review_status = "in review"
        else:
            job.review_status = "waiting for review"


def decorate_jobs(jobs) -> list[Job]:
    jobs = list(
        jobs.select_related("batch__project__workspace", "labeler", "reviewer").order_by(
            "batch__priority", "batch__uploaded_at", "pk"
        )
    )
    cards = build_cards(Batch.objects.filter(pk__in={job.batch_id for job in jobs}))
    for job in jobs:
        job.card = cards[job.batch_id]
    return jobs


# The API lists many rows: these read plain values (no model instances) in a
# fixed number of grouped queries, whatever the number of rows.


def api_jobs(project: Project, job_id: int | None = None) -> list[dict]:
    """Job rows with their batch's image counts by state, newest first."""
    jobs = Job.objects.filter(batch__project=project)
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    unannotated = Q(batch__placements__image__annotation_state=AnnotationState.UNANNOTATED)
    return list(
        jobs.order_by("-created_at", "-pk")
        .annotate(
            num_images=Count("batch__placements"),
            n_unannotated=Count("batch__placements", filter=unannotated),
            n_approved=Count(
                "batch__placements", filter=Q(batch__placements__image__review_state=ReviewState.APPROVED)
            ),
            n_rejected=Count(
                "batch__placements", filter=Q(batch__placements__image__review_state=ReviewState.REJECTED)
            ),
        )
        .values(
            "pk",
            "name",
            "state",
            "created_at",
            "batch_id",
            "batch__name",
            "batch__status",
            "labeler__email",
            "reviewer__email",
            "created_by__email",
            "num_images",
            "n_unannotated",
            "n_approved",
            "n_rejected",
        )
    )
