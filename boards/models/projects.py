"""A project and what it names once for all its images: label classes and tags."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Workspace

MAX_RESERVATION_MINUTES = 24 * 60  # a day
RESERVED_SLUGS = frozenset({"datasets"})  # /api/<workspace>/datasets lists the workspace's datasets


def validate_project_slug(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is taken by the API's addresses; choose another slug.")


MAX_RESERVATION_CAP = 100


class Project(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=60,
        validators=[validate_project_slug],
        help_text="In the project's addresses; “datasets” is taken by the API's list of the workspace's datasets.",
    )
    review_mode = models.BooleanField(
        default=True, help_text="Annotated batches go to Review first; off sends them to Dataset."
    )
    dataset = models.ForeignKey(
        "boards.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The dataset of the workspace catalog that uploads to this project extend.",
    )
    reservation_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RESERVATION_MINUTES)],
        help_text="How long an image of the label queue stays reserved for a labeler who leaves it idle.",
    )
    reservation_cap = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RESERVATION_CAP)],
        help_text="How many images of the label queue one labeler may hold at once.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="project_slug_unique_in_workspace"),
            models.CheckConstraint(
                condition=models.Q(reservation_minutes__gte=1, reservation_minutes__lte=MAX_RESERVATION_MINUTES),
                name="project_reservation_minutes_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(reservation_cap__gte=1, reservation_cap__lte=MAX_RESERVATION_CAP),
                name="project_reservation_cap_in_range",
            ),
        ]
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


class Tag(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="tag_name_unique_in_project")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
