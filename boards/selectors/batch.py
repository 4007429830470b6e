"""A batch's images and history, and the API's batch, image and search rows. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections
from django.db.models import Count, Q

from boards.models import (
    Annotation,
    Batch,
    BatchEvent,
    BatchStatus,
    Image,
    Job,
    JobState,
    Placement,
    Project,
)
from boards.selectors.access import image_of


def batch_images(batch: Batch):
    return Image.objects.filter(placement__batch=batch).order_by("pk")


def batch_history(batch: Batch):
    return BatchEvent.objects.filter(batch=batch).select_related("actor").order_by("-at", "-pk")


# The API lists many rows: these read plain values (no model instances) in a
# fixed number of grouped queries, whatever the number of rows.


def _raw_rows(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset, without Django's per-value converters.

    The SQL is the ORM's own; skipping the converters makes a list of 1,000
    batches several times cheaper. Only for ints, strings and datetimes:
    datetimes come back as the driver gives them (see ``_utc``).
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _utc(value) -> datetime:
    """A driver's datetime (aware, naive UTC, or ISO text on SQLite) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


BATCH_ROW = ("pk", "name", "uploaded_at", "status", "priority", "images", "jobs")


def api_batches(project: Project, batch_id: int | None = None) -> list[tuple]:
    """Batch rows as tuples of ``BATCH_ROW``, with image and open-job counts, oldest first.

    Tuples, not dicts or models: the API lists thousands of these per request.
    """
    batches = Batch.objects.filter(project=project)
    if batch_id is not None:
        batches = batches.filter(pk=batch_id)
    rows = _raw_rows(batches.order_by("uploaded_at", "pk").values_list(*BATCH_ROW[:5]))
    if not rows:
        return rows
    # Counting the images' placements through the batch ids lets the database answer from the
    # placements' (batch, image) index alone, never reading an image row.
    in_batches = {"batch__in": batches.values("pk")} if batch_id is None else {"batch_id": batch_id}
    placements = Placement.objects.filter(**in_batches)
    jobs = Job.objects.filter(**in_batches)
    image_counts = dict(
        _raw_rows(placements.order_by().values("batch_id").annotate(n=Count("pk")).values_list("batch_id", "n"))
    )
    job_counts = dict(
        _raw_rows(
            jobs.exclude(state=JobState.CANCELLED)
            .order_by()
            .values("batch_id")
            .annotate(n=Count("pk"))
            .values_list("batch_id", "n")
        )
    )
    return [
        (pk, name, _utc(uploaded), status, priority, image_counts.get(pk, 0), job_counts.get(pk, 0))
        for pk, name, uploaded, status, priority in rows
    ]


def api_image(project: Project, image_id: int) -> tuple[Image, list[Annotation], list[str]]:
    """An image of the project with its boxes and tag names; 404 otherwise."""
    image = image_of(project, image_id)
    boxes = list(Annotation.objects.filter(image=image).select_related("label").order_by("pk"))
    tags = sorted(image.tags.values_list("name", flat=True))
    return image, boxes, tags


@dataclass
class SearchQuery:
    offset: int = 0
    limit: int = 50
    tag: str | None = None
    class_name: str | None = None
    prompt: str | None = None
    in_dataset: bool | None = None
    batch: bool = False
    batch_id: int | None = None
    annotation_job: bool = False
    annotation_job_id: int | None = None


def api_search(project: Project, query: SearchQuery) -> tuple[int, list[Image]]:
    """(total, page) of the project's images matching the query, oldest first.

    Each image on the page carries ``box_list`` (its boxes, labels selected)
    and ``tag_names``, read in two queries for the whole page.
    """
    images = Image.objects.filter(project=project)
    if query.tag:
        images = images.filter(tags__name=query.tag)
    if query.class_name:
        images = images.filter(pk__in=Annotation.objects.filter(label__name=query.class_name).values("image_id"))
    if query.prompt:
        images = images.filter(original_filename__icontains=query.prompt)
    if query.in_dataset is not None:
        in_dataset = Q(placement__batch__status=BatchStatus.DATASET)
        images = images.filter(in_dataset) if query.in_dataset else images.exclude(in_dataset)
    if query.batch:
        images = images.filter(placement__isnull=False)
    if query.batch_id is not None:
        images = images.filter(placement__batch_id=query.batch_id)
    open_jobs = Job.objects.exclude(state=JobState.CANCELLED)
    if query.annotation_job:
        images = images.filter(placement__batch_id__in=open_jobs.values("batch_id"))
    if query.annotation_job_id is not None:
        images = images.filter(placement__batch_id__in=open_jobs.filter(pk=query.annotation_job_id).values("batch_id"))
    total = images.count()
    # The placement comes with each image: the API row's ``batch`` (``batch_id``) costs no query.
    page = list(images.select_related("placement").order_by("pk")[query.offset : query.offset + query.limit])
    ids = [i.pk for i in page]
    boxes: dict[int, list[Annotation]] = {}
    for box in Annotation.objects.filter(image_id__in=ids).select_related("label").order_by("pk"):
        boxes.setdefault(box.image_id, []).append(box)
    tags: dict[int, list[str]] = {}
    for image_id, name in Image.tags.through.objects.filter(image_id__in=ids).values_list("image_id", "tag__name"):
        tags.setdefault(image_id, []).append(name)
    for image in page:
        image.project = project
        image.box_list = boxes.get(image.pk, [])
        image.tag_names = sorted(tags.get(image.pk, []))
    return total, page
