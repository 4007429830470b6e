"""The workspace catalog: every image of a workspace once, by dataset, and where each stands in each project.

A ``WorkspaceFilter`` is carried in the URL like the project catalog's
``CatalogFilter``; every set field narrows ``Asset.objects.filter(workspace=…)``.
The per-project filters ("in project X: not queued / queued / annotated /
approved") read that project's ``Image`` rows, with the project catalog's
``state_q``; "in no project" is an image no project uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from boards.catalog.filters import CatalogFilter, CatalogState, _end_of, _start_of, parse_filters, state_q
from boards.catalog.paging import COUNT_CAP, FEW, count_matching, few_ids, newest_first_page
from boards.catalog.preview import BatchPreview
from boards.catalog.sampling import Sample
from boards.models import Asset, Dataset, Image, Project
from core import params
from core.errors import InvalidInput

NOWHERE = "nowhere"  # the "in no project" choice of the project filter

# What the project filter's state may say about an image in that project.
PROJECT_STATES = {
    "": "In the project",
    CatalogState.FREE: "In the project, not queued",
    CatalogState.QUEUED: "Queued in a batch",
    CatalogState.ANNOTATED: "Annotated",
    CatalogState.APPROVED: "Approved",
    CatalogState.REJECTED: "Rejected",
}
PAGE_SIZE = 60
MAX_ASSET_IDS = 25_000


@dataclass(frozen=True)
class WorkspaceFilter:
    """What the workspace catalog shows; every set field narrows it, combined with AND."""

    file: str = ""  # file name contains (case-insensitive)
    dataset: int | None = None  # in this dataset (by id)
    project: str = ""  # the slug of a project of the workspace, or NOWHERE
    state: str = ""  # with ``project``: a PROJECT_STATES key
    uploaded_from: date | None = None
    uploaded_to: date | None = None
    errors: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_query(cls, data: Mapping) -> WorkspaceFilter:
        """Parse GET or POST parameters; what does not parse is left out and explained in ``errors``."""
        values, errors = parse_filters(data, {"file": "file", "from": "uploaded_from", "to": "uploaded_to"})
        try:
            values["dataset"] = params.ident(data, "dataset", label="The dataset")
        except params.BadParameter as exc:
            errors["dataset"] = exc.message
        try:
            project = params.text(data, "project", label="The project", limit=60).strip()
            state = params.text(data, "state", label="The state", limit=20).strip()
        except params.BadParameter as exc:
            errors["project"] = exc.message
            project = state = ""
        if state and state not in PROJECT_STATES:
            errors["state"] = "Choose a state from the list."
            state = ""
        if state and project in ("", NOWHERE):
            errors["state"] = "Choose a project for the state to apply to."
            state = ""
        values.update(project=project, state=state)
        return cls(**{k: v for k, v in values.items() if v not in (None, "")}, errors=errors)

    def items(self) -> list[tuple[str, str]]:
        """The set filters as (parameter, value) pairs, for links and hidden form fields."""
        pairs = [
            ("file", self.file),
            ("dataset", str(self.dataset) if self.dataset else ""),
            ("project", self.project),
            ("state", self.state),
            ("from", self.uploaded_from.isoformat() if self.uploaded_from else ""),
            ("to", self.uploaded_to.isoformat() if self.uploaded_to else ""),
        ]
        return [(k, v) for k, v in pairs if v]

    @property
    def querystring(self) -> str:
        return urlencode(self.items())

    @property
    def active(self) -> bool:
        return bool(self.items())


def workspace_assets(workspace_id: int, wanted: WorkspaceFilter, *, newest_first: bool = True) -> QuerySet[Asset]:
    """The workspace's assets that the filter picks, newest first. A project that is not the workspace's
    matches nothing (as a filter for a batch of another project does in the project catalog).

    ``newest_first=False``, for a selection read or counted whole: in no order, and "in project X" as
    the list of the project's matching images' assets, which SQLite reads once and looks each asset
    up from. Checked asset by asset (``EXISTS``), as a page newest first wants it, SQLite read every
    older asset's image row to find the 34,077 annotated images of a project of 250,000: 350 ms,
    against 100 ms from the list (PostgreSQL plans both as the same semi-join).
    """
    named = trigram_ids(wanted.file) if by_trigrams(wanted.file) else None
    if named is not None:
        # The few names found drive, each asset read by its id: without statistics (SQLite gathers
        # none unless told) it read the workspace's whole index instead, checking each asset against
        # them (45-60 ms for a rare name among 275,000 assets, against 0.1-2 ms).
        assets = Asset.objects.alias(scan_workspace=F("workspace_id") + 0)
        assets = assets.filter(scan_workspace=workspace_id, pk__one_of=named)
    else:
        assets = Asset.objects.filter(workspace_id=workspace_id)
    if wanted.file:
        assets = assets.filter(original_filename__icontains=wanted.file)
    if wanted.dataset:
        assets = assets.filter(dataset_id=wanted.dataset)
    if wanted.uploaded_from:
        assets = assets.filter(uploaded_at__gte=_start_of(wanted.uploaded_from))
    if wanted.uploaded_to:
        assets = assets.filter(uploaded_at__lt=_end_of(wanted.uploaded_to))
    if wanted.project == NOWHERE:
        assets = assets.exclude(Exists(Image.objects.filter(asset=OuterRef("pk"))))
    elif wanted.project:
        # The project's id looked up first, so that the database plans with it and knows the
        # project's size: "queued in X", X a project of 25,000 of the workspace's 275,000 images,
        # counted in 13-17 ms instead of 45-57 ms (a join on the slug read every project's images).
        project_id = (
            Project.objects.filter(workspace_id=workspace_id, slug=wanted.project).values_list("pk", flat=True).first()
        )
        if project_id is None:
            return Asset.objects.none()
        rows = Image.objects.filter(project_id=project_id)
        if wanted.state:
            rows = rows.filter(state_q(wanted.state))
        in_project = Exists(rows.filter(asset=OuterRef("pk"))) if newest_first else Q(pk__in=rows.values("asset_id"))
        assets = assets.filter(in_project)
    return assets.order_by("-uploaded_at", "-pk") if newest_first else assets.order_by()


def count_assets(workspace_id: int, wanted: WorkspaceFilter, *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many assets the filter picks, and whether that is exact (False: more than ``cap``).

    "In project X" alone, in any state or one, is the project's images in it, one per asset, counted
    as the project catalog counts them (its indexes of states and of free images): as assets, SQLite
    read the project's matching images for a list of their assets and then each asset (queued in a
    project of 250,000: 224 ms)."""
    only_project = wanted.project not in ("", NOWHERE) and not (
        wanted.file or wanted.dataset or wanted.uploaded_from or wanted.uploaded_to
    )
    if only_project:
        project = Project.objects.filter(workspace_id=workspace_id, slug=wanted.project).first()
        return count_matching(project, CatalogFilter(state=wanted.state), cap=cap) if project else (0, True)
    n = workspace_assets(workspace_id, wanted, newest_first=False)[: cap + 1].count()
    return min(n, cap), n <= cap


# SQLite's FTS5 index of the assets' names (migration 0030).
_FOUND_BY_TRIGRAMS = "SELECT rowid FROM boards_asset_name_trigrams WHERE boards_asset_name_trigrams MATCH %s"


def by_trigrams(text: str) -> bool:
    """Whether "file name contains ``text``" first looks the names up in SQLite's trigram index.

    On SQLite ``LIKE '%…%'`` alone reads every name of the workspace (70-90 ms for a rare name among
    275,000 assets); a text of three characters or more is looked up in the trigram index (migration
    0030, ``trigram_ids``). PostgreSQL's ``icontains`` uses its own trigram index (0018) as it is.
    """
    return connection.vendor == "sqlite" and len(text) >= 3


def trigram_ids(text: str) -> list[int] | None:
    """The ids of the assets (of any workspace) whose names SQLite's trigram index finds ``text`` in,
    when there are at most ``FEW``; None when there are more.

    The filter then reads those assets by id and checks each with the ``LIKE`` as before: the
    index folds case as Unicode does and ``LIKE`` as ASCII does, so it finds all that ``LIKE``
    matches and perhaps more, which ``LIKE`` leaves out, and the answer is the same. A name in more
    assets is filtered as before: a page newest first finds such a name soon in upload order, where
    checking tens of thousands of names found against the other filters took longer (a common
    name with a dataset, a project and a state: 156 against 45 ms).
    """
    with connection.cursor() as cursor:
        cursor.execute(_FOUND_BY_TRIGRAMS + " LIMIT %s", [_phrase(text), FEW + 1])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= FEW else None


def _phrase(text: str) -> str:
    """``text`` as one FTS5 string: in double quotes, its own doubled."""
    return '"' + text.replace('"', '""') + '"'


def selected_assets(workspace_id: int, *, filters: WorkspaceFilter | None = None, asset_ids: Iterable | None = None):
    """The assets a request picked: by filter ("select all matching") or by ids, never both."""
    if (filters is None) == (asset_ids is None):
        raise InvalidInput("Choose images either by filter or by id.")
    if filters is not None:
        return workspace_assets(workspace_id, filters, newest_first=False)
    ids = asset_id_set(asset_ids)
    return Asset.objects.filter(workspace_id=workspace_id, pk__one_of=ids)


def missing_ids(assets: QuerySet[Asset], asset_ids: Iterable) -> list[int]:
    """The ids a selection by id (``selected_assets``) asked for that its workspace's catalog does not
    hold, in order: one count when none is missing, the ids read only when some are."""
    wanted = asset_id_set(asset_ids)
    if assets.count() == len(wanted):
        return []
    return sorted(wanted - set(assets.values_list("pk", flat=True)))


class AssetIds(frozenset):
    """The ids of a selection, checked (``asset_id_set``): passed on, they are not checked again."""


FIXED_IDS = 100_000
"""A selection by filter of at most this many assets is read as its ids, once (``selection``)."""


class Selection(NamedTuple):
    """A request's selection (``selection``): its assets, their ids (None: a filter past ``FIXED_IDS``)
    and how many they are when that is known without counting (a filter read as its ids)."""

    assets: QuerySet[Asset]
    ids: AssetIds | None
    matching: int | None


def selection(
    workspace_id: int, *, filters: WorkspaceFilter | None = None, asset_ids: Iterable | None = None
) -> Selection:
    """The assets a request picked (``selected_assets``) and their ids: as asked, checked once (and
    still to be counted, for those not in the catalog); or a filter's, read once, when it picks at
    most ``FIXED_IDS`` (else the filter as it is).

    Counted, previewed and sampled as a filter, a selection ran its filter three times (on SQLite
    some 150 ms each for "annotated in project X"); as its ids, once, then a probe an id. Read once,
    it is also fixed: a filter may name the project the images are about to join. Past the cap the
    read is lost (a scan of 100,001 ids more); such a selection only makes a batch by a sample."""
    if asset_ids is not None:
        ids = asset_id_set(asset_ids)
        return Selection(selected_assets(workspace_id, asset_ids=ids), ids, None)
    assets = selected_assets(workspace_id, filters=filters)
    found = list(assets.order_by().values_list("pk", flat=True)[: FIXED_IDS + 1])
    if len(found) > FIXED_IDS:
        return Selection(assets, None, None)
    ids = AssetIds(found)
    return Selection(Asset.objects.filter(workspace_id=workspace_id, pk__one_of=ids), ids, len(ids))


def asset_id_set(asset_ids: Iterable) -> AssetIds:
    """The distinct ids of a selection by id, each checked; read once, so an iterator will do, and
    returned as they are when they were checked already (25,000 ids take some 18 ms to check)."""
    if isinstance(asset_ids, AssetIds):
        return asset_ids
    if isinstance(asset_ids, str | bytes) or not isinstance(asset_ids, Iterable):
        raise InvalidInput("Send the images as a list of ids.")
    ids = set()
    for value in asset_ids:
        ids.add(params.ident_value(value, label="An image id"))
        if len(ids) > MAX_ASSET_IDS:
            raise InvalidInput(f"Select at most {MAX_ASSET_IDS:,} images by id, or select all matching the filter.")
    if not ids:
        raise InvalidInput("Select at least one image.")
    return AssetIds(ids)


def images_in_project(project: Project, assets: QuerySet[Asset], *, asset_ids: AssetIds | None = None):
    """The project's images of these assets; by ``asset_ids`` when ``assets`` was selected by them (one
    probe of the (asset, project) index each, not a join with every image of the project)."""
    if asset_ids is not None:
        return Image.objects.filter(project=project, asset_id__one_of=asset_ids)  # its assets are its workspace's
    return Image.objects.filter(project=project, asset__in=assets.values("pk"))


def preview_for_project(
    assets: QuerySet[Asset],
    project: Project,
    sample: Sample | None,
    *,
    matching: int | None = None,
    asset_ids: AssetIds | None = None,
) -> BatchPreview:
    """What "Add batch to project" would take: the selected images, those already in a batch of *that*
    project (left out, by column), and the rest (in the project but free, or not in it yet).
    ``matching``: how many ``assets`` holds, when the caller counted them already. ``asset_ids``: the
    ids ``assets`` was selected by, if it was: the project's images are then looked up by them, one
    probe of the (asset, project) index each, not joined with every image of the project."""
    if matching is None:
        matching = assets.count()
    in_batches = dict(
        images_in_project(project, assets, asset_ids=asset_ids)
        .filter(placement__isnull=False)
        .order_by()
        .values("placement__batch__status")
        .annotate(n=Count("pk"))
        .values_list("placement__batch__status", "n")
    )
    free = matching - sum(in_batches.values())
    would_take = min(free, sample.n) if sample is not None else free
    return BatchPreview(matching=matching, in_batches=in_batches, free=free, would_take=would_take, sample=sample)


def asset_page(
    workspace_id: int, wanted: WorkspaceFilter, *, before: int | None = None, after: int | None = None
) -> dict:
    """One page of the workspace catalog, newest first, by keyset from the image ``before`` (going
    older) or ``after`` (going newer): the assets with the projects each is in, and the ids to page
    on from (``newer``, ``older``; None when there is nothing that way), and ``count``: how many
    match, when a file name filter found at most ``FEW`` (else None).

    On SQLite a file name filter reads its matching ids first, up to ``FEW + 1``, from the names'
    trigram index (``by_trigrams``; a name of one or two characters from their own index, 0028);
    when that is all of them the page is chosen among those ids. In
    upload order, a rare name was a walk through every asset of the workspace, each looked up in the
    table: 210–300 ms for 275,000 assets, against 57–86 ms. PostgreSQL reads names from its trigram
    index in either order, and there the extra read only cost time (a common name 39–55 against
    56–78 ms), so it pages as before.
    """
    assets, count = workspace_assets(workspace_id, wanted), None
    if (
        wanted.file
        and connection.vendor == "sqlite"
        and (ids := few_ids(assets.values_list("pk", flat=True))) is not None
    ):
        assets, count = Asset.objects.filter(pk__one_of=ids), len(ids)
    rows, newer, older = newest_first_page(
        assets,
        Asset.objects.filter(workspace_id=workspace_id),
        shown=Asset.objects.select_related("dataset").only(
            "pk", "original_filename", "width", "height", "uploaded_at", "dataset__name"
        ),
        before=before,
        after=after,
        size=PAGE_SIZE,
    )
    used: dict[int, list[str]] = {}
    for asset_id, name in (
        Image.objects.filter(asset_id__in=[a.pk for a in rows])
        .order_by("project__name")
        .values_list("asset_id", "project__name")
    ):
        used.setdefault(asset_id, []).append(name)
    for asset in rows:
        asset.projects = used.get(asset.pk, [])
    return {"assets": rows, "newer": newer, "older": older, "count": count}


def datasets_of(workspace_id: int) -> list[Dataset]:
    """The workspace's datasets, by name. Not counted: that would read every asset on every page; a
    dataset's link shows how many match, and the API's dataset list counts them."""
    return list(Dataset.objects.filter(workspace_id=workspace_id).order_by("name"))


def projects_of(workspace_id: int) -> list[Project]:
    return list(Project.objects.filter(workspace_id=workspace_id).order_by("name"))


def in_project_q(project: Project) -> Q:
    """Assets the project uses."""
    return Q(Exists(Image.objects.filter(asset=OuterRef("pk"), project=project)))
