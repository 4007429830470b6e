"""Paths of images: reading, deleting, their files, tags and search."""

from __future__ import annotations

from boards.api.openapi.common import (
    ANNOTATE,
    MANAGE,
    PROJ,
    READ,
    answer,
    errors,
    json_request,
    operation,
    param,
    ref,
)
from boards.services import TAG_OPERATIONS

PATHS = {
    "/{ws}/{project}/images": {
        "parameters": PROJ,
        "delete": operation(
            "Delete images",
            "Deletes the images for good, all or none: only images in Unassigned batches or in no batch. "
            "If any is elsewhere on the board, the answer is 409 naming the batches in the way.",
            {"204": {"description": "Deleted."}, **errors(400, 403, 404, 409)},
            scope=MANAGE,
            operationId="deleteImages",
            requestBody=json_request({"images": {"type": "array", "items": {"type": "string"}}}, "images"),
        ),
    },
    "/{ws}/{project}/images/{image_id}": {
        "parameters": [*PROJ, param("image_id")],
        "get": operation(
            "An image",
            "The image with its boxes, labels, split, tags and file URLs.",
            {
                "200": answer({"type": "object", "properties": {"image": ref("Image")}, "required": ["image"]}),
                **errors(403, 404),
            },
            scope=READ,
            operationId="getImage",
        ),
    },
    "/{ws}/{project}/images/{image_id}/{kind}": {
        "parameters": [
            *PROJ,
            param("image_id"),
            {
                "name": "kind",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": ["original", "thumb"]},
            },
        ],
        "get": operation(
            "An image file (Batchboard)",
            "The original file or its JPEG thumbnail: the URLs in an image's `urls`.",
            {
                "200": {
                    "description": "The file.",
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **errors(403, 404),
            },
            scope=READ,
            operationId="getImageFile",
        ),
    },
    "/{ws}/{project}/images/{image_id}/tags": {
        "parameters": [*PROJ, param("image_id")],
        "post": operation(
            "Add, remove or set an image's tags",
            "`tags` may also be a single string. Tagging is for managers and owners: the key's creator must be one.",
            {
                "200": answer(
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
                **errors(400, 403, 404),
            },
            scope=ANNOTATE,
            operationId="tagImage",
            requestBody=json_request(
                {
                    "operation": {"type": "string", "enum": list(TAG_OPERATIONS)},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "operation",
                "tags",
            ),
        ),
    },
    "/{ws}/{project}/search": {
        "parameters": PROJ,
        "post": operation(
            "Search a project's images",
            "Filters by tag, class, batch, job and Dataset membership; `prompt` matches file names "
            "(Batchboard has no semantic or similarity search, so `like_image` is refused). `fields` picks "
            "what each result holds (default id, created, name, labels).",
            {
                "200": answer(
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
                **errors(400, 403, 404),
            },
            scope=READ,
            operationId="search",
            requestBody=json_request(
                {
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
                body_optional=True,
            ),
        ),
    },
}
