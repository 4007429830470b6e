"""The image catalog: filters carried in the URL, sampling, and the reads behind its pages.

Nothing here writes; ``boards.services`` creates batches from the catalog,
tags images, restores and merges batches.

A filter is a ``CatalogFilter``, parsed from GET (or POSTed) parameters, so a
filtered view is a URL that can be bookmarked and shared. Every filter narrows
``Image.objects.filter(project=...)``; they combine with AND.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db import connection, models
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from boards.errors import InvalidInput
from boards.models import (
    MAX_BATCH_IMAGES,
    Annotation,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    LabelClass,
    Project,
    ReviewState,
    Tag,
)
from core import params

PAGE_SIZE = 60
COUNT_CAP = 10_000
"""Past this many matches the page says "more than 10,000" instead of counting all.

The exact number is counted when it matters: in the "Add batch" preview.
"""

STATUS_LABELS = dict(BatchStatus.choices)


class CatalogState(models.TextChoices):
    """Where an image stands, as the catalog filters it. Every image is in exactly one."""

    FREE = "free", "Not in a batch"
    QUEUED = "queued", "Queued in a batch"
    ANNOTATED = "annotated", "Annotated"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


def state_q(state: str) -> Q:
    in_batch = Q(batch__isnull=False)
    return {
        CatalogState.FREE: Q(batch__isnull=True),
        CatalogState.QUEUED: in_batch
        & Q(annotation_state=AnnotationState.UNANNOTATED, review_state=ReviewState.PENDING),
        # "annotated or marked empty", written as "not unannotated" so that no
        # index range on the state competes with reading in upload order.
        CatalogState.ANNOTATED: in_batch
        & ~Q(annotation_state=AnnotationState.UNANNOTATED)
        & Q(review_state=ReviewState.PENDING),
        CatalogState.APPROVED: in_batch & Q(review_state=ReviewState.APPROVED),
        CatalogState.REJECTED: in_batch & Q(review_state=ReviewState.REJECTED),
    }[state]


def state_of(image: Image) -> str:
    """The ``CatalogState`` of one image already read (same rules as ``state_q``)."""
    if image.batch_id is None:
        return CatalogState.FREE
    if image.review_state != ReviewState.PENDING:
        return image.review_state
    if image.annotation_state == AnnotationState.UNANNOTATED:
        return CatalogState.QUEUED
    return CatalogState.ANNOTATED


# --- filters -----------------------------------------------------------------

# URL parameter → CatalogFilter field. The parameters are short and readable,
# since people share these URLs: ?file=cam3&tag=night&class=car&state=free
PARAMS = {
    "file": "file",
    "tag": "tag",
    "class": "label",
    "state": "state",
    "batch": "batch",
    "from": "uploaded_from",
    "to": "uploaded_to",
    "min_width": "min_width",
    "max_width": "max_width",
    "min_height": "min_height",
    "max_height": "max_height",
}
SIZE_LIMIT = 1_000_000


@dataclass(frozen=True)
class CatalogFilter:
    """What the catalog shows: every set field narrows the images, all combined with AND."""

    file: str = ""  # file name contains (case-insensitive)
    tag: str = ""  # has this tag (by name)
    label: str = ""  # has at least one box of this class (by name)
    state: str = ""  # a CatalogState value
    batch: int | None = None  # in this batch (by id)
    uploaded_from: date | None = None  # uploaded on or after this day
    uploaded_to: date | None = None  # uploaded on or before this day
    min_width: int | None = None
    max_width: int | None = None
    min_height: int | None = None
    max_height: int | None = None
    errors: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_query(cls, data: Mapping) -> CatalogFilter:
        """Parse GET or POST parameters. A value that does not parse is left out and
        explained in ``errors`` (keyed by parameter), never guessed at."""
        values: dict = {}
        errors: dict[str, str] = {}
        for param, name in PARAMS.items():
            raw = data.get(param)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                values[name] = _parse(name, param, raw)
            except params.BadParameter as exc:
                errors[param] = exc.message
        if (
            values.get("uploaded_from")
            and values.get("uploaded_to")
            and values["uploaded_from"] > values["uploaded_to"]
        ):
            errors["to"] = "The end date is before the start date."
            del values["uploaded_to"]
        return cls(**values, errors=errors)

    def items(self) -> list[tuple[str, str]]:
        """The set filters as (parameter, value) pairs, for links and hidden form fields."""
        pairs = []
        for param, name in PARAMS.items():
            value = getattr(self, name)
            if value not in ("", None):
                pairs.append((param, value.isoformat() if isinstance(value, date) else str(value)))
        return pairs

    @property
    def querystring(self) -> str:
        return urlencode(self.items())

    @property
    def is_empty(self) -> bool:
        return not self.items()

    def images(self, project: Project, *, in_upload_order: bool = False) -> QuerySet:
        """The images of ``project`` that pass every set field.

        Tags and classes are matched by id, looked up first (one small query
        each; a name the project does not have matches nothing), so that the
        database plans with the real id and knows how many images it has. By
        default they become one list of image ids (with both, the tag's images
        that also have the class); ``in_upload_order``, meant for a filter
        known to match many images and read newest first until a page is
        full, a lookup per image read (``EXISTS``).

        On SQLite, which plans without statistics, some terms are also written
        so that no index can serve them (``project_id + 0``, ``width + 0``),
        leaving the one plan that is fast for the case: with a list, the list
        drives (instead of a scan of a large index range that looks each image
        up in the list); in upload order, the order's index drives (instead of
        gathering tens of thousands of rows by size and sorting them).
        PostgreSQL keeps statistics and plans better left alone.
        """
        through = Image.tags.through
        tag_id = label_id = None
        if self.tag:
            tag_id = (
                Tag.objects.filter(project=project, name=self.tag).order_by("pk").values_list("pk", flat=True).first()
            )
            if tag_id is None:
                return Image.objects.none()
        if self.label:
            label_id = (
                LabelClass.objects.filter(project=project, name=self.label)
                .order_by("pk")
                .values_list("pk", flat=True)
                .first()
            )
            if label_id is None:
                return Image.objects.none()
        by_list = bool(self.tag or self.label) and not in_upload_order
        steer = (by_list or in_upload_order) and connection.vendor == "sqlite"
        images = Image.objects.alias(
            scan_project=F("project_id") + 0, scan_width=F("width") + 0, scan_height=F("height") + 0
        )
        if by_list:
            ids = through.objects.filter(tag_id=tag_id).values("image_id") if self.tag else None
            if self.label:
                boxed = Annotation.objects.filter(label_id=label_id)
                ids = (boxed.filter(image_id__in=ids) if ids is not None else boxed).values("image_id")
            images = images.filter(pk__in=ids)
        images = images.filter(**{"scan_project" if steer and by_list else "project": project.pk})
        if in_upload_order:
            if self.tag:
                images = images.filter(Exists(through.objects.filter(image_id=OuterRef("pk"), tag_id=tag_id)))
            if self.label:
                images = images.filter(Exists(Annotation.objects.filter(image_id=OuterRef("pk"), label_id=label_id)))
        width = "scan_width" if steer else "width"
        height = "scan_height" if steer else "height"
        if self.file:
            images = images.filter(original_filename__icontains=self.file)
        if self.state:
            images = images.filter(state_q(self.state))
        if self.batch is not None:
            images = images.filter(batch_id=self.batch)
        if self.uploaded_from:
            images = images.filter(uploaded_at__gte=_start_of(self.uploaded_from))
        if self.uploaded_to:
            images = images.filter(uploaded_at__lt=_start_of(self.uploaded_to + timedelta(days=1)))
        bounds = {
            f"{width}__gte": self.min_width,
            f"{width}__lte": self.max_width,
            f"{height}__gte": self.min_height,
            f"{height}__lte": self.max_height,
        }
        bounds = {lookup: value for lookup, value in bounds.items() if value is not None}
        if bounds:
            images = images.filter(**bounds)
        return images


def _parse(name: str, param: str, raw):
    """One filter's value, read with ``core.params``; ``BadParameter`` says why it cannot be read."""
    one = {param: raw}
    if name in ("file", "tag", "label"):
        return params.clean_text(raw, name=param, label=f"The {param} filter", limit=1000)[:200]
    if name == "state":
        if not isinstance(raw, str) or raw.strip() not in CatalogState.values:
            raise params.BadParameter(param, f"Choose a state from the list, not “{params.shown(raw)}”.")
        return raw.strip()
    if name == "batch":
        return params.ident_value(raw, name=param, label="The batch filter (a batch number)")
    if name in ("uploaded_from", "uploaded_to"):
        return params.day(one, param, label=f"The “{param}” date")
    return params.integer(one, param, label=f"The size filter “{param}” (in pixels)", low=0, high=SIZE_LIMIT)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def project_images(project: Project) -> QuerySet:
    return Image.objects.filter(project=project)


def filtered_images(project: Project, filters: CatalogFilter) -> QuerySet:
    return filters.images(project)


# --- the catalog page ----------------------------------------------------------


@dataclass
class CatalogPage:
    """One page of the grid, newest upload first.

    Paged by keyset on (uploaded_at, id) rather than by offset, so page 4,000
    costs what page 1 costs; ``newer`` and ``older`` are the ids to page from.
    ``count`` is the number of matches when there are few (at most ``FEW``);
    with more it is None, and ``count_matching`` counts them on its own.
    """

    images: list[Image]
    newer: int | None
    older: int | None
    count: int | None


GRID_FIELDS = (
    "pk",
    "original_filename",
    "width",
    "height",
    "uploaded_at",
    "annotation_state",
    "review_state",
    "thumbnail",
    "batch__name",
    "batch__status",
    "batch__project_id",
)
FEW = 2_000
"""Up to this many matches are read by id; more are read in upload order, stopping at a page."""


def catalog_page(
    project: Project,
    filters: CatalogFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int | None = None,
) -> CatalogPage:
    """The images after image ``before`` (going older) or before image ``after`` (going newer).

    At most three queries: up to ``FEW + 1`` matching ids (in whatever order
    the database finds them fastest), the cursor's image, and the page. A
    filter with few matches reads the page by those ids; one with many reads
    images in upload order and stops after a page, which is quick precisely
    because matches are many.
    """
    size = size or PAGE_SIZE
    ids = list(filtered_images(project, filters).order_by().values_list("pk", flat=True)[: FEW + 1])
    if not ids:
        return CatalogPage(images=[], newer=None, older=None, count=0)
    if len(ids) <= FEW:
        images = Image.objects.filter(pk__in=ids)
    else:
        images = filters.images(project, in_upload_order=True)
    images = images.select_related("batch").only(*GRID_FIELDS)

    anchor_id = after if after is not None else before
    anchor = None
    if anchor_id is not None:
        anchor = project_images(project).filter(pk=anchor_id).values_list("uploaded_at", "pk").first()
    if anchor is not None and after is not None:
        at, pk = anchor
        newer = images.filter(uploaded_at__gte=at).filter(Q(uploaded_at__gt=at) | Q(pk__gt=pk))
        rows = list(newer.order_by("uploaded_at", "pk")[: size + 1])
        more_newer, more_older = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        if anchor is not None:
            at, pk = anchor
            images = images.filter(uploaded_at__lte=at).filter(Q(uploaded_at__lt=at) | Q(pk__lt=pk))
        rows = list(images.order_by("-uploaded_at", "-pk")[: size + 1])
        more_newer, more_older = anchor is not None, len(rows) > size
        rows = rows[:size]
    for image in rows:
        image.catalog_state = state_of(image)
        image.catalog_state_label = CatalogState(image.catalog_state).label
    return CatalogPage(
        images=rows,
        newer=rows[0].pk if rows and more_newer else None,
        older=rows[-1].pk if rows and more_older else None,
        count=len(ids) if len(ids) <= FEW else None,
    )


def count_matching(project: Project, filters: CatalogFilter, *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many images match, and whether that is exact (False: more than ``cap``)."""
    n = filtered_images(project, filters).order_by()[: cap + 1].count()
    return min(n, cap), n <= cap


def filter_choices(project: Project) -> dict:
    """The lists behind the filter form's menus, in three queries."""
    return {
        "tags": list(Tag.objects.filter(project=project).values_list("name", flat=True)),
        "labels": list(LabelClass.objects.filter(project=project).order_by("name").values_list("name", flat=True)),
        "batches": list(
            Batch.objects.filter(project=project)
            .exclude(status=BatchStatus.ARCHIVED)
            .order_by("priority", "uploaded_at", "pk")
            .values("pk", "name", "status")
        ),
        "states": CatalogState.choices,
    }


# --- choosing images for a batch -------------------------------------------------

RANDOM = "random"
ORDERED = "ordered"
BY_UPLOAD = "uploaded"
BY_FILENAME = "filename"
SEED_LIMIT = 2**53  # seeds stay exact in JSON and JavaScript


@dataclass(frozen=True)
class Sample:
    """Take ``n`` of the free images: at random (seeded) or the first ``n`` in an order."""

    n: int
    mode: str = RANDOM
    seed: int | None = None
    order: str = BY_UPLOAD

    @classmethod
    def parse(cls, value: Sample | Mapping | None) -> Sample | None:
        """A ``Sample`` from a mapping like {"n": 10, "mode": "random", "seed": 7}; a random
        sample without a seed gets a new one (stored on the batch, so it can be repeated)."""
        if value is None or isinstance(value, Sample):
            sample = value
        else:
            unknown = set(value) - {"n", "mode", "seed", "order"}
            if unknown:
                raise InvalidInput(f"A sample has n, mode, seed and order; not {', '.join(sorted(unknown))}.")
            n = params.integer(value, "n", label="The number of images to sample, n,", required=True)
            seed = params.integer(value, "seed", label="The sample's seed")
            sample = cls(n=n, mode=value.get("mode") or RANDOM, seed=seed, order=value.get("order") or BY_UPLOAD)
        if sample is None:
            return None
        if sample.n < 1:
            raise InvalidInput("A sample takes at least 1 image.")
        if sample.n > MAX_BATCH_IMAGES:
            raise InvalidInput(
                f"A sample of {sample.n:,} images is too many: a batch holds at most {MAX_BATCH_IMAGES:,}."
            )
        if sample.mode not in (RANDOM, ORDERED):
            raise InvalidInput("A sample is either random or ordered.")
        if sample.order not in (BY_UPLOAD, BY_FILENAME):
            raise InvalidInput("An ordered sample goes by upload time or by file name.")
        if sample.mode == RANDOM:
            if sample.seed is None:
                sample = replace(sample, seed=new_seed())
            if not 0 <= sample.seed < SEED_LIMIT:
                raise InvalidInput(f"A seed is a whole number from 0 to {SEED_LIMIT - 1:,}.")
        elif sample.seed is not None:
            sample = replace(sample, seed=None)
        return sample

    def ordering(self) -> list:
        if self.mode == RANDOM:
            return [sample_rank(self.seed), "pk"]
        return ["uploaded_at", "pk"] if self.order == BY_UPLOAD else ["original_filename", "pk"]

    def describe(self) -> str:
        if self.mode == RANDOM:
            return f"{self.n:,} at random (seed {self.seed})"
        by = "upload time" if self.order == BY_UPLOAD else "file name"
        return f"the first {self.n:,} by {by}"


def new_seed() -> int:
    return secrets.randbelow(10**9)


# A prime p with p ≡ 2 (mod 3), so x → x³ permutes 0..p-1; below 2³¹ so that
# every product below stays under 2⁶² (exact in SQLite's and PostgreSQL's
# 64-bit integers; SQLite would turn an overflow into a float).
_P = 2_147_483_579


def _seed_constants(seed: int) -> tuple[int, int, int, int]:
    digest = hashlib.blake2b(str(seed).encode(), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4)]
    return 1 + words[0] % (_P - 1), words[1] % _P, 1 + words[2] % (_P - 1), words[3] % _P


def sample_rank(seed: int):
    """A SQL expression ranking images in a pseudo-random order fixed by ``seed``.

    ((a·id + b)³ mod p)·c + d mod p: a permutation of ids (no ties), computed by
    the database in plain integer arithmetic, the same on SQLite and PostgreSQL.
    The rank of an image depends only on its id and the seed, so the same seed
    over the same free images picks the same sample, and an image joining or
    leaving the pool does not reshuffle the others.
    """
    a, b, c, d = _seed_constants(seed)
    x = (F("id") % _P * Value(a) + Value(b)) % _P
    cubed = (x * x) % _P * x % _P
    return (cubed * Value(c) + Value(d)) % _P


@dataclass(frozen=True)
class BatchPreview:
    """What "Add batch" would do, counted before anyone confirms."""

    matching: int  # images selected by the filter or the ids
    in_batches: dict[str, int]  # left out: already in a batch, by that batch's status
    free: int  # not in a batch, so they may join
    would_take: int
    sample: Sample | None = None

    @property
    def left_out(self) -> int:
        return sum(self.in_batches.values())

    @property
    def over_limit(self) -> bool:
        return self.would_take > MAX_BATCH_IMAGES

    def left_out_reason(self) -> str:
        if not self.left_out:
            return ""
        parts = ", ".join(
            f"{n:,} in {STATUS_LABELS[status]}" for status, n in sorted(self.in_batches.items(), key=_column_order)
        )
        noun = "image is" if self.left_out == 1 else "images are"
        return (
            f"{self.left_out:,} {noun} already in a batch ({parts}) and will be left out: "
            "an image is never in two batches."
        )

    def limit_error(self) -> str:
        return (
            f"That would put {self.would_take:,} images in one batch; a batch holds at most "
            f"{MAX_BATCH_IMAGES:,}. Narrow the filter, or sample at most {MAX_BATCH_IMAGES:,} images."
        )

    def to_dict(self) -> dict:
        return {
            "matching": self.matching,
            "left_out": self.left_out,
            "left_out_by_status": dict(self.in_batches),
            "free": self.free,
            "would_take": self.would_take,
            "limit": MAX_BATCH_IMAGES,
            "sample": None if self.sample is None else self.sample.__dict__,
        }


def _column_order(item: tuple[str, int]) -> int:
    return BatchStatus.values.index(item[0])


def selected_images(
    project: Project, *, filters: CatalogFilter | None = None, image_ids: Iterable | None = None
) -> QuerySet:
    """The images a request means: the ones matching ``filters``, or the listed ids (all in the project)."""
    if (filters is None) == (image_ids is None):
        raise InvalidInput("Choose images either by a filter or by a list of ids, not both.")
    if filters is not None:
        if filters.errors:
            raise InvalidInput("Fix the filter first: " + " ".join(filters.errors.values()))
        return filtered_images(project, filters)
    ids = _ids(image_ids)
    images = project_images(project).filter(pk__in=ids)
    found = images.count()
    if found != len(ids):
        raise InvalidInput(f"{len(ids) - found} of the {len(ids)} selected images are not in this project.")
    return images


def _ids(image_ids: Iterable) -> set[int]:
    ids = set(params.idents({"images": image_ids}, "images", label="A selected image"))
    if not ids:
        raise InvalidInput("Select at least one image, or choose “all matching”.")
    return ids


def preview_batch(
    project: Project,
    *,
    filters: CatalogFilter | None = None,
    image_ids: Iterable | None = None,
    sample: Sample | Mapping | None = None,
) -> BatchPreview:
    """Count what a batch from these images would take (nothing is written)."""
    sample = Sample.parse(sample)
    images = selected_images(project, filters=filters, image_ids=image_ids)
    return preview_of(images, sample)


def preview_of(images: QuerySet, sample: Sample | None) -> BatchPreview:
    """The counts for these images (already narrowed to one project): one query grouped by batch,
    one for the statuses of those batches."""
    by_batch = dict(images.order_by().values_list("batch_id").annotate(n=Count("pk")).values_list("batch_id", "n"))
    free = by_batch.pop(None, 0)
    in_batches: dict[str, int] = {}
    if by_batch:
        statuses = dict(Batch.objects.filter(pk__in=list(by_batch)).values_list("pk", "status"))
        for batch_id, n in by_batch.items():
            status = statuses.get(batch_id, BatchStatus.UNASSIGNED)
            in_batches[status] = in_batches.get(status, 0) + n
    would_take = min(sample.n, free) if sample else free
    return BatchPreview(
        matching=free + sum(in_batches.values()),
        in_batches=in_batches,
        free=free,
        would_take=would_take,
        sample=sample,
    )


# --- archived batches --------------------------------------------------------------


# How many images an archive released, from its event (an integer in both databases).
_RELEASED = Cast(KeyTextTransform("images_released", "detail"), models.IntegerField())


def archived_batches(project: Project) -> QuerySet:
    """Archived batches, newest archive first, each with ``archived_at``, ``archived_images_n``
    (how many images left it when it was archived) and ``still_free`` (how many of those are free now)."""
    last_archive = BatchEvent.objects.filter(batch=OuterRef("pk"), kind=EventKind.ARCHIVED).order_by("-at", "-pk")
    return (
        Batch.objects.filter(project=project, status=BatchStatus.ARCHIVED)
        .annotate(
            still_free=Count("archived_images", filter=Q(archived_images__batch__isnull=True)),
            archived_at=models.Subquery(last_archive.values("at")[:1]),
            archived_images_n=models.Subquery(last_archive.values(released=_RELEASED)[:1]),
        )
        .order_by("-archived_at", "-pk")
    )


def restorable(batch: Batch) -> tuple[int, int]:
    """(images it had when archived, how many of them are free now) for one archived batch."""
    free = Image.objects.filter(archived_from=batch, batch__isnull=True).count()
    released = (
        BatchEvent.objects.filter(batch=batch, kind=EventKind.ARCHIVED)
        .order_by("-at", "-pk")
        .values_list(_RELEASED, flat=True)
        .first()
    )
    return (released if released is not None else free), free


def unassigned_batches(project: Project) -> QuerySet:
    """Unassigned batches in board order, with their image counts (the merge page)."""
    return (
        Batch.objects.filter(project=project, status=BatchStatus.UNASSIGNED)
        .annotate(image_count=Count("images"))
        .order_by("priority", "uploaded_at", "pk")
    )
