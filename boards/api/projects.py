"""Endpoints for the workspace, its projects, their batches (and moving them) and jobs."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from accounts.models import Membership
from boards import selectors, services
from boards.api.auth import (
    MANAGE,
    READ,
    Caller,
    _member,
    _project,
    api,
)
from boards.api.shapes import batch_dict, job_dict, project_dict
from boards.models import MAX_BATCH_IMAGES, PRIORITY_DEFAULT, BatchStatus, Project
from core import params
from core.errors import InvalidInput, NotFound


@api({"GET": None, "POST": None})
def root(request: HttpRequest, caller: Caller) -> JsonResponse:
    return JsonResponse(
        {
            "welcome": "Welcome to the Batchboard API.",
            "instructions": "You are successfully authenticated.",
            "docs": request.build_absolute_uri(reverse("api-reference")),
            "workspace": caller.workspace.slug,
        }
    )


@api({"GET": READ})
def workspace(request: HttpRequest, caller: Caller) -> JsonResponse:
    projects = list(Project.objects.filter(workspace=caller.workspace).order_by("name"))
    stats = selectors.api_project_stats([p.pk for p in projects])
    for p in projects:
        p.workspace = caller.workspace
    return JsonResponse(
        {
            "workspace": {
                "name": caller.workspace.name,
                "url": caller.workspace.slug,
                "members": Membership.objects.filter(workspace=caller.workspace).count(),
                "projects": [project_dict(p, stats[p.pk]) for p in projects],
            }
        }
    )


@api({"GET": READ})
def project(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    stats = selectors.api_project_stats([obj.pk])[obj.pk]
    return JsonResponse({"workspace": caller.workspace.slug, "project": project_dict(obj, stats), "versions": []})


@api({"GET": READ, "POST": MANAGE})
def batches(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    if request.method == "GET":
        return JsonResponse({"batches": [batch_dict(row) for row in selectors.api_batches(obj)]})
    return _create_batch(caller, obj, params.json_body(request))


def _create_batch(caller: Caller, project: Project, data: dict) -> JsonResponse:
    """A new Unassigned batch of these images, by Labelbox's rules: each id once, none already in a
    batch of this project, a name no batch of the project has, at most 25,000 images, priority 1-5.
    A request that breaks a rule changes nothing, and its error names the rule. The images are the
    project's (``imageIds``) or the workspace catalog's (``assetIds``: those the project has not yet
    join it, as "Add batch to project" does)."""
    name = params.text(data, "name", label="The batch name", required=True, limit=200)
    priority = params.integer(
        data, "priority", label="The priority", default=PRIORITY_DEFAULT, low=1, high=5, number_only=True
    )
    key = "assetIds" if "assetIds" in data else "imageIds"
    if "assetIds" in data and "imageIds" in data:
        raise InvalidInput("Send either “imageIds” (images of this project) or “assetIds” (of the workspace catalog).")
    if data.get(key) in (None, []):
        raise InvalidInput(f"“{key}” lists the images of the new batch: at least one.")
    ids = params.idents(data, key, label="An image id", limit=MAX_BATCH_IMAGES)
    sent = [params.ident_value(v, name=key) for v in data[key]]
    if len(sent) != len(ids):
        twice = ", ".join(map(str, _twice(sent)))
        raise InvalidInput(f"“{key}” names some images more than once ({twice}): each id once.")
    if key == "assetIds":  # images of the workspace catalog, which this project may not have yet
        result = services.add_batch_to_project(
            project=project, actor=caller.actor, name=name, priority=priority, asset_ids=ids, all_or_nothing=True
        )
    else:
        result = services.create_batch_from_images(
            project=project, actor=caller.actor, name=name, priority=priority, image_ids=ids, all_or_nothing=True
        )
    response = JsonResponse(batch_dict(selectors.api_batches(project, batch_id=result.batch.pk)[0]), status=201)
    response["Location"] = reverse("api-batch", args=[project.workspace.slug, project.slug, result.batch.pk])
    return response


def _twice(sent: list[int]) -> list[int]:
    """The ids listed more than once (ten at most)."""
    seen: set[int] = set()
    twice = {pk for pk in sent if pk in seen or seen.add(pk)}
    return sorted(twice)[:10]


@api({"GET": READ})
def batch(request: HttpRequest, caller: Caller, project: str, batch_id: int) -> JsonResponse:
    rows = selectors.api_batches(_project(caller, project), batch_id=batch_id)
    if not rows:
        raise NotFound("No such batch in this project.")
    return JsonResponse(batch_dict(rows[0]))


# The columns a script may move a batch to: every target of a move the API offers (``services.MOVES``).
API_TARGETS = tuple(
    status for status in BatchStatus.values if any(m.target == status and m.api_scope for m in services.MOVES)
)
MOVE_NEEDS = {
    "assign": "Assigning a batch needs “labelerEmail” (and optionally “reviewerEmail” and “images”).",
    "unassign": "Moving a batch back to Unassigned needs “keepAnnotations”: true keeps its boxes as pre-labels, "
    "false removes them.",
}


@api({"POST": None})
def batch_move(request: HttpRequest, caller: Caller, project: str, batch_id: int) -> JsonResponse:
    obj = _project(caller, project)
    current = selectors.batch_in(obj, batch_id)
    data = params.json_body(request)
    to = params.text(data, "to", required=True)
    if to not in API_TARGETS:
        raise InvalidInput(f"“to” is one of {', '.join(API_TARGETS[:-1])} or {API_TARGETS[-1]}.")
    seen_in = params.text(data, "from", limit=20) or None
    caller.require(services.api_scope(current.status, to))
    labeler = _member(caller, data, "labelerEmail", "labeler")
    reviewer = _member(caller, data, "reviewerEmail", "reviewer")
    image_ids = None
    if data.get("images") is not None:
        image_ids = params.idents(data, "images", label="An image id")
    try:
        moved = services.move_batch(
            batch=current,
            actor=caller.actor,
            to=to,
            labeler=labeler,
            reviewer=reviewer,
            image_ids=image_ids,
            keep_annotations=params.boolean(data, "keepAnnotations", default=None),
            comment=params.text(data, "comment", limit=5000),
            seen_in=seen_in,
        )
    except services.NeedsInput as exc:
        raise InvalidInput(MOVE_NEEDS.get(exc.dialog, exc.message)) from None
    return JsonResponse(batch_dict(selectors.api_batches(obj, batch_id=moved.pk)[0]))


@api({"GET": READ, "POST": MANAGE})
def jobs(request: HttpRequest, caller: Caller, project: str) -> JsonResponse:
    obj = _project(caller, project)
    if request.method == "GET":
        return JsonResponse({"jobs": [job_dict(row, obj) for row in selectors.api_jobs(obj)]})
    data = params.json_body(request)
    source = selectors.batch_in(obj, params.ident(data, "batch", required=True))
    labeler = _member(caller, data, "labelerEmail", "labeler", required=True)
    reviewer = _member(caller, data, "reviewerEmail", "reviewer")
    num_images = params.integer(data, "num_images", low=1, high=MAX_BATCH_IMAGES, number_only=True)
    result = services.create_job(
        batch=source,
        actor=caller.actor,
        labeler=labeler,
        reviewer=reviewer,
        num_images=num_images,
        name=params.text(data, "name", limit=200),
    )
    return JsonResponse(job_dict(selectors.api_jobs(obj, job_id=result.job.pk)[0], obj))


@api({"GET": READ})
def job(request: HttpRequest, caller: Caller, project: str, job_id: int) -> JsonResponse:
    obj = _project(caller, project)
    rows = selectors.api_jobs(obj, job_id=job_id)
    if not rows:
        raise NotFound("No such job in this project.")
    return JsonResponse(job_dict(rows[0], obj))
