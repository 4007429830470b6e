"""The JSON API, shaped like Roboflow's REST API so its scripts and Python client work.

Thin views: each reads the request, calls a selector or a service, and shapes
the answer as Roboflow does (adding our own fields beside theirs, never
instead). A workspace API key authenticates every call (``?api_key=`` or
``Authorization: Bearer``); the key's creator is the actor, so a call needs
both the key's scope and that person's role. Errors are always
``{"error": {"message", "type"}}``: ``ServiceError`` carries its status, and
``boards.middleware.ApiErrorMiddleware`` turns anything else under /api/ into
the same shape.

The modules are domains: ``auth`` (keys, lockout, rate limit, the ``api``
decorator, ``error``), ``shapes`` (answers), and the endpoints by resource:
``projects`` (workspace, projects, batches, jobs), ``datasets`` (the
workspace catalog's datasets), ``images``, ``uploads`` (upload, annotate) and
``docs``. This module re-exports the names other code uses
(``boards.api_urls`` refers to ``api.<view>``).
"""

from boards.api.auth import (  # noqa: F401
    ANNOTATE,
    ERROR_TYPES,
    LAST_USED_EVERY,
    MANAGE,
    READ,
    UPLOAD,
    Caller,
    Unauthorized,
    _authenticate,
    _bad_keys_refused,
    _member,
    _project,
    _raw_key,
    _wait_seconds,
    api,
    error,
    log,
)
from boards.api.datasets import dataset, datasets  # noqa: F401
from boards.api.docs import openapi_json, reference  # noqa: F401
from boards.api.images import (  # noqa: F401
    MAX_SEARCH_LIMIT,
    MAX_SEARCH_OFFSET,
    SEARCH_FIELDS,
    _search_query,
    image,
    image_file,
    image_tags,
    images_delete,
    search,
)
from boards.api.projects import (  # noqa: F401
    API_TARGETS,
    MOVE_NEEDS,
    batch,
    batch_move,
    batches,
    job,
    jobs,
    project,
    root,
    workspace,
)
from boards.api.shapes import (  # noqa: F401
    _box,
    _epoch,
    _image_urls,
    _timestamp,
    batch_dict,
    dataset_dict,
    image_dict,
    job_dict,
    project_dict,
)
from boards.api.uploads import _base64_image, annotate, upload  # noqa: F401
