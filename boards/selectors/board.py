"""The board: its columns, filter, pages of cards (``selectors.cards``) and version. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connections
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import Http404

from accounts.models import User
from boards.models import (
    Batch,
    BatchStatus,
    Job,
    JobState,
    Project,
)
from boards.selectors.cards import Card, cards_of

BOARD_COLUMNS = [
    (BatchStatus.UNASSIGNED, "Unassigned", "New uploads and split-off images wait here for a labeler."),
    (BatchStatus.ANNOTATING, "Annotating", "Batches assigned to a labeler appear here."),
    (BatchStatus.REVIEW, "Review", "Submitted batches wait here for a reviewer."),
    (BatchStatus.DATASET, "Dataset", "Approved images end up here, ready to export."),
]


def member_projects(user: User):
    """Every project in the user's workspaces, with per-column batch counts."""
    return (
        Project.objects.filter(workspace__memberships__user=user)
        .select_related("workspace")
        .annotate(
            **{
                f"n_{status}": Count("batches", filter=Q(batches__status=status))
                for status, _label, _hint in BOARD_COLUMNS
            }
        )
        .order_by("workspace__name", "name")
    )


COLUMN_PAGE = 50
ASSIGN_GRID_LIMIT = 500  # thumbnails in the assign dialog; "first N" covers any size
OPEN_JOB_STATES = [JobState.ANNOTATING, JobState.IN_REVIEW, JobState.COMPLETE]


@dataclass(frozen=True)
class BoardFilter:
    """The board's filter box: batch name and labeler (email or name)."""

    q: str = ""
    labeler: str = ""

    @classmethod
    def from_query(cls, params) -> BoardFilter:
        from core.params import text

        return cls(
            q=text(params, "q", label="The search", limit=1000)[:100],
            labeler=text(params, "labeler", label="The labeler searched for", limit=1000)[:100],
        )

    def __bool__(self) -> bool:
        return bool(self.q or self.labeler)

    def apply(self, batches):
        if self.q:
            batches = batches.filter(name__icontains=self.q)
        if self.labeler:
            batches = batches.filter(
                Exists(
                    Job.objects.filter(batch=OuterRef("pk"))
                    .exclude(state=JobState.CANCELLED)
                    .filter(Q(labeler__email__icontains=self.labeler) | Q(labeler__full_name__icontains=self.labeler))
                )
            )
        return batches

    def as_query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in (("q", self.q), ("labeler", self.labeler)) if v})


@dataclass
class Column:
    status: str
    label: str
    hint: str
    batches: list
    total: int
    offset: int = 0
    html: str = ""  # its cards, rendered (by ``boards.views.board_render``)

    @property
    def count(self) -> int:
        return self.total

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.batches) < self.total

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.batches)


def shows_review(user: User, project: Project) -> bool:
    return project.review_mode and user.has_perm("boards.review_batch", project)


def visible_statuses(user: User, project: Project) -> list[str]:
    review = shows_review(user, project)
    return [status for status, _l, _h in BOARD_COLUMNS if status != BatchStatus.REVIEW or review]


def _board_batches(project: Project, board_filter: BoardFilter):
    return board_filter.apply(Batch.objects.filter(project=project))


def _totals(batches) -> dict[str, int]:
    return dict(batches.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))


@dataclass(frozen=True)
class CardRef:
    """A card on the board before it is loaded: which batch, and which version of it."""

    pk: int
    updated_at: datetime
    uploaded_at: datetime


def board_columns(user: User, project: Project, board_filter: BoardFilter | None = None) -> list[Column]:
    """The board: each visible column's first page of cards (as ``CardRef``) and its total.

    Two small queries whatever the number of batches and images: the totals,
    then every column's first page (each an index range scan on project,
    status, priority, age, sent as one statement). ``cards_of`` loads the
    batches whose cards are not at hand.
    """
    board_filter = board_filter or BoardFilter()
    statuses = visible_statuses(user, project)
    base = _board_batches(project, board_filter)
    totals = _totals(base.filter(status__in=statuses))
    pages = [
        base.filter(status=status).order_by(*CARD_ORDER)[:COLUMN_PAGE] for status in statuses if totals.get(status)
    ]
    refs: dict[str, list[CardRef]] = {status: [] for status in statuses}
    for pk, status, _priority, updated_at, uploaded_at in _first_pages(pages):
        refs[status].append(CardRef(pk, updated_at, uploaded_at))
    labels = {status: (label, hint) for status, label, hint in BOARD_COLUMNS}
    return [Column(status, *labels[status], refs[status], totals.get(status, 0)) for status in statuses]


CARD_ORDER = ("priority", "uploaded_at", "pk")
_PAGE_FIELDS = ("id", "status", "priority", "updated_at", "uploaded_at")


def _first_pages(pages) -> list[tuple]:
    """The rows (``_PAGE_FIELDS``) of these sliced querysets in one round trip, each page in its order.

    ``UNION ALL`` of the pages as derived tables: SQLite refuses a LIMIT in a
    compound statement's own members, and neither database promises the
    members' order, so the rows are sorted again here (two hundred at most).
    Values are converted as the ORM would (dates on SQLite are text).
    """
    if not pages:
        return []
    parts, params = [], []
    for n, page in enumerate(pages):
        compiler = page.values_list(*_PAGE_FIELDS).query.get_compiler(page.db)
        sql, page_params = compiler.as_sql()
        parts.append(f"SELECT * FROM ({sql}) AS page{n}")  # noqa: S608 - SQL compiled by Django, values as params
        params.extend(page_params)
    with connections[pages[0].db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    # Every page selects the same columns: the last compiler's converters serve them all.
    converters = compiler.get_converters([col for col, _sql, _alias in compiler.select])
    rows = list(compiler.apply_converters(rows, converters)) if converters else rows
    return sorted(rows, key=lambda row: (row[1], row[2], row[4], row[0]))


def column_counts(user: User, project: Project) -> list[Column]:
    """Each visible column's total, without its cards (one query)."""
    statuses = visible_statuses(user, project)
    totals = _totals(Batch.objects.filter(project=project, status__in=statuses))
    labels = {status: (label, hint) for status, label, hint in BOARD_COLUMNS}
    return [Column(s, *labels[s], [], totals.get(s, 0)) for s in statuses]


def card_after(project: Project, batch: Batch | Card) -> int | None:
    """The id of the card that follows this one in its column, if any."""
    later = Q(priority__gt=batch.priority) | Q(priority=batch.priority, uploaded_at__gt=batch.uploaded_at)
    later |= Q(priority=batch.priority, uploaded_at=batch.uploaded_at, pk__gt=batch.pk)
    return (
        Batch.objects.filter(project=project, status=batch.status)
        .filter(later)
        .order_by("priority", "uploaded_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def column_page(
    user: User, project: Project, status: str, *, offset: int, board_filter: BoardFilter | None = None
) -> Column:
    """One more page of a column, for "show more"."""
    if status not in visible_statuses(user, project):
        raise Http404("No such column.")
    board_filter = board_filter or BoardFilter()
    base = _board_batches(project, board_filter).filter(status=status)
    total = base.count()
    page = base.order_by("priority", "uploaded_at", "pk").values_list("pk", flat=True)
    ids = list(page[offset : offset + COLUMN_PAGE])
    labels = {s: (label, hint) for s, label, hint in BOARD_COLUMNS}
    return Column(status, *labels[status], cards_of(project, ids), total, offset)


def board_version(project: Project) -> str:
    """Changes whenever anything a board shows changes; one aggregate query."""
    row = Batch.objects.filter(project=project).aggregate(n=Count("pk"), last=Max("updated_at"))
    last = row["last"].timestamp() if row["last"] else 0
    return f"{row['n']}-{last:.6f}"
