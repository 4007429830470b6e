from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from accounts.models import Workspace
from accounts.roles import Role, role_at_least

MAX_BATCH_IMAGES = 25_000
PRIORITY_HIGHEST = 1
PRIORITY_LOWEST = 5
PRIORITY_DEFAULT = 3


class Project(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    review_mode = models.BooleanField(
        default=True, help_text="Annotated batches go to Review first; off sends them to Dataset."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "slug"], name="project_slug_unique_in_workspace")]
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#3b82f6")
    hotkey = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_class_name_unique_in_project"),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                name="label_class_hotkey_unique_in_project",
                violation_error_message="Another class of this project already has this hotkey.",
            ),
        ]
        ordering = ["project", "name"]
        verbose_name_plural = "label classes"

    def __str__(self) -> str:
        return self.name

    @property
    def workspace_id(self) -> int:
        return self.project.workspace_id


class BatchStatus(models.TextChoices):
    UNASSIGNED = "unassigned", "Unassigned"
    ANNOTATING = "annotating", "Annotating"
    REVIEW = "review", "Review"
    DATASET = "dataset", "Dataset"
    ARCHIVED = "archived", "Archived"


# Columns where no job is under way: a batch there has no current job.
IDLE_STATUSES = frozenset({BatchStatus.UNASSIGNED, BatchStatus.ARCHIVED})


class BatchSource(models.TextChoices):
    WEB = "web", "Browser upload"
    API = "api", "API upload"
    SPLIT = "split", "Split from another batch"
    CATALOG = "catalog", "Image catalog"


def can_submit(batch: "Batch", user) -> bool:
    """Whoever may edit a batch's boxes may submit it: the assigned labeler, or a reviewer and up."""
    return can_annotate(batch, user)


def can_annotate(batch: "Batch", user) -> bool:
    """Reviewers and above may edit any batch's boxes; a labeler only a batch assigned to them."""
    role = user.role_in(batch.workspace_id) if user.is_authenticated else None
    if not user.has_perm("boards.annotate_batch", batch):
        return False
    if role_at_least(role, Role.REVIEWER):
        return True
    job = batch.current_job
    return job is not None and job.labeler_id == user.pk


def _has_images(batch: "Batch") -> bool:
    return batch.images.exists()


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


class AnnotationState(models.TextChoices):
    UNANNOTATED = "unannotated", "Unannotated"
    ANNOTATED = "annotated", "Annotated"
    EMPTY = "empty", "Marked empty"


class ReviewState(models.TextChoices):
    PENDING = "pending", "Not reviewed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Split(models.TextChoices):
    NONE = "", "Not set"
    TRAIN = "train", "Train"
    VALID = "valid", "Valid"
    TEST = "test", "Test"


class Tag(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="tag_name_unique_in_project")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def original_upload_to(image: "Image", filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"images/{image.project_id}/{image.sha256[:2]}/{image.sha256}.{ext}"


def thumbnail_upload_to(image: "Image", filename: str) -> str:
    return f"thumbs/{image.project_id}/{image.sha256[:2]}/{image.sha256}.jpg"


class Image(models.Model):
    # No single-column indexes on these two: the composite indexes below start
    # with them, and every index is one more write when a batch takes 25,000 images.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images", db_index=False)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="images", db_index=False
    )
    file = models.FileField(upload_to=original_upload_to, max_length=255)
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255)
    uploaded_at = models.DateTimeField(default=timezone.now)
    annotation_state = models.CharField(
        max_length=12, choices=AnnotationState.choices, default=AnnotationState.UNANNOTATED
    )
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING)
    review_comment = models.TextField(blank=True)
    annotation_version = models.PositiveIntegerField(
        default=0, help_text="Goes up with every save, so two editors cannot silently overwrite each other."
    )
    annotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who saved the image's current boxes (or marked it empty).",
    )
    rejections = models.PositiveIntegerField(
        default=0,
        help_text="How many finished reviews sent this image back. An approved image with none passed first time.",
    )
    split = models.CharField(max_length=5, choices=Split.choices, blank=True, default=Split.NONE)
    tags = models.ManyToManyField(Tag, blank=True, related_name="images")
    archived_from = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="archived_images",
        help_text="The archived batch this image left; a restore brings it back while it is free.",
        db_index=False,  # see the partial index in Meta
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "sha256"], name="image_sha256_unique_in_project")]
        # The catalog pages newest first, by (uploaded_at, id): each filter has
        # an index that also yields that order (SQLite appends the id to every
        # index; PostgreSQL gets it spelled out). These three are the same on
        # both databases. The indexes for the free images, the file name and
        # the annotation and review states differ by database and are made by
        # migration 0006_catalog_indexes_by_database: PostgreSQL writes every
        # index of a row whose batch changes (SQLite only those holding the
        # batch), so there they are partial, leaving out the images that a new
        # batch takes, and file names are searched through a trigram index.
        indexes = [
            models.Index(fields=["batch", "id"]),
            models.Index(fields=["project", "uploaded_at", "id"]),
            models.Index(fields=["project", "width", "height"]),
            # Only archived images have it set: the others stay out of this
            # index, so PostgreSQL writes nothing here when their batch changes.
            models.Index(
                fields=["archived_from"],
                condition=models.Q(archived_from__isnull=False),
                name="image_archived_from_idx",
            ),
        ]
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.original_filename

    @property
    def workspace_id(self) -> int:
        return self.project.workspace_id

    @property
    def state(self) -> str:
        """The one word a person sees: unannotated, annotated, empty, approved, rejected."""
        if self.review_state != ReviewState.PENDING:
            return self.review_state
        return self.annotation_state


class Annotation(models.Model):
    """One bounding box, in pixels of the original image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="annotations")
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        # "Has class X" in the catalog reads the image ids of one class from this index alone.
        indexes = [models.Index(fields=["label", "image"])]

    def __str__(self) -> str:
        return f"{self.label} at ({self.x:g}, {self.y:g}) {self.width:g}×{self.height:g}"


class ReviewMark(models.Model):
    """A reviewer's comment pinned to one box, or to a region of an image, at a review.

    The region (in pixels of the image) is kept whatever happens to the box: a
    labeler's next save replaces the boxes, and the mark still shows where the
    reviewer pointed. ``annotation`` names the box while it exists.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="review_marks")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_marks"
    )
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    comment = models.TextField()
    # The image's own review comment, kept when the review finished (the history a
    # later review shows), rather than a mark a reviewer pinned to a box or region.
    from_comment = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["image", "created_at"])]

    def __str__(self) -> str:
        return f"Mark on image {self.image_id}: {self.comment[:40]}"


# What a card counts among its batch's images: all of them, the annotated
# (boxes or marked empty), the reviewed ones, and the pre-labeled ones (boxes
# kept from an earlier round, not yet confirmed by a labeler: unannotated with
# boxes). Keys are Batch's stored fields.
CARD_COUNTS = {
    "n_images": models.Q(),
    "n_annotated": ~models.Q(annotation_state=AnnotationState.UNANNOTATED),
    "n_reviewed": ~models.Q(review_state=ReviewState.PENDING),
    # A subquery, built when counting (a queryset cannot be built while models load).
    "n_prelabeled": lambda: models.Q(
        models.Exists(Annotation.objects.filter(image=models.OuterRef("pk"))),
        annotation_state=AnnotationState.UNANNOTATED,
    ),
}


class JobState(models.TextChoices):
    ANNOTATING = "annotating", "Annotating"
    IN_REVIEW = "review", "In review"
    COMPLETE = "complete", "Complete"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    """One assignment of a batch to a labeler (and optionally a reviewer)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=200, blank=True)
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labeling_jobs")
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
    def workspace_id(self) -> int:
        return self.batch.project.workspace_id


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    ASSIGNED = "assigned", "Assigned"
    SPLIT = "split", "Split"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    UNASSIGNED = "unassigned", "Moved to Unassigned"
    ARCHIVED = "archived", "Archived"
    RESTORED = "restored", "Restored"
    DELETED = "deleted", "Deleted"
    PRIORITY = "priority", "Priority changed"
    MERGED = "merged", "Merged"
    ADDED = "added", "Images added"
    REMOVED = "removed", "Images removed"
    MARKED = "marked", "Review mark added"
    UNMARKED = "unmarked", "Review mark removed"
    CHECKED = "checked", "Checked, no change needed"


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


def count_card_images(batch_ids) -> dict[int, tuple[int, ...]]:
    """Each batch's ``CARD_COUNTS`` from its images, in one grouped query; batches without images are left out."""
    rows = (
        Image.objects.filter(batch_id__in=batch_ids)
        .order_by()
        .values("batch_id")
        .annotate(**{name: models.Count("pk", filter=q() if callable(q) else q) for name, q in CARD_COUNTS.items()})
        .values_list("batch_id", *CARD_COUNTS)
    )
    return {row[0]: tuple(row[1:]) for row in rows}
