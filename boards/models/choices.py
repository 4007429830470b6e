"""The choices and limits the models store, apart from the models so every layer can name them cheaply."""

from django.db import models

MAX_BATCH_IMAGES = 25_000
PRIORITY_HIGHEST = 1
PRIORITY_LOWEST = 5
PRIORITY_DEFAULT = 3


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
    BUCKET = "bucket", "Bucket import"


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


class JobState(models.TextChoices):
    ANNOTATING = "annotating", "Annotating"
    IN_REVIEW = "review", "In review"
    COMPLETE = "complete", "Complete"
    CANCELLED = "cancelled", "Cancelled"


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
