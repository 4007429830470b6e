"""The API's OpenAPI 3 description: a plain dict, served at /api/openapi.json.

The reference page (/docs/api/) is rendered from the same dict, so the two
cannot drift apart. Shapes follow Roboflow's REST API; fields Batchboard adds
are marked "Batchboard:" in their descriptions.

The modules follow the API's: ``common`` (the API's words for the models'
choices, and the builders), ``components`` (schemas, parameters, error
answers), and the paths by resource as ``boards.api`` serves them:
``projects`` (key check, workspace, projects, batches, jobs), ``datasets``
(the workspace catalog's), ``images`` and ``uploads``.
"""

from __future__ import annotations

from copy import deepcopy

from boards.api.openapi import datasets, images, projects, uploads
from boards.api.openapi.common import (  # noqa: F401
    ANNOTATE,
    BATCH_STATUSES,
    IMAGE_STATES,
    JOB_STATUS,
    JOB_STATUSES,
    MANAGE,
    READ,
    SCOPES,
    SPLITS,
    SPLITS_TO_SET,
    UPLOAD,
)
from boards.api.openapi.components import COMPONENTS

PATHS = {**projects.PATHS, **datasets.PATHS, **images.PATHS, **uploads.PATHS}
"""Every path, in the order the reference page lists them."""


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
        "paths": deepcopy(PATHS),
        "components": deepcopy(COMPONENTS),
    }
