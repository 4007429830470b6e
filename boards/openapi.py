"""The API's OpenAPI 3 description: a plain dict, served at /api/openapi.json.

The reference page (/docs/api/) is rendered from the same dict, so the two
cannot drift apart. Shapes follow Roboflow's REST API; fields Batchboard adds
are marked "Batchboard:" in their descriptions.
"""

from __future__ import annotations

from copy import deepcopy

from accounts.models import ApiScope
from boards.models import (
    MAX_BATCH_IMAGES,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    AnnotationState,
    BatchStatus,
    JobState,
    ReviewState,
    Split,
)
from boards.services import TAG_OPERATIONS

# The API's words for the models' choices, taken from the models so the description cannot drift from them.
BATCH_STATUSES = list(BatchStatus.values)
JOB_STATUS = {
    JobState.ANNOTATING: "assigned",
    JobState.IN_REVIEW: "review",
    JobState.COMPLETE: "complete",
    JobState.CANCELLED: "cancelled",
}
"""A job's state as Roboflow names it."""
JOB_STATUSES = [JOB_STATUS[state] for state in JobState.values]
SPLITS = list(Split.values)  # "" is "not set"
SPLITS_TO_SET = [split for split in SPLITS if split]
IMAGE_STATES = [*AnnotationState.values, ReviewState.APPROVED.value, ReviewState.REJECTED.value]
SCOPES = list(ApiScope.values)
READ, UPLOAD, ANNOTATE, MANAGE = (scope.value for scope in ApiScope)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, description: str, responses: dict, *, scope: str | None, **extra) -> dict:
    scope_note = f"\n\nScope: `{scope}`." if scope else "\n\nAny valid key."
    return {"summary": summary, "description": description + scope_note, "responses": responses, **extra}


_TIMESTAMP = {
    "type": "object",
    "description": "A Firestore-style timestamp, as Roboflow sends it.",
    "properties": {"_seconds": {"type": "integer"}, "_nanoseconds": {"type": "integer"}},
    "required": ["_seconds", "_nanoseconds"],
}

_BOX = {
    "type": "object",
    "description": "A box in pixels; x and y are its centre, as in Roboflow.",
    "properties": {
        "label": {"type": "string"},
        "x": {"type": "number"},
        "y": {"type": "number"},
        "width": {"type": "number"},
        "height": {"type": "number"},
    },
    "required": ["label", "x", "y", "width", "height"],
}

_COMPONENTS = {
    "securitySchemes": {
        "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
        "Bearer": {"type": "http", "scheme": "bearer", "description": "The same key as a bearer token."},
    },
    "parameters": {
        "ws": {
            "name": "ws",
            "in": "path",
            "required": True,
            "description": "The workspace's URL name; it must be the key's workspace.",
            "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
            "example": "demo",
        },
        "project": {
            "name": "project",
            "in": "path",
            "required": True,
            "description": "The project's URL name.",
            "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
            "example": "parcels",
        },
        "batch_id": {
            "name": "batch_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "example": "1",
        },
        "job_id": {
            "name": "job_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "example": "1",
        },
        "image_id": {
            "name": "image_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "example": "1",
        },
    },
    "schemas": {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string", "description": "What went wrong, for a person."},
                        "type": {
                            "type": "string",
                            "description": "invalid, unauthorized, forbidden, not_found, method_not_allowed, "
                            "conflict, too_large, rate_limited or server_error.",
                        },
                    },
                    "required": ["message", "type"],
                }
            },
            "required": ["error"],
        },
        "Timestamp": _TIMESTAMP,
        "Box": _BOX,
        "Project": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "workspace/project"},
                "name": {"type": "string"},
                "type": {"type": "string", "enum": ["object-detection"]},
                "created": {"type": "number", "description": "Epoch seconds."},
                "updated": {"type": "number", "description": "Epoch seconds."},
                "images": {"type": "integer"},
                "unannotated": {"type": "integer"},
                "annotation": {"type": "string"},
                "versions": {"type": "integer", "description": "Always 0: Batchboard has no dataset versions."},
                "public": {"type": "boolean"},
                "splits": {"type": "object", "additionalProperties": {"type": "integer"}},
                "classes": {"type": "object", "additionalProperties": {"type": "integer"}},
                "colors": {"type": "object", "additionalProperties": {"type": "string"}},
                "reviewMode": {"type": "boolean", "description": "Batchboard: batches pass through Review."},
            },
            "required": ["id", "name", "type", "created", "updated", "images", "unannotated", "splits", "classes"],
        },
        "Batch": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "numJobs": {"type": "integer"},
                "images": {"type": "integer"},
                "uploaded": _ref("Timestamp"),
                "status": {
                    "type": "string",
                    "enum": BATCH_STATUSES,
                    "description": "Batchboard: the batch's column on the board.",
                },
                "priority": {
                    "type": "integer",
                    "minimum": PRIORITY_HIGHEST,
                    "maximum": PRIORITY_LOWEST,
                    "description": f"Batchboard: {PRIORITY_HIGHEST} (highest) to {PRIORITY_LOWEST} (lowest).",
                },
            },
            "required": ["id", "name", "numJobs", "images", "uploaded"],
        },
        "Job": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "status": {"type": "string", "enum": JOB_STATUSES},
                "numImages": {"type": "integer"},
                "annotated": {"type": "integer"},
                "unannotated": {"type": "integer"},
                "approved": {"type": "integer"},
                "rejected": {"type": "integer"},
                "labeler": {"type": "string"},
                "reviewer": {"type": "string", "nullable": True},
                "sourceBatch": {"type": "string", "description": "project/batch id"},
                "created": _ref("Timestamp"),
                "createdBy": {"type": "string", "nullable": True},
                "project": {"type": "string"},
                "instructionsText": {"type": "string"},
                "batch": {"type": "string", "description": "Batchboard: the id of the job's batch."},
                "batchStatus": {
                    "type": "string",
                    "enum": BATCH_STATUSES,
                    "description": "Batchboard: the column that batch is in.",
                },
            },
            "required": ["id", "name", "status", "numImages", "annotated", "unannotated", "labeler", "created"],
        },
        "Image": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "annotation": {
                    "type": "object",
                    "properties": {
                        "width": {"type": "integer"},
                        "height": {"type": "integer"},
                        "boxes": {"type": "array", "items": _ref("Box")},
                    },
                },
                "labels": {"type": "array", "items": {"type": "string"}},
                "split": {"type": "string", "enum": SPLITS},
                "tags": {"type": "array", "items": {"type": "string"}},
                "created": {"type": "number", "description": "Epoch seconds."},
                "urls": {
                    "type": "object",
                    "description": "API URLs of the files; fetch them with the same key.",
                    "properties": {"original": {"type": "string"}, "thumb": {"type": "string"}},
                },
                "status": {"type": "string", "enum": IMAGE_STATES, "description": "Batchboard: the image's state."},
                "batch": {"type": "string", "nullable": True, "description": "Batchboard: the image's batch id."},
            },
            "required": ["id", "name", "annotation", "labels", "split", "tags", "created", "urls"],
        },
    },
    "responses": {
        f"E{status}": _json({"$ref": "#/components/schemas/Error"}, text)
        for status, text in {
            400: "Bad input; the message says what to change.",
            401: "No API key, or a key that is not valid or was revoked.",
            403: "The key lacks the scope, or its creator's role does not allow this.",
            404: "Not found, or in another workspace than the key's.",
            405: "Method not allowed.",
            409: "The batch or image is in a state that does not allow this.",
            413: "The file or body is too large.",
            507: "The server's storage refused the write (full, read-only); nothing was kept. Try again later.",
            429: "Too many requests for this key; wait for Retry-After seconds.",
        }.items()
    },
}


def _e(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in sorted({401, 429, *statuses})}


_WS = [_param("ws")]
_PROJ = [_param("ws"), _param("project")]

_ROOT_ANSWER = _json(
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

_PATHS = {
    "/": {
        "get": _op(
            "Check a key",
            "Answers with the workspace the key belongs to. The roboflow client calls this (as POST) first.",
            {"200": _ROOT_ANSWER, **_e()},
            scope=None,
            operationId="root",
        ),
        "post": _op(
            "Check a key (POST)", "The same as GET.", {"200": _ROOT_ANSWER, **_e()}, scope=None, operationId="rootPost"
        ),
    },
    "/{ws}": {
        "parameters": _WS,
        "get": _op(
            "Workspace and its projects",
            "The workspace, its member count and every project in it.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "workspace": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "url": {"type": "string"},
                                    "members": {"type": "integer"},
                                    "projects": {"type": "array", "items": _ref("Project")},
                                },
                                "required": ["name", "url", "projects"],
                            }
                        },
                        "required": ["workspace"],
                    }
                ),
                **_e(403, 404),
            },
            scope=READ,
            operationId="getWorkspace",
        ),
    },
    "/{ws}/{project}": {
        "parameters": _PROJ,
        "get": _op(
            "A project",
            "The project with its image, split and class counts. `versions` is always empty.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "workspace": {"type": "string"},
                            "project": _ref("Project"),
                            "versions": {"type": "array", "items": {"type": "object"}},
                        },
                        "required": ["project", "versions"],
                    }
                ),
                **_e(403, 404),
            },
            scope=READ,
            operationId="getProject",
        ),
    },
    "/{ws}/{project}/batches": {
        "parameters": _PROJ,
        "get": _op(
            "List batches",
            "Every batch of the project, oldest first, with its image count and open jobs.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"batches": {"type": "array", "items": _ref("Batch")}},
                        "required": ["batches"],
                    }
                ),
                **_e(403, 404),
            },
            scope=READ,
            operationId="listBatches",
        ),
    },
    "/{ws}/{project}/batches/{batch_id}": {
        "parameters": [*_PROJ, _param("batch_id")],
        "get": _op(
            "A batch",
            "The bare batch object.",
            {"200": _json(_ref("Batch")), **_e(403, 404)},
            scope=READ,
            operationId="getBatch",
        ),
    },
    "/{ws}/{project}/batches/{batch_id}/move": {
        "parameters": [*_PROJ, _param("batch_id")],
        "post": _op(
            "Move a batch to another column (Batchboard)",
            "Runs the same service and permission checks as dragging the card on the board. "
            "Unassigned → annotating assigns it (`labelerEmail` required, `images` to assign only some: "
            "the rest split off); annotating → review or dataset submits it; review → dataset approves "
            "every image, review → annotating rejects them; any column → unassigned moves it back "
            "(`keepAnnotations` required: true keeps the boxes as pre-labels, false removes them); "
            "unassigned → archived archives it. A move to the column the batch is in changes nothing. "
            "With `from` (the column you saw the batch in), a batch someone else moved meanwhile is "
            "refused with 409. Moves out of or into Unassigned, and archiving, need the `manage` scope, "
            "the others `annotate`.",
            {"200": _json(_ref("Batch")), **_e(400, 403, 404, 409)},
            scope=f"{MANAGE} or {ANNOTATE}",
            operationId="moveBatch",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "to": {"type": "string", "enum": BATCH_STATUSES},
                                "from": {"type": "string", "enum": BATCH_STATUSES},
                                "labelerEmail": {"type": "string"},
                                "reviewerEmail": {"type": "string"},
                                "images": {"type": "array", "items": {"type": "string"}},
                                "keepAnnotations": {"type": "boolean"},
                                "comment": {"type": "string"},
                            },
                            "required": ["to"],
                        }
                    }
                },
            },
        ),
    },
    "/{ws}/{project}/jobs": {
        "parameters": _PROJ,
        "get": _op(
            "List annotation jobs",
            "Every job of the project, newest first, with image counts by state.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"jobs": {"type": "array", "items": _ref("Job")}},
                        "required": ["jobs"],
                    }
                ),
                **_e(403, 404),
            },
            scope=READ,
            operationId="listJobs",
        ),
        "post": _op(
            "Create an annotation job",
            "Assigns `num_images` images of an Unassigned batch (all of them when omitted) to a labeler; "
            "the rest split off into a new Unassigned batch, as on the board. A reviewer who is the labeler "
            "and lacks the reviewer role means no separate reviewer.",
            {"200": _json(_ref("Job")), **_e(400, 403, 404, 409)},
            scope=MANAGE,
            operationId="createJob",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "batch": {"type": "string", "description": "The batch id."},
                                "num_images": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH_IMAGES},
                                "labelerEmail": {"type": "string"},
                                "reviewerEmail": {"type": "string"},
                            },
                            "required": ["batch", "labelerEmail"],
                        }
                    }
                },
            },
        ),
    },
    "/{ws}/{project}/jobs/{job_id}": {
        "parameters": [*_PROJ, _param("job_id")],
        "get": _op(
            "An annotation job",
            "The bare job object.",
            {"200": _json(_ref("Job")), **_e(403, 404)},
            scope=READ,
            operationId="getJob",
        ),
    },
    "/{ws}/{project}/images": {
        "parameters": _PROJ,
        "delete": _op(
            "Delete images",
            "Deletes the images for good, all or none: only images in Unassigned batches or in no batch. "
            "If any is elsewhere on the board, the answer is 409 naming the batches in the way.",
            {"204": {"description": "Deleted."}, **_e(400, 403, 404, 409)},
            scope=MANAGE,
            operationId="deleteImages",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"images": {"type": "array", "items": {"type": "string"}}},
                            "required": ["images"],
                        }
                    }
                },
            },
        ),
    },
    "/{ws}/{project}/images/{image_id}": {
        "parameters": [*_PROJ, _param("image_id")],
        "get": _op(
            "An image",
            "The image with its boxes, labels, split, tags and file URLs.",
            {
                "200": _json({"type": "object", "properties": {"image": _ref("Image")}, "required": ["image"]}),
                **_e(403, 404),
            },
            scope=READ,
            operationId="getImage",
        ),
    },
    "/{ws}/{project}/images/{image_id}/{kind}": {
        "parameters": [
            *_PROJ,
            _param("image_id"),
            {
                "name": "kind",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": ["original", "thumb"]},
            },
        ],
        "get": _op(
            "An image file (Batchboard)",
            "The original file or its JPEG thumbnail: the URLs in an image's `urls`.",
            {
                "200": {
                    "description": "The file.",
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_e(403, 404),
            },
            scope=READ,
            operationId="getImageFile",
        ),
    },
    "/{ws}/{project}/images/{image_id}/tags": {
        "parameters": [*_PROJ, _param("image_id")],
        "post": _op(
            "Add, remove or set an image's tags",
            "`tags` may also be a single string. Tagging is for managers and owners: the key's creator must be one.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "success": {"type": "boolean"},
                            "tags": {
                                "type": "array",
                                "items": {"type": "string"},
                                "description": "Batchboard: the tags afterwards.",
                            },
                        },
                        "required": ["success"],
                    }
                ),
                **_e(400, 403, 404),
            },
            scope=ANNOTATE,
            operationId="tagImage",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "operation": {"type": "string", "enum": list(TAG_OPERATIONS)},
                                "tags": {"type": "array", "items": {"type": "string"}},
                            },
                            "required": ["operation", "tags"],
                        }
                    }
                },
            },
        ),
    },
    "/{ws}/{project}/search": {
        "parameters": _PROJ,
        "post": _op(
            "Search a project's images",
            "Filters by tag, class, batch, job and Dataset membership; `prompt` matches file names "
            "(Batchboard has no semantic or similarity search, so `like_image` is refused). `fields` picks "
            "what each result holds (default id, created, name, labels).",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "offset": {"type": "integer"},
                            "total": {"type": "integer"},
                            "results": {"type": "array", "items": {"type": "object"}},
                        },
                        "required": ["results"],
                    }
                ),
                **_e(400, 403, 404),
            },
            scope=READ,
            operationId="search",
            requestBody={
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "offset": {"type": "integer", "minimum": 0},
                                "limit": {"type": "integer", "minimum": 1, "maximum": 250},
                                "tag": {"type": "string"},
                                "class_name": {"type": "string"},
                                "prompt": {"type": "string"},
                                "in_dataset": {"type": "boolean"},
                                "batch": {"type": "boolean"},
                                "batch_id": {"type": "string"},
                                "annotation_job": {"type": "boolean"},
                                "annotation_job_id": {"type": "string"},
                                "fields": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    }
                },
            },
        ),
    },
    "/dataset/{project}/upload": {
        "parameters": [
            _param("project"),
            {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "The file name."},
            {
                "name": "split",
                "in": "query",
                "schema": {"type": "string", "enum": SPLITS_TO_SET},
            },
            {
                "name": "batch",
                "in": "query",
                "schema": {"type": "string"},
                "description": "Batch name: images of one name land in one batch while it is in Unassigned.",
            },
            {
                "name": "tag",
                "in": "query",
                "schema": {"type": "array", "items": {"type": "string"}},
                "style": "form",
                "explode": True,
                "description": "Repeat for several tags.",
            },
        ],
        "post": _op(
            "Upload an image",
            "One image, as multipart field `file` (with optional fields `name` and `split`) or as a base64 "
            "body. The workspace comes from the key. An image already in the project answers "
            '`{"duplicate": true, "id": …}` and changes nothing. Hosted images (`image=URL`) are refused: '
            "Batchboard fetches nothing from the network.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "success": {"type": "boolean"},
                            "duplicate": {"type": "boolean"},
                            "id": {"type": "string"},
                            "batch": {
                                "type": "object",
                                "description": "Batchboard: the batch the image landed in.",
                                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                            },
                        },
                        "required": ["id"],
                    }
                ),
                **_e(400, 403, 404, 413, 507),
            },
            scope=UPLOAD,
            operationId="uploadImage",
            requestBody={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "name": {"type": "string"},
                                "split": {"type": "string", "enum": SPLITS_TO_SET},
                            },
                            "required": ["file"],
                        }
                    },
                    "text/plain": {"schema": {"type": "string", "description": "The image, base64-encoded."}},
                },
            },
        ),
    },
    "/dataset/{project}/annotate/{image_id}": {
        "parameters": [
            _param("project"),
            _param("image_id"),
            {
                "name": "name",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": "The annotation file's name: .xml (Pascal VOC), .json (COCO) or .txt (YOLO).",
                "example": "photo.xml",
            },
            {
                "name": "overwrite",
                "in": "query",
                "schema": {"type": "boolean"},
                "description": "Replace the boxes of an image that is already annotated.",
            },
            {
                "name": "jobName",
                "in": "query",
                "schema": {"type": "string"},
                "description": "Accepted for compatibility; Batchboard keeps images in their batches.",
            },
        ],
        "post": _op(
            "Upload an annotation",
            "Replaces the image's boxes with those in the file. An image already annotated, without "
            "`overwrite=true`, answers 409 with a message containing “already annotated”. New class names "
            "become classes of the project when the key's creator may manage it.",
            {
                "200": _json(
                    {"type": "object", "properties": {"success": {"type": "boolean"}}, "required": ["success"]}
                ),
                **_e(400, 403, 404, 409, 413),
            },
            scope=ANNOTATE,
            operationId="annotateImage",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "annotationFile": {"type": "string", "description": "The file's text."},
                                "labelmap": {
                                    "type": "object",
                                    "nullable": True,
                                    "additionalProperties": {"type": "string"},
                                    "description": "Class numbers to names, for YOLO files.",
                                },
                            },
                            "required": ["annotationFile"],
                        }
                    }
                },
            },
        ),
    },
}


def openapi_schema(server_url: str) -> dict:
    """The description, with ``server_url`` (this server's /api root) as its server."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Batchboard API",
            "version": "1.0",
            "description": (
                "A REST API shaped like Roboflow's, so that Roboflow scripts and the `roboflow` Python client "
                "(1.7.x) work with Batchboard: set `API_URL` to this server's `/api` root. Every call takes a "
                "workspace API key as `?api_key=` or `Authorization: Bearer`; owners and managers create keys "
                "on the workspace's API keys page. A key acts as the person who created it, within its scopes "
                f"({', '.join(SCOPES)}). Errors are always "
                '`{"error": {"message", "type"}}`; each key is rate-limited (429 with Retry-After).'
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"ApiKeyQuery": []}, {"Bearer": []}],
        "paths": deepcopy(_PATHS),
        "components": deepcopy(_COMPONENTS),
    }
