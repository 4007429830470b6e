"""The description's vocabulary and builders, shared by its components and paths.

The API's words for enums are taken from the models' choices (and the API key
scopes from ``accounts``), so the description cannot drift from what is stored.
"""

from __future__ import annotations

from accounts.models import ApiScope
from boards.models import (
    AnnotationState,
    BatchStatus,
    JobState,
    ReviewState,
    Split,
)

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


def ref(name: str) -> dict:
    """A reference to a schema in ``components``: each object is described once."""
    return {"$ref": f"#/components/schemas/{name}"}


def param(name: str) -> dict:
    """A reference to a shared path parameter in ``components``."""
    return {"$ref": f"#/components/parameters/{name}"}


def answer(schema: dict, description: str = "OK") -> dict:
    """A JSON response with ``schema`` as its body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(summary: str, description: str, responses: dict, *, scope: str | None, **extra) -> dict:
    """An operation whose description ends with the key scope it needs, so no operation leaves it out."""
    scope_note = f"\n\nScope: `{scope}`." if scope else "\n\nAny valid key."
    return {"summary": summary, "description": description + scope_note, "responses": responses, **extra}


def json_request(properties: dict, *required: str, body_optional: bool = False) -> dict:
    """A JSON object request body with these ``properties``, ``required`` naming the ones it must have."""
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"required": not body_optional, "content": {"application/json": {"schema": schema}}}


def list_of(key: str, name: str) -> dict:
    """An answer that is an object holding one list, ``{key: [name, ...]}``."""
    return {"type": "object", "properties": {key: {"type": "array", "items": ref(name)}}, "required": [key]}


def errors(*statuses: int) -> dict:
    """The error answers of an operation: ``statuses`` and the 401 and 429 every call can get."""
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in sorted({401, 429, *statuses})}


WS = [param("ws")]
PROJ = [param("ws"), param("project")]
