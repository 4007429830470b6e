"""A batch (the board's card, a django-fsm state machine), its jobs and its history.

Transition bodies touch only the batch's own row; ``boards.services`` checks
permissions and writes jobs, images and events around them.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from accounts.roles import Role, role_at_least
from boards.models.choices import (
    IDLE_STATUSES,
    PRIORITY_DEFAULT,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    AnnotationState,
    BatchSource,
    BatchStatus,
    EventKind,
    JobState,
)
from boards.models.projects import Project


def can_submit(batch: "Batch", user) -> bool:
    """Whoever may edit a batch's boxes may submit it: the assigned labeler, or a reviewer and up.

    A queue batch goes on by itself once its last image is done, as whichever
    labeler finished it: any labeler may submit it (it must be all done).
    """
    if can_annotate(batch, user):
        return True
    job = batch.current_job
    return job is not None and job.is_queue and user.has_perm("boards.annotate_batch", batch)


def can_annotate(batch: "Batch", user) -> bool:
    """Reviewers and above may edit any batch's boxes; a labeler only a batch assigned to them.

    Of a queue batch a labeler edits only the images the queue reserved for
    them (``boards.selectors.queue.may_label``), not the batch as a whole.
    """
    role = user.role_in(batch.workspace_id) if user.is_authenticated else None
    if not user.has_perm("boards.annotate_batch", batch):
        return False
    if role_at_least(role, Role.REVIEWER):
        return True
    job = batch.current_job
    return job is not None and job.labeler_id is not None and job.labeler_id == user.pk


def _has_images(batch: "Batch") -> bool:
    return batch.placements.exists()


def _all_images_done(batch: "Batch") -> bool:
    return not batch.images.filter(annotation_state=AnnotationState.UNANNOTATED).exists()


class Batch(ConcurrentTransitionMixin, models.Model):
    """A set of images moving across the board as one card.

    Transition bodies touch only this row; ``boards.services`` does the rest
    (permission checks, jobs, images, events) in one transaction.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    priority = models.PositiveSmallIntegerField(
        default=PRIORITY_DEFAULT,
        validators=[MinValueValidator(PRIORITY_HIGHEST), MaxValueValidator(PRIORITY_LOWEST)],
        help_text="1 is the highest priority, 5 the lowest.",
    )
    status = FSMField(default=BatchStatus.UNASSIGNED, choices=BatchStatus.choices, protected=True, db_index=True)
    source = models.CharField(max_length=10, choices=BatchSource.choices, default=BatchSource.WEB)
    uploaded_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="splits")
    sample_seed = models.BigIntegerField(null=True, blank=True)
    upload_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The batch name an API upload asked for; later uploads of that name join this batch.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    # The image counts its card shows (``CARD_COUNTS``), stored by the services
    # (``services.mark_changed``) and valid while ``counted_at`` equals ``updated_at``:
    # any other change of the batch makes the board count its images afresh.
    n_images = models.PositiveIntegerField(default=0, editable=False)
    n_annotated = models.PositiveIntegerField(default=0, editable=False)
    n_reviewed = models.PositiveIntegerField(default=0, editable=False)
    n_prelabeled = models.PositiveIntegerField(default=0, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="batch_name_unique_in_project"),
            models.CheckConstraint(
                condition=models.Q(priority__gte=PRIORITY_HIGHEST, priority__lte=PRIORITY_LOWEST),
                name="batch_priority_1_to_5",
            ),
            models.CheckConstraint(condition=models.Q(status__in=BatchStatus.values), name="batch_status_valid"),
        ]
        indexes = [
            models.Index(fields=["project", "status", "priority", "uploaded_at"]),
            models.Index(fields=["project", "upload_name"]),
        ]
        ordering = ["priority", "uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def workspace_id(self) -> int:
        return self.project.workspace_id

    def refresh_from_db(self, *args, **kwargs) -> None:
        self.__dict__.pop("_current_job", None)
        super().refresh_from_db(*args, **kwargs)

    @property
    def images(self) -> models.QuerySet:
        """The batch's images (their ``Placement`` names it), in no set order."""
        return self._meta.apps.get_model("boards", "Image").objects.filter(placement__batch=self)

    @property
    def counts_stored(self) -> bool:
        """Whether ``n_images`` and the other stored counts hold for this version of the batch."""
        return self.counted_at is not None and self.counted_at == self.updated_at

    @property
    def current_job(self) -> "Job | None":
        """The job of the latest assignment, if the batch is in one: none in Unassigned or Archived,
        where a finished job (complete) stays in the history but nobody works on the batch."""
        if self.status in IDLE_STATUSES:
            return None
        if not hasattr(self, "_current_job"):
            self._current_job = self.jobs.exclude(state=JobState.CANCELLED).order_by("-created_at", "-pk").first()
        return self._current_job

    @property
    def in_queue(self) -> bool:
        """In Annotating, assigned to the project's label queue: its images are served one by one."""
        job = self.current_job
        return self.status == BatchStatus.ANNOTATING and job is not None and job.is_queue

    # --- transitions -------------------------------------------------------

    @transition(
        field=status,
        source=BatchStatus.UNASSIGNED,
        target=BatchStatus.ANNOTATING,
        permission="boards.assign_batch",
        conditions=[_has_images],
        custom={"label": "Assign to a labeler"},
    )
    def assign(self) -> None:
        pass

    @transition(
        field=status,
        source=BatchStatus.ANNOTATING,
        target=RETURN_VALUE(BatchStatus.REVIEW, BatchStatus.DATASET),
        permission=can_submit,
        conditions=[_all_images_done],
        custom={"label": "Submit for review"},
    )
    def submit(self) -> str:
        return BatchStatus.REVIEW if self.project.review_mode else BatchStatus.DATASET

    @transition(
        field=status,
        source=BatchStatus.REVIEW,
        target=BatchStatus.DATASET,
        permission="boards.review_batch",
        custom={"label": "Approve"},
    )
    def approve(self) -> None:
        pass

    @transition(
        field=status,
        source=BatchStatus.REVIEW,
        target=BatchStatus.ANNOTATING,
        permission="boards.review_batch",
        custom={"label": "Reject"},
    )
    def reject(self) -> None:
        pass

    @transition(
        field=status,
        source=[BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET],
        target=BatchStatus.UNASSIGNED,
        permission="boards.unassign_batch",
        custom={"label": "Move to Unassigned"},
    )
    def move_to_unassigned(self) -> None:
        pass

    @transition(
        field=status,
        source=BatchStatus.UNASSIGNED,
        target=BatchStatus.ARCHIVED,
        permission="boards.archive_batch",
        custom={"label": "Archive"},
    )
    def archive(self) -> None:
        pass

    @transition(
        field=status,
        source=BatchStatus.ARCHIVED,
        target=BatchStatus.UNASSIGNED,
        permission="boards.archive_batch",
        custom={"label": "Restore to Unassigned"},
    )
    def restore(self) -> None:
        pass


class Job(models.Model):
    """One assignment of a batch to a labeler, or to its project's label queue (no labeler).

    Optionally with a reviewer.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=200, blank=True)
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="labeling_jobs",
        help_text="Empty for a batch assigned to the label queue: any labeler is served its images.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewing_jobs",
    )
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.ANNOTATING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["labeler", "state"])]

    def __str__(self) -> str:
        return self.name or f"Job {self.pk}"

    @property
    def is_queue(self) -> bool:
        """Assigned to the project's label queue rather than to one labeler."""
        return self.labeler_id is None

    @property
    def workspace_id(self) -> int:
        return self.batch.project.workspace_id


class BatchEvent(models.Model):
    """An entry in a batch's history. Written once, never edited.

    ``batch`` goes to NULL when a batch is deleted; ``batch_name`` and
    ``project`` keep the record readable after that.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    batch_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    from_status = models.CharField(max_length=10, choices=BatchStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=BatchStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.batch_name}: {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Batch events are a history: they are never edited.")
        super().save(*args, **kwargs)
