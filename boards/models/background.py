"""Long work done by a worker rather than in a request: exports, and imports of many annotation files.

A ``BackgroundTask`` is what a person sees on the project's Tasks page: what was asked, by whom,
how far it got (``done`` of ``total``), how it ended, and for an export the archive to download
until ``expires_at``. The worker (django-tasks, ``services.background``) runs it and keeps ``beat_at``
fresh while it works; a task whose worker stopped beating is failed or retried
(``services.background.reap_stalled``), never left half done. On PostgreSQL the worker also
holds an advisory lock on the task while it runs, which the server releases when the worker's
connection ends: a task whose lock is free has no worker, however recent its last beat.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from boards.models.projects import Project


class TaskKind(models.TextChoices):
    EXPORT = "export", "Export"
    IMPORT = "import", "Import"
    BUCKET = "bucket", "Bucket import"


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (TaskStatus.QUEUED, TaskStatus.RUNNING)


class BackgroundTask(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="background_tasks")
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, help_text="What was asked: for an export its format, batch, split, seed.")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Known once the worker has started.")
    report = models.JSONField(default=dict, blank=True, help_text="What came of it, shown on the Tasks page.")
    error = models.TextField(blank=True)
    file = models.CharField(max_length=255, blank=True, help_text="The finished archive's name in storage.")
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    download_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    beat_at = models.DateTimeField(null=True, blank=True, help_text="The worker's last sign of life.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the archive is deleted.")
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    queue_id = models.CharField(max_length=64, blank=True, help_text="Its entry on the task queue.")
    worker = models.CharField(
        max_length=160, blank=True, help_text="host/pid:start time of the worker process running it."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"]),
            # The reaper looks at the waiting and running tasks only, on every look at a Tasks page.
            models.Index(
                fields=["status"], name="bgtask_open_status_idx", condition=models.Q(status__in=["queued", "running"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == TaskStatus.DONE else 0
        return min(100, round(100 * self.done / self.total))

    @property
    def downloadable(self) -> bool:
        return (
            self.status == TaskStatus.DONE
            and bool(self.file)
            and (self.expires_at is None or self.expires_at > timezone.now())
        )
