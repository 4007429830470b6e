"""The label queue: the images of queue batches waiting for a labeler, and the reservations on them.

A batch in Annotating is assigned either to one labeler (a ``Job`` with a
``labeler``) or to its project's queue (a ``Job`` without one). Each image of a
queue batch that still needs a labeler has one ``QueueEntry``; "Start labeling"
reserves the next entry for whoever asked (``boards.services.queue``) and the
entry goes when the image is done. The entries are a narrow table of their own
so that serving the next image reads one small index and writes one small row,
whatever the size of the project's image table.
"""

from django.conf import settings
from django.db import models

from boards.models.batches import Batch
from boards.models.images import Image
from boards.models.projects import Project


class QueueEntry(models.Model):
    """One image of a queue batch still to label, free or reserved for a labeler.

    ``priority`` is the batch's (copied, so that the next image is one index
    read; ``set_priority`` updates both). A reservation holds while
    ``reserved_at`` is younger than the project's ``reservation_minutes``; an
    expired one goes to whoever asks next, before the free entries of its
    priority. ``pinned`` entries are images a review sent back: reserved for
    the labeler who labeled them, and they do not expire while that person
    may still label in the workspace. An entry without ``reserved_by`` is
    free, whatever ``reserved_at`` says (its holder's account was deleted).
    An entry goes when its holder moves on from the finished image ("Next
    image"): the editor saves every change as it happens, so a first box
    does not mean the labeler is done.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="queue_entries")
    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="queue_entry")
    priority = models.PositiveSmallIntegerField()
    queued_at = models.DateTimeField()
    reserved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reserved_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "queue entries"
        indexes = [
            # The free entries of a project in the order they are served.
            models.Index(
                fields=["project", "priority", "queued_at", "id"],
                condition=models.Q(reserved_by__isnull=True),
                name="queue_free_idx",
            ),
            # Reservations that may expire, oldest first within a priority.
            models.Index(
                fields=["project", "priority", "reserved_at", "id"],
                condition=models.Q(reserved_by__isnull=False, pinned=False),
                name="queue_reserved_idx",
            ),
            # Images sent back to their labeler: few, and looked for on every serve (has their holder left?).
            models.Index(
                fields=["project", "priority", "queued_at", "id"],
                condition=models.Q(pinned=True),
                name="queue_pinned_idx",
            ),
            # What one labeler holds in a project.
            models.Index(
                fields=["reserved_by", "project", "reserved_at"],
                condition=models.Q(reserved_by__isnull=False),
                name="queue_holder_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Image {self.image_id} in the queue of batch {self.batch_id}"
