"""Paths of the workspace catalog's datasets (Batchboard)."""

from __future__ import annotations

from boards.api.openapi.common import READ, WS, answer, errors, list_of, operation, param, ref

PATHS = {
    "/{ws}/datasets": {
        "parameters": WS,
        "get": operation(
            "List datasets (Batchboard)",
            "The datasets of the workspace catalog, by name, each with how many images it holds. The catalog "
            "holds each picture of the workspace once, in one dataset, whatever projects use it. (The path "
            "takes the place of a project's, so a project whose URL name is `datasets` is not reached here.)",
            {"200": answer(list_of("datasets", "Dataset")), **errors(403, 404)},
            scope=READ,
            operationId="listDatasets",
        ),
    },
    "/{ws}/datasets/{dataset_id}": {
        "parameters": [*WS, param("dataset_id")],
        "get": operation(
            "A dataset (Batchboard)",
            "One dataset of the workspace catalog with its image count; a dataset of another workspace is 404.",
            {
                "200": answer({"type": "object", "properties": {"dataset": ref("Dataset")}, "required": ["dataset"]}),
                **errors(403, 404),
            },
            scope=READ,
            operationId="getDataset",
        ),
    },
}
