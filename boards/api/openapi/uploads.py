"""Paths of uploads: an image into a project, an annotation file onto an image."""

from __future__ import annotations

from boards.api.openapi.common import (
    ANNOTATE,
    SPLITS_TO_SET,
    UPLOAD,
    answer,
    errors,
    json_request,
    operation,
    param,
)

PATHS = {
    "/dataset/{project}/upload": {
        "parameters": [
            param("project"),
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
        "post": operation(
            "Upload an image",
            "One image, as multipart field `file` (with optional fields `name` and `split`) or as a base64 "
            "body. The workspace comes from the key. An image already in the project answers "
            '`{"duplicate": true, "id": …}` and changes nothing. Hosted images (`image=URL`) are refused: '
            "Batchboard fetches nothing from the network.",
            {
                "200": answer(
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
                **errors(400, 403, 404, 413, 507),
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
            param("project"),
            param("image_id"),
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
        "post": operation(
            "Upload an annotation",
            "Replaces the image's boxes with those in the file. An image already annotated, without "
            "`overwrite=true`, answers 409 with a message containing “already annotated”. New class names "
            "become classes of the project when the key's creator may manage it.",
            {
                "200": answer(
                    {"type": "object", "properties": {"success": {"type": "boolean"}}, "required": ["success"]}
                ),
                **errors(400, 403, 404, 409, 413),
            },
            scope=ANNOTATE,
            operationId="annotateImage",
            requestBody=json_request(
                {
                    "annotationFile": {"type": "string", "description": "The file's text."},
                    "labelmap": {
                        "type": "object",
                        "nullable": True,
                        "additionalProperties": {"type": "string"},
                        "description": "Class numbers to names, for YOLO files.",
                    },
                },
                "annotationFile",
            ),
        ),
    },
}
