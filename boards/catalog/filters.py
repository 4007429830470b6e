"""The image catalog's filters: ``CatalogFilter``, carried in the URL, and where an image stands.

A filter is a ``CatalogFilter``, parsed from GET (or POSTed) parameters, so a
filtered view is a URL that can be bookmarked and shared. Every filter narrows
``Image.objects.filter(project=...)``; they combine with AND.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db import connection, models
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchStatus,
    FreeImage,
    Image,
    LabelClass,
    Placement,
    Project,
    ReviewState,
    Tag,
)
from core import params


class CatalogState(models.TextChoices):
    """Where an image stands, as the catalog filters it. Every image is in exactly one."""

    FREE = "free", "Not in a batch"
    QUEUED = "queued", "Queued in a batch"
    ANNOTATED = "annotated", "Annotated"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


def state_q(state: str) -> Q:
    """The images in ``state``. A free image has a ``FreeImage`` row, one in a batch a ``Placement``:
    the catalog pages free images from their own table (``CatalogFilter.images`` and ``keys``).

    On PostgreSQL "in a batch" is "without a free row" (every image has one or the other): it then
    looks each candidate up in the free rows' primary key, where for the join to the placements it
    hashed all of them (150,000 for a probe of 2,001 matches: 93 of its 157 ms). SQLite probes either
    table by its key, and the join was the faster there (measured: 31 against 40 ms a page)."""
    if connection.vendor == "postgresql":
        in_batch = ~Exists(FreeImage.objects.filter(image_id=OuterRef("pk")))
    else:
        in_batch = Q(placement__isnull=False)
    return {
        CatalogState.FREE: Q(free__isnull=False),
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
    if not image.in_batch:
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
    # The tag's and class's ids by project, looked up once however many queries a page builds.
    _named_ids: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def from_query(cls, data: Mapping) -> CatalogFilter:
        """Parse GET or POST parameters. A value that does not parse is left out and
        explained in ``errors`` (keyed by parameter), never guessed at."""
        values, errors = parse_filters(data, PARAMS)
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

    def images(
        self,
        project: Project,
        *,
        in_upload_order: bool = False,
        listed: Sequence[int] | None = None,
        tagged: bool = True,
    ) -> QuerySet:
        """The images of ``project`` that pass every set field.

        Tags and classes are matched by id, looked up first (one small query
        each; a name the project does not have matches nothing), so that the
        database plans with the real id and knows how many images it has. By
        default they become one list of image ids (with both, the tag's images
        that also have the class); ``listed`` is that list read beforehand
        (``listed()``), sent as one array whose length the database plans by;
        ``in_upload_order``, meant for a filter known to match many images and
        read newest first until a page is full, a lookup per image read
        (``EXISTS``).

        On SQLite, which plans without statistics, some terms are also written
        so that no index can serve them (``project_id + 0``, ``width + 0``),
        leaving the one plan that is fast for the case: with a list, the list
        drives (instead of a scan of a large index range that looks each image
        up in the list); in upload order, the order's index drives (instead of
        gathering tens of thousands of rows by size and sorting them).
        PostgreSQL keeps statistics and plans better left alone.

        ``tagged=False`` leaves the tag and the class out (``matching_ids`` starts from both).
        """
        through = Image.tags.through
        if listed is not None or not tagged:
            tag_id = label_id = None
        else:
            named = self._named(project)
            if named is None:
                return Image.objects.none()
            tag_id, label_id = named
        by_list = (listed is not None or tag_id is not None or label_id is not None) and not in_upload_order
        steer = (by_list or in_upload_order) and connection.vendor == "sqlite"
        free = self.free_only
        images = Image.objects.alias(
            scan_project=F("project_id") + 0, scan_width=F("width") + 0, scan_height=F("height") + 0
        )
        if listed is not None:
            images = images.filter(pk__one_of=listed)
        elif by_list:
            images = images.filter(pk__in=_tagged(tag_id, label_id))
        if free:
            # Free images from their own rows, whose one index holds the project, the upload time and
            # the sizes: the project, the dates and the sizes are filtered there (and ``keys`` orders there).
            images = images.filter(free__project=project.pk)
        else:
            images = images.filter(**{"scan_project" if steer and by_list else "project": project.pk})
        if in_upload_order:
            if tag_id is not None:
                images = images.filter(Exists(through.objects.filter(image_id=OuterRef("pk"), tag_id=tag_id)))
            if label_id is not None:
                images = images.filter(Exists(Annotation.objects.filter(image_id=OuterRef("pk"), label_id=label_id)))
        width = "free__width" if free else "scan_width" if steer else "width"
        height = "free__height" if free else "scan_height" if steer else "height"
        uploaded_at = self.keys[0]
        if self.file:
            images = images.filter(original_filename__icontains=self.file)
        if self.state and not free:
            images = images.filter(state_q(self.state))
        if self.batch is not None:
            # The batch's images by primary key, from the list of its placements (an array on
            # PostgreSQL): joined to the placements, the page read the project newest first to find them.
            images = images.filter(pk__one_of=Placement.objects.filter(batch_id=self.batch).values("image_id"))
        if self.uploaded_from:
            images = images.filter(**{f"{uploaded_at}__gte": _start_of(self.uploaded_from)})
        if self.uploaded_to:
            images = images.filter(**{f"{uploaded_at}__lt": _end_of(self.uploaded_to)})
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

    def matching_ids(self, project: Project, *, listed: Sequence[int] | None = None) -> QuerySet:
        """The ids of the images of ``project`` that pass every set field (``images``), in whatever
        order the database finds them fastest: what a page reads up to a few of, and a count counts.

        On PostgreSQL a filter with a tag and a class starts from the tag's links to its images, each
        image once (the pair is unique), looks each link's image up among the class's boxes, and
        then reads the image rows: the two indexes are walked side by side in image order and the
        reading stops at the first ids wanted. As ``images`` writes it, the tag's and the class's
        images were intersected whole (every box of the class made unique) before the first image
        was read: every filter at once read its first 1,001 ids in 17.4 ms that way, 9.5 ms this way.
        """
        named = self._named(project) if listed is None and connection.vendor == "postgresql" else None
        if named is not None and None not in named:
            tag_id, label_id = named
            boxed = Annotation.objects.filter(label_id=label_id, image_id=OuterRef("image_id"))
            links = Image.tags.through.objects.filter(Exists(boxed), tag_id=tag_id)
            rest = self.images(project, tagged=False).values("pk")
            return links.filter(image_id__in=rest).values_list("image_id", flat=True)
        return self.images(project, listed=listed).values_list("pk", flat=True)

    @property
    def free_only(self) -> bool:
        """Whether the filter selects free images only ("not in a batch"): ``images()`` reads them from
        their free rows, and a batch preview counts those rows alone."""
        return self.state == CatalogState.FREE

    @property
    def keys(self) -> tuple[str, str]:
        """The columns ``images()`` is paged by, newest first (``paging.newest_first_page``): the image's
        upload time and id, or, for free images, their free rows' copies, so that the free rows' index
        gives the order."""
        return ("free__uploaded_at", "free__image_id") if self.free_only else ("uploaded_at", "pk")

    def listed(self, project: Project) -> list[int] | None:
        """The ids of the images with the filter's tag and class (both, when it names both), when it
        sets nothing else and there are at most ``LIST_MAX``; otherwise None.

        Such a list goes to ``images(listed=...)``: the database then reads those
        images (or walks the upload-order index checking each against the
        array), where a subquery of unknown size had it scan the whole project
        to meet it (a class on 1 % of 250,000 images: 70 ms for a page, 29 ms
        with the list). With other fields set, the subquery did as well or
        better, so it stays.
        """
        fields = {param for param, _value in self.items()}
        if not fields or not fields <= {"tag", "class"}:
            return None
        named = self._named(project)
        if named is None:
            return []
        candidates = _tagged(*named).order_by()
        if candidates[: LIST_MAX + 1].count() > LIST_MAX:  # counted in the index, not read
            return None
        return sorted(set(candidates.values_list("image_id", flat=True)))

    def _named(self, project: Project) -> tuple[int | None, int | None] | None:
        """The ids of the tag and class the filter names (None for one it does not name); None when the
        project has no tag or class of that name, so that nothing matches."""
        if project.pk not in self._named_ids:
            self._named_ids[project.pk] = self._look_up_named(project)
        return self._named_ids[project.pk]

    def _look_up_named(self, project: Project) -> tuple[int | None, int | None] | None:
        tag_id = label_id = None
        if self.tag:
            tag_id = (
                Tag.objects.filter(project=project, name=self.tag).order_by("pk").values_list("pk", flat=True).first()
            )
            if tag_id is None:
                return None
        if self.label:
            label_id = (
                LabelClass.objects.filter(project=project, name=self.label)
                .order_by("pk")
                .values_list("pk", flat=True)
                .first()
            )
            if label_id is None:
                return None
        return tag_id, label_id


LIST_MAX = 10_000
"""A tag's or class's images are read into a list (``CatalogFilter.listed``) up to this many."""


def _tagged(tag_id: int | None, label_id: int | None) -> QuerySet:
    """The ids of the images with the tag and the class (an id may repeat: an image has several boxes)."""
    ids = Image.tags.through.objects.filter(tag_id=tag_id).values("image_id") if tag_id is not None else None
    if label_id is not None:
        boxed = Annotation.objects.filter(label_id=label_id)
        ids = (boxed.filter(image_id__in=ids) if ids is not None else boxed).values("image_id")
    return ids


def parse_filters(data: Mapping, names: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    """The filters ``names`` maps (URL parameter → field) read from ``data``: (values, errors). An empty
    parameter is no filter; one that does not parse is left out and explained in ``errors`` (keyed by
    parameter); an end date before the start date is dropped with its reason. Both catalogs read theirs so."""
    values: dict = {}
    errors: dict[str, str] = {}
    for param, name in names.items():
        raw = data.get(param)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            values[name] = _parse(name, param, raw)
        except params.BadParameter as exc:
            errors[param] = exc.message
    if values.get("uploaded_from") and values.get("uploaded_to") and values["uploaded_from"] > values["uploaded_to"]:
        errors["to"] = "The end date is before the start date."
        del values["uploaded_to"]
    return values, errors


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


_FIRST_DAY, _LAST_DAY = date(1, 1, 2), date(9999, 12, 30)


def _start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the site's time zone. A day at either end of the calendar
    counts as the day next to it (no upload is that old or that new), so that the time, in UTC or
    in any zone, is one a datetime can hold."""
    return timezone.make_aware(datetime.combine(min(max(day, _FIRST_DAY), _LAST_DAY), time.min))


def _end_of(day: date) -> datetime:
    """Midnight at the end of ``day`` (the start of the next): a filter "to" that day takes the
    uploads before it. The calendar's last days end where ``_start_of`` puts its last one."""
    return _start_of(min(day, _LAST_DAY) + timedelta(days=1))


def project_images(project: Project) -> QuerySet:
    return Image.objects.filter(project=project)


def filtered_images(project: Project, filters: CatalogFilter) -> QuerySet:
    return filters.images(project)


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
