"""Paths of the key check, workspaces, projects, batches (with their moves) and annotation jobs."""

from __future__ import annotations

from boards.api.openapi.common import (
    ANNOTATE,
    BATCH_STATUSES,
    MANAGE,
    PROJ,
    READ,
    WS,
    answer,
    errors,
    json_request,
    list_of,
    operation,
    param,
    ref,
)
from boards.models import MAX_BATCH_IMAGES

_ROOT_ANSWER = answer(
    {
        "type": "object",
        "properties": {
            "welcome": {"type": "string"},
            "instructions": {"type": "string"},
            "docs": {"type": "string"},
            "workspace": {"type": "string", "description": "The key's workspace."},
        },
        "required": ["workspace"],
    }
)

PATHS = {
    "/": {
        "get": operation(
            "Check a key",
            "Answers with the workspace the key belongs to. The roboflow client calls this (as POST) first.",
            {"200": _ROOT_ANSWER, **errors()},
            scope=None,
            operationId="root",
        ),
        "post": operation(
            "Check a key (POST)",
            "The same as GET.",
            {"200": _ROOT_ANSWER, **errors()},
            scope=None,
            operationId="rootPost",
        ),
    },
    "/{ws}": {
        "parameters": WS,
        "get": operation(
            "Workspace and its projects",
            "The workspace, its member count and every project in it.",
            {
                "200": answer(
                    {
                        "type": "object",
                        "properties": {
                            "workspace": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "url": {"type": "string"},
                                    "members": {"type": "integer"},
                                    "projects": {"type": "array", "items": ref("Project")},
                                },
                                "required": ["name", "url", "projects"],
                            }
                        },
                        "required": ["workspace"],
                    }
                ),
                **errors(403, 404),
            },
            scope=READ,
            operationId="getWorkspace",
        ),
    },
    "/{ws}/{project}": {
        "parameters": PROJ,
        "get": operation(
            "A project",
            "The project with its image, split and class counts. `versions` is always empty.",
            {
                "200": answer(
                    {
                        "type": "object",
                        "properties": {
                            "workspace": {"type": "string"},
                            "project": ref("Project"),
                            "versions": {"type": "array", "items": {"type": "object"}},
                        },
                        "required": ["project", "versions"],
                    }
                ),
                **errors(403, 404),
            },
            scope=READ,
            operationId="getProject",
        ),
    },
    "/{ws}/{project}/batches": {
        "parameters": PROJ,
        "get": operation(
            "List batches",
            "Every batch of the project, oldest first, with its image count and open jobs.",
            {
                "200": answer(list_of("batches", "Batch")),
                **errors(403, 404),
            },
            scope=READ,
            operationId="listBatches",
        ),
        "post": operation(
            "Create a batch from images (Batchboard)",
            'A new Unassigned batch of the listed images of this project, as Labelbox\'s "create batch": '
            "each id once, none already in a batch of this project (an image is in at most one batch per "
            "project), a name no batch of the project has, at most 25,000 images, priority 1 (highest) "
            "to 5 (default 3). A request that breaks a rule creates nothing, and its error names the rule "
            "(409 when an image is already in a batch, or was taken meanwhile; 400 otherwise). Name the "
            "images by imageIds (this project's) or assetIds (the workspace catalog's), one of the two.",
            {"201": answer(ref("Batch"), "Created"), **errors(400, 403, 404, 409)},
            scope=MANAGE,
            operationId="createBatch",
            requestBody=json_request(
                {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "imageIds": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1},
                        "minItems": 1,
                        "maxItems": MAX_BATCH_IMAGES,
                        "uniqueItems": True,
                    },
                    "assetIds": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1},
                        "minItems": 1,
                        "maxItems": MAX_BATCH_IMAGES,
                        "uniqueItems": True,
                        "description": "Instead of imageIds: images of the workspace catalog (an image's "
                        "“asset”), which the project may not have yet; those join it.",
                    },
                    "priority": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
                },
                "name",
            ),
        ),
    },
    "/{ws}/{project}/batches/{batch_id}": {
        "parameters": [*PROJ, param("batch_id")],
        "get": operation(
            "A batch",
            "The bare batch object.",
            {"200": answer(ref("Batch")), **errors(403, 404)},
            scope=READ,
            operationId="getBatch",
        ),
    },
    "/{ws}/{project}/batches/{batch_id}/move": {
        "parameters": [*PROJ, param("batch_id")],
        "post": operation(
            "Move a batch to another column (Batchboard)",
            "Runs the same service and permission checks as dragging the card on the board. "
            "Unassigned → annotating assigns it (`labelerEmail` required, `images` to assign only some: "
            "the rest split off); annotating → review or dataset submits it; review → dataset approves "
            "every image, review → annotating rejects them; any column → unassigned moves it back "
            "(`keepAnnotations` required: true keeps the boxes as pre-labels, false removes them); "
            "unassigned → archived archives it. A move to the column the batch is in changes nothing (a "
            "retried move answers as the first did), for someone who may move batches; one that names "
            "another labeler or reviewer than the batch's is refused with 409. "
            "With `from` (the column you saw the batch in), a batch someone else moved meanwhile is "
            "refused with 409. Moves out of or into Unassigned, and archiving, need the `manage` scope, "
            "the others `annotate`.",
            {"200": answer(ref("Batch")), **errors(400, 403, 404, 409)},
            scope=f"{MANAGE} or {ANNOTATE}",
            operationId="moveBatch",
            requestBody=json_request(
                {
                    "to": {"type": "string", "enum": BATCH_STATUSES},
                    "from": {"type": "string", "enum": BATCH_STATUSES},
                    "labelerEmail": {"type": "string"},
                    "reviewerEmail": {"type": "string"},
                    "images": {"type": "array", "items": {"type": "string"}},
                    "keepAnnotations": {"type": "boolean"},
                    "comment": {"type": "string"},
                },
                "to",
            ),
        ),
    },
    "/{ws}/{project}/jobs": {
        "parameters": PROJ,
        "get": operation(
            "List annotation jobs",
            "Every job of the project, newest first, with image counts by state.",
            {
                "200": answer(list_of("jobs", "Job")),
                **errors(403, 404),
            },
            scope=READ,
            operationId="listJobs",
        ),
        "post": operation(
            "Create an annotation job",
            "Assigns `num_images` images of an Unassigned batch (all of them when omitted) to a labeler; "
            "the rest split off into a new Unassigned batch, as on the board. A reviewer who is the labeler "
            "and lacks the reviewer role means no separate reviewer.",
            {"200": answer(ref("Job")), **errors(400, 403, 404, 409)},
            scope=MANAGE,
            operationId="createJob",
            requestBody=json_request(
                {
                    "name": {"type": "string"},
                    "batch": {"type": "string", "description": "The batch id."},
                    "num_images": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH_IMAGES},
                    "labelerEmail": {"type": "string"},
                    "reviewerEmail": {"type": "string"},
                },
                "batch",
                "labelerEmail",
            ),
        ),
    },
    "/{ws}/{project}/jobs/{job_id}": {
        "parameters": [*PROJ, param("job_id")],
        "get": operation(
            "An annotation job",
            "The bare job object.",
            {"200": answer(ref("Job")), **errors(403, 404)},
            scope=READ,
            operationId="getJob",
        ),
    },
}
