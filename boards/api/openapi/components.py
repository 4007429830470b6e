"""The description's shared components: security schemes, path parameters, object schemas, error answers."""

from __future__ import annotations

from boards.api.openapi.common import (
    BATCH_STATUSES,
    IMAGE_STATES,
    JOB_STATUSES,
    SPLITS,
    answer,
    ref,
)
from boards.models import PRIORITY_HIGHEST, PRIORITY_LOWEST

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

COMPONENTS = {
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
        "dataset_id": {
            "name": "dataset_id",
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
                "uploaded": ref("Timestamp"),
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
        "Dataset": {
            "type": "object",
            "description": "Batchboard: a dataset of the workspace catalog.",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string", "description": "Unique in the workspace."},
                "images": {"type": "integer", "description": "How many images of the catalog it holds."},
                "created": {"type": "number", "description": "Epoch seconds."},
            },
            "required": ["id", "name", "images", "created"],
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
                "labeler": {
                    "type": "string",
                    "nullable": True,
                    "description": "Batchboard: null for a batch assigned to the label queue.",
                },
                "reviewer": {"type": "string", "nullable": True},
                "sourceBatch": {"type": "string", "description": "project/batch id"},
                "created": ref("Timestamp"),
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
                        "boxes": {"type": "array", "items": ref("Box")},
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
                "asset": {
                    "type": "string",
                    "description": "Batchboard: the id of this picture in the workspace catalog, the same in every "
                    "project that uses it (for “assetIds” when creating a batch in another project).",
                },
            },
            "required": ["id", "name", "annotation", "labels", "split", "tags", "created", "urls"],
        },
    },
    "responses": {
        f"E{status}": answer({"$ref": "#/components/schemas/Error"}, text)
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
