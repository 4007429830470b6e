"""The workspace catalog as the board and the API read it: its datasets, and which projects share a picture.

Nothing here writes.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import Lower

from boards.models import Batch, Dataset, Image


def api_datasets(workspace_id: int, *, dataset_id: int | None = None) -> list[Dataset]:
    """The workspace's datasets by name, whatever its case (or only the one of ``dataset_id``), each with
    ``n_images``: how many pictures of the workspace catalog it holds. One query."""
    rows = Dataset.objects.filter(workspace_id=workspace_id)
    if dataset_id is not None:
        rows = rows.filter(pk=dataset_id)
    return list(rows.annotate(n_images=Count("assets")).order_by(Lower("name"), "name", "pk"))


def shared_elsewhere(batch: Batch) -> dict[str, int]:
    """The other projects that use pictures of this batch: by project name, how many of them; most first.

    Deleting the batch keeps those pictures (and their files) in the workspace
    for them. Two projects of one name are told apart by their URL names. One query.
    """
    rows = list(
        Image.objects.filter(asset__in=Image.objects.filter(placement__batch=batch).values("asset_id"))
        .exclude(project_id=batch.project_id)
        .values_list("project_id", "project__name", "project__slug")
        .annotate(n=Count("pk"))
        .order_by("-n", "project__name", "project_id")
    )
    twice = {name for name, seen in Counter(name for _pk, name, _slug, _n in rows).items() if seen > 1}
    return {(f"{name} ({slug})" if name in twice else name): n for _pk, name, slug, n in rows}


def kept_on_delete(batch: Batch) -> int:
    """How many of this batch's images stay in the workspace when it is deleted: those another project uses."""
    elsewhere = Image.objects.filter(asset_id=OuterRef("asset_id")).exclude(project_id=batch.project_id)
    return Image.objects.filter(placement__batch=batch).filter(Exists(elsewhere)).count()
