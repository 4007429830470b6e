"""The catalog's grid: keyset paging, newest upload first, and counting the matches."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from boards.catalog.filters import CatalogFilter, CatalogState, project_images, state_of
from boards.models import Image, Project

PAGE_SIZE = 60
COUNT_CAP = 10_000
"""Past this many matches the page says "more than 10,000" instead of counting all.

The exact number is counted when it matters: in the "Add batch" preview.
"""


@dataclass
class CatalogPage:
    """One page of the grid, newest upload first.

    Paged by keyset on (uploaded_at, id) rather than by offset, so page 4,000
    costs what page 1 costs; ``newer`` and ``older`` are the ids to page from.
    ``count`` is the number of matches when the page knows it: they were few
    enough to read by id first (at most ``FEW``), or the page holds them all;
    otherwise it is None, and ``count_matching`` counts them on its own.
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
    "placement__batch__name",
    "placement__batch__status",
    "placement__batch__project_id",
)
FEW = 2_000
"""Up to this many matches are read by id; more are read in upload order, stopping at a page."""
PLANNED_FEW = 1_000
"""On PostgreSQL, up to this many (or ``FEW``, when fewer): see ``catalog_page``."""


def catalog_page(
    project: Project,
    filters: CatalogFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int | None = None,
) -> CatalogPage:
    """The images after image ``before`` (going older) or before image ``after`` (going newer).

    A few queries: the images of the filter's tag or class when they are few
    (``CatalogFilter.listed``), up to ``FEW + 1`` matching ids (in whatever
    order the database finds them fastest), the cursor's image, and the page.
    A filter with few matches reads the page by those ids; one with more
    among a tag's or class's few thousand images sorts those; one with many
    reads images in upload order and stops after a page, which is quick
    precisely because matches are many.

    PostgreSQL reads at most ``PLANNED_FEW + 1`` ids: it plans the page in upload order with its
    statistics, reading a filter's matches first when they are few, so the ids need to catch only a
    filter so rare that a walk would be long, or that matches nothing where the statistics expect
    much (a tag with sizes none of its images has: 54 ms a page without the ids first, 11 ms with
    them). Reading 2,001 of them only to learn that they were many was most of such a page's work:
    every filter at once (2,375 matches) spent 24 ms of its 29 ms of SQL there; 1,001 took 17 ms,
    and 10 ms since ``matching_ids`` starts from the tag. Fewer would save more there, but a filter
    just past them walks far: at 500, "tag + file" with 533 matches read 31,000 images newest first
    (69 ms a page, 52 ms at 1,000). SQLite plans without statistics; its walk is steered to the
    upload order (``CatalogFilter.images``), where an old batch's images would be far, so it reads
    up to ``FEW``.
    A page that holds every match counts them; otherwise ``count_matching`` does, on its own.
    """
    size = size or PAGE_SIZE
    listed = filters.listed(project)
    ids = few_ids(filters.matching_ids(project, listed=listed))
    if ids == []:
        return CatalogPage(images=[], newer=None, older=None, count=0)
    keys = ("uploaded_at", "pk")
    if ids is not None:
        images = Image.objects.filter(pk__one_of=ids)  # one parameter, not one per id
    elif listed is not None:  # many matches among a tag's or class's few thousand images: the list drives
        images = filters.images(project, listed=listed)
    else:
        images, keys = filters.images(project, in_upload_order=True), filters.keys
    shown = Image.objects.select_related("placement__batch").only(*GRID_FIELDS)
    rows, newer, older = newest_first_page(
        images, project_images(project), shown=shown, before=before, after=after, size=size, keys=keys
    )
    for image in rows:
        image.catalog_state = state_of(image)
        image.catalog_state_label = CatalogState(image.catalog_state).label
    if ids is not None:
        count = len(ids)
    else:
        every_match = before is None and after is None and older is None
        count = len(rows) if every_match else None
    return CatalogPage(images=rows, newer=newer, older=older, count=count)


def few_ids(ids: QuerySet) -> list[int] | None:
    """The ``ids`` (a flat ``values_list``) when at most ``FEW`` match (``PLANNED_FEW`` on PostgreSQL,
    when fewer; read in whatever order the database finds them fastest, stopping at one more); None
    when more do. A page then chooses among those ids."""
    few = min(FEW, PLANNED_FEW) if connection.vendor == "postgresql" else FEW
    ids = list(ids.order_by()[: few + 1])
    return ids if len(ids) <= few else None


def newest_first_page(
    rows: QuerySet,
    every: QuerySet,
    *,
    shown: QuerySet,
    before: int | None,
    after: int | None,
    size: int,
    keys: tuple[str, str] = ("uploaded_at", "pk"),
) -> tuple[list, int | None, int | None]:
    """A page of ``rows``, newest upload first, by keyset on (uploaded_at, id): the rows after row
    ``before`` (going older) or before row ``after`` (going newer), so page 4,000 costs what page 1
    costs. The cursor row is looked up in ``every`` (it need not match the filter any more; an id
    that is not there pages from the start). The page's rows are chosen in ``rows`` and read, with
    their columns and joins, from ``shown``. Returns (rows, id to page newer from, id to page older
    from); an id is None when there is nothing that way. ``keys``: the names in ``rows`` of the
    upload time and the id, when another table's copies of them give the order (free images)."""
    anchor_id = after if after is not None else before
    anchor = every.filter(pk=anchor_id).values_list("uploaded_at", "pk").first() if anchor_id is not None else None
    time, ident = keys
    if anchor is not None and after is not None:
        at, pk = anchor
        newer = rows.filter(**{f"{time}__gte": at}).filter(Q(**{f"{time}__gt": at}) | Q(**{f"{ident}__gt": pk}))
        page = _first(newer, keys, size + 1, shown)
        more_newer, more_older = len(page) > size, True
        page = page[:size][::-1]
    else:
        if anchor is not None:
            at, pk = anchor
            rows = rows.filter(**{f"{time}__lte": at}).filter(Q(**{f"{time}__lt": at}) | Q(**{f"{ident}__lt": pk}))
        page = _first(rows, (f"-{time}", f"-{ident}"), size + 1, shown)
        more_newer, more_older = anchor is not None, len(page) > size
        page = page[:size]
    return page, page[0].pk if page and more_newer else None, page[-1].pk if page and more_older else None


def _first(rows: QuerySet, order: tuple[str, ...], n: int, shown: QuerySet) -> list:
    """The first ``n`` of ``rows`` in ``order`` (of ``keys``, newest or oldest first), read from
    ``shown`` (images, in the same order by their own columns) once chosen: one statement, the
    choice a subquery. Joined before the limit, PostgreSQL may join every match to the shown
    columns' tables (for a batch of 1,000: a hash join over every placement, 28 of 30 ms) to keep 61."""
    chosen = rows.order_by(*order).values("pk")[:n]
    descending = order[0].startswith("-")
    return list(
        shown.filter(pk__in=chosen).order_by(*(("-uploaded_at", "-pk") if descending else ("uploaded_at", "pk")))
    )


def count_matching(project: Project, filters: CatalogFilter, *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many images match, and whether that is exact (False: more than ``cap``)."""
    n = filters.matching_ids(project, listed=filters.listed(project)).order_by()[: cap + 1].count()
    return min(n, cap), n <= cap
