"""Endpoints for the workspace catalog's datasets: the list, and one dataset."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from boards import selectors
from boards.api.auth import READ, Caller, api
from boards.api.shapes import dataset_dict
from core.errors import NotFound


@api({"GET": READ})
def datasets(request: HttpRequest, caller: Caller) -> JsonResponse:
    rows = selectors.api_datasets(caller.workspace.pk)
    return JsonResponse({"datasets": [dataset_dict(row) for row in rows]})


@api({"GET": READ})
def dataset(request: HttpRequest, caller: Caller, dataset_id: int) -> JsonResponse:
    rows = selectors.api_datasets(caller.workspace.pk, dataset_id=dataset_id)
    if not rows:
        raise NotFound(f"There is no dataset {dataset_id} in workspace “{caller.workspace.slug}”.")
    return JsonResponse({"dataset": dataset_dict(rows[0])})
