"""No request parameter, however hostile, makes any page or API endpoint answer with a 5xx.

Every URL pattern of the project is listed in ``VIEWS`` with the parameters its
view reads (query string, form fields, JSON body): a new view that is not
listed fails ``test_every_view_is_listed``. Each parameter is then sent each
hostile value (unicode digits, huge and negative numbers, NaN, NUL, very long
text, deep JSON, lists in place of scalars) alone, on top of a valid request
where the view needs one, with the path's ids naming real objects so that the
view reads its parameters instead of answering 404. Run on SQLite and on
PostgreSQL, where NUL characters and out-of-range integers fail in the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter

from accounts.models import ApiKey
from accounts.roles import Role
from boards import services
from boards.models import AnnotationState, Batch, BatchStatus, BucketSource, LabelClass
from boards.services import background
from tests.factories import BatchFactory, ImageFactory, MembershipFactory, UserFactory, jpeg_bytes, set_images

pytestmark = pytest.mark.django_db

HOSTILE_TEXT = [
    "²",  # str.isdigit() says yes, int() says no
    "٣",  # int() reads it as 3
    "9" * 23,  # beyond a 64-bit integer
    "-1",
    "NaN",
    "",
    "a\x00b",  # PostgreSQL cannot store a NUL
    "x" * 5000,
    "9999-12-31",  # a date whose next day no datetime holds
    "0001-01-01",
]
DEEP = json.loads("[" * 50 + "]" * 50)
HOSTILE_JSON = [
    *("²", "9" * 23, 10**30, -1, 1.5, True, None, [1, 2], {"a": 1}, DEEP, "a\x00b", "x" * 5000),
    "\ud800",  # JSON's "\ud800": a lone surrogate, which no database stores
    "9999-12-31",
]
RAW_BODIES = [
    "[" * 100_000 + "]" * 100_000,
    '{"version": NaN, "x": 1e400}',
    '{"x": "\\u0000"}',
    "9" * 5000,
    "{",
]


@dataclass
class View:
    """What a URL's view reads. ``path`` fills its path arguments from the world (``world.path_args``)."""

    get: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    json: bool = False  # the POST (or DELETE) body is JSON
    base_get: dict = field(default_factory=dict)  # valid values sent beside the hostile one
    base_post: dict = field(default_factory=dict)
    batch: str = "unassigned"  # which of the world's batches fills <batch_id>
    api: bool = False
    methods: tuple[str, ...] = ("GET", "POST")


FILTERS = ("file", "tag", "class", "state", "batch", "from", "to", "min_width", "max_width", "min_height", "max_height")
BOARD = ("q", "labeler")
WORKSPACE_FILTERS = ("file", "dataset", "project", "state", "from", "to")

# Every URL pattern, by name (or route when unnamed): the parameters its view reads, from reading its code.
VIEWS: dict[str, View] = {
    # boards/views.py
    "home": View(),
    "health": View(get=("format",), methods=("GET",)),
    "my-work": View(),
    "board": View(get=BOARD),
    "board-version": View(),
    "column-more": View(get=("offset", *BOARD)),
    "upload": View(post=("batch", "name", "files")),
    "export": View(get=("batch", "format", "split", "seed"), base_get={"format": "coco"}),
    "export-start": View(post=("batch", "format", "split", "seed", "run"), base_post={"run": "background"}),
    "tasks": View(methods=("GET",)),
    "task": View(methods=("GET",)),
    "buckets": View(post=("name", "endpoint_url", "region", "bucket", "prefix", "access_key", "secret_key")),
    "bucket-import": View(post=("batch_name",), methods=("POST",)),
    "bucket-remove": View(methods=("POST",)),
    "task-cancel": View(methods=("POST",)),
    "task-download": View(methods=("GET",)),
    "import": View(post=("files", "create_classes", "outside", "overwrite", "background")),
    "batch": View(get=("page",)),
    "move": View(
        post=(
            "to",
            "from",
            "confirm",
            "keep_annotations",
            "images",
            "selection",
            "first",
            "labeler",
            "reviewer",
            "comment",
            "from_page",
        ),
        base_post={"to": "annotating", "selection": "first", "first": "1"},
    ),
    "card-menu": View(get=("from",)),
    "dialog": View(get=("from_page",)),
    "review": View(get=("image",), batch="review"),
    "review-decide": View(post=("image", "decision", "comment"), base_post={"decision": "approve"}, batch="review"),
    "review-finish": View(post=("all", "comment"), batch="review"),
    "review-mark-add": View(
        post=("image", "annotation", "x", "y", "width", "height", "comment"),
        base_post={"x": "1", "y": "1", "width": "5", "height": "5", "comment": "Look"},
        batch="review",
    ),
    "review-mark-delete": View(post=("mark",), batch="review"),
    "priority": View(post=("priority",)),
    "annotate-batch": View(batch="annotating"),
    "annotate": View(batch="annotating"),
    "annotate-save": View(post=("version", "empty", "boxes"), json=True, batch="annotating"),
    "annotate-checked": View(batch="annotating"),
    "annotate-hold": View(batch="annotating"),
    "project-settings": View(post=("review_mode", "form", "reservation_minutes", "reservation_cap")),
    "label-add": View(post=("name", "color", "hotkey")),
    "label-update": View(post=("name", "color", "hotkey")),
    "label-delete": View(post=("confirm",)),
    "project-start-labeling": View(post=("current",)),
    "start-labeling": View(post=("current",)),
    "image-file": View(),
    # boards/views/catalog.py
    "catalog": View(get=(*FILTERS, "before", "after")),
    "catalog-count": View(get=FILTERS),
    "catalog-batch": View(
        post=(*FILTERS, "scope", "images", "sample", "n", "seed", "order", "name", "priority", "step", "next"),
        base_post={"step": "create", "scope": "filter", "name": "From the catalog"},
    ),
    "catalog-tags": View(
        post=(*FILTERS, "tags", "tag_action", "scope", "images", "next"), base_post={"tags": "x", "scope": "filter"}
    ),
    "archived": View(get=("page",)),
    "restore": View(batch="archived"),
    "merge": View(post=("batches", "name"), base_post={"name": "Merged"}),
    # boards/views/workspace_catalog.py
    "workspace-catalog": View(get=(*WORKSPACE_FILTERS, "before", "after")),
    "workspace-catalog-count": View(get=WORKSPACE_FILTERS),
    "workspace-catalog-batch": View(
        post=(
            *WORKSPACE_FILTERS,
            "scope",
            "assets",
            "target",
            "sample",
            "n",
            "seed",
            "order",
            "name",
            "priority",
            "step",
            "next",
        ),
        base_post={"step": "create", "scope": "filter", "target": "parcels", "name": "From the workspace"},
    ),
    "workspace-catalog-delete": View(
        post=(*WORKSPACE_FILTERS, "scope", "assets", "step", "next"), base_post={"step": "delete", "scope": "filter"}
    ),
    "asset-file": View(),
    "dataset-rename": View(post=("name", "next"), base_post={"name": "Renamed"}),
    # accounts/urls.py (the login and password views are Django's own forms)
    "login": View(post=("username", "password")),
    "logout": View(methods=("POST",)),
    "password_change": View(post=("old_password", "new_password1", "new_password2")),
    "password_change_done": View(),
    "api-keys": View(post=("name", "scopes"), base_post={"name": "CI", "scopes": "read"}),
    "api-key-revoke": View(),
    # the API (boards/api.py)
    "api": View(get=("api_key",), api=True),
    "api-root": View(get=("api_key",), api=True),
    "api-openapi": View(methods=("GET",)),
    "api-reference": View(methods=("GET",)),
    "api-upload": View(
        get=("image", "name", "split", "batch", "tag"),
        post=("name", "split", "file"),
        base_get={"name": "photo.jpg"},
        api=True,
    ),
    "api-annotate": View(
        get=("name", "overwrite"), post=("annotationFile", "labelmap"), json=True, base_get={"name": "a.xml"}, api=True
    ),
    "api-workspace": View(api=True),
    "api-datasets": View(api=True),
    "api-dataset": View(api=True),
    "api-project": View(api=True),
    "api-batches": View(post=("name", "imageIds", "priority"), json=True, base_post={"name": "Hostile"}, api=True),
    "api-batch": View(api=True),
    "api-batch-move": View(
        post=("to", "from", "labelerEmail", "reviewerEmail", "images", "keepAnnotations", "comment"),
        json=True,
        base_post={"to": "annotating", "labelerEmail": "labeler@acme.test"},
        api=True,
    ),
    "api-jobs": View(
        post=("batch", "labelerEmail", "reviewerEmail", "num_images", "name"),
        json=True,
        base_post={"labelerEmail": "labeler@acme.test", "num_images": 1},
        api=True,
    ),
    "api-job": View(api=True),
    "api-images": View(post=("images",), json=True, api=True, methods=("DELETE", "POST")),
    "api-image": View(api=True),
    "api-image-tags": View(post=("operation", "tags"), json=True, base_post={"operation": "add"}, api=True),
    "api-image-file": View(api=True),
    "api-search": View(
        post=(
            "offset",
            "limit",
            "tag",
            "class_name",
            "prompt",
            "in_dataset",
            "batch",
            "annotation_job",
            "batch_id",
            "annotation_job_id",
            "like_image",
            "fields",
        ),
        json=True,
        api=True,
    ),
}


def url_patterns(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """(name or route, pattern) of every URL the project serves, the admin and static files aside."""
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin" or route.startswith(("admin/", "static/")):
                continue
            found += url_patterns(entry, route)
        else:
            found.append((entry.name or route, entry))
    return found


def test_every_view_is_listed():
    served = {name for name, _ in url_patterns()}
    assert served - VIEWS.keys() == set(), "list the parameters of these views in VIEWS"
    assert VIEWS.keys() - served == set(), "these views are gone: remove them from VIEWS"


# --- the world the requests act on --------------------------------------------------------


@dataclass
class World:
    manager: object
    labeler: object
    key: str
    batches: dict[str, Batch]
    label: LabelClass
    api_key_id: int
    job_id: int
    task_id: int
    source_id: int

    def batch(self, which: str) -> Batch:
        return self.batches[which]

    def path_args(self, pattern: URLPattern, view: View) -> dict:
        batch = self.batch(view.batch)
        image = batch.images.order_by("pk").first()
        values = {
            "ws": "acme",
            "project": "parcels",
            "batch_id": batch.pk,
            "image_id": image.pk,
            "asset_id": image.asset_id,
            "dataset_id": image.asset.dataset_id,
            "label_id": self.label.pk,
            "key_id": self.api_key_id,
            "job_id": self.job_id,
            "task_id": self.task_id,
            "source_id": self.source_id,
            "status": "unassigned",
            "name": "assign",
            "kind": "thumb",
        }
        return {arg: values[arg] for arg in pattern.pattern.converters}


@pytest.fixture
def world(project, manager, labeler, reviewer, make_key, settings) -> World:
    settings.API_RATE_LIMIT = 0
    label = LabelClass.objects.create(project=project, name="car", hotkey=1)
    batches = {status: BatchFactory(project=project, name=f"{status} batch") for status in ("unassigned", "other")}
    for batch in batches.values():
        for _ in range(2):
            ImageFactory(project=project, batch=batch)
    annotating = BatchFactory(project=project, name="annotating batch")
    review = BatchFactory(project=project, name="review batch")
    for batch in (annotating, review):
        for _ in range(3):
            ImageFactory(project=project, batch=batch)
    result = services.assign(batch=annotating, actor=manager, labeler=manager, reviewer=reviewer)
    services.assign(batch=review, actor=manager, labeler=labeler, reviewer=manager)
    set_images(review.images, annotation_state=AnnotationState.ANNOTATED)
    review = services.submit(batch=Batch.objects.get(pk=review.pk), actor=labeler)
    dataset = BatchFactory(project=project, name="dataset batch", status=BatchStatus.DATASET)
    archived = BatchFactory(project=project, name="archived batch", status=BatchStatus.ARCHIVED)
    for batch in (dataset, archived):
        ImageFactory(project=project, batch=batch)
    key = make_key(manager)
    spare = MembershipFactory(workspace=project.workspace, role=Role.MANAGER, user=UserFactory()).user
    make_key(spare, name="spare key")
    batches |= {
        "annotating": Batch.objects.get(pk=annotating.pk),
        "review": review,
        "dataset": dataset,
        "archived": archived,
    }
    return World(
        manager=manager,
        labeler=labeler,
        key=key,
        batches=batches,
        label=label,
        api_key_id=ApiKey.objects.get(name="spare key").pk,
        job_id=result.job.pk,
        task_id=background.start_export(project=project, actor=manager, fmt="coco").pk,
        source_id=BucketSource.objects.create(
            project=project, name="cam", bucket="photos", access_key="x", secret_key="x", key_hint="x"
        ).pk,
    )


# --- sending ---------------------------------------------------------------------------------


def _send(client: Client, method: str, url: str, *, query: dict, body, view: View, headers: dict):
    from urllib.parse import urlencode

    if query:
        url = f"{url}?{urlencode(query, doseq=True)}"
    if method == "GET":
        return client.get(url, headers=headers)
    if view.json:
        data = body if isinstance(body, str) else json.dumps(body)
        return client.generic(method, url, data.encode(), content_type="application/json", headers=headers)
    if method == "DELETE":
        return client.delete(url, headers=headers)
    return client.post(url, body, headers=headers)


def _requests(view: View, method: str):
    """(query, body) pairs: each parameter alone with each hostile value, on top of the view's valid base."""
    query_names = view.get if method == "GET" or view.api else ()
    body_names = view.post if method != "GET" else ()
    base_query = dict(view.base_get)
    base_body = dict(view.base_post) if method != "GET" else {}
    yield base_query, base_body
    for name in query_names:
        for value in HOSTILE_TEXT:
            yield base_query | {name: value}, base_body
        yield base_query | {name: ["1", "²"]}, base_body  # sent twice
    for name in body_names:
        for value in HOSTILE_JSON if view.json else HOSTILE_TEXT:
            if not view.json and not isinstance(value, str):
                continue
            yield base_query, base_body | {name: value}
        if not view.json:
            yield base_query, base_body | {name: ["1", "²", "\x00"]}  # a list where one value is read
    if view.json and method != "GET":
        for raw in RAW_BODIES:
            yield base_query, raw


def _check(response, what) -> None:
    assert response.status_code < 500, (what, response.status_code, response.content[:300])


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_no_hostile_parameter_gives_a_server_error(name, world, client):
    view = VIEWS[name]
    patterns = dict(url_patterns())
    pattern = patterns[name]
    args = world.path_args(pattern, view)
    url = reverse(name, kwargs=args) if pattern.name else "/" + str(pattern.pattern)
    callers = {"anonymous": {}}
    if view.api:
        callers["key"] = {"Authorization": f"Bearer {world.key}"}
    else:
        client.force_login(world.manager)
        callers["manager"] = {}
    huge_ids = {arg: 10**30 for arg, conv in pattern.pattern.converters.items() if isinstance(conv, IntConverter)}
    if huge_ids:
        client.force_login(world.manager)
        huge = reverse(name, kwargs=args | huge_ids)
        for method in view.methods:
            _check(_send(client, method, huge, query={}, body={}, view=view, headers={}), ("huge path id", method))
    for who, headers in callers.items():
        if who == "anonymous":
            anonymous = Client()
            for method in view.methods:
                _check(_send(anonymous, method, url, query={}, body={}, view=view, headers={}), (who, method))
            continue
        for method in view.methods:
            for query, body in _requests(view, method):
                response = _send(client, method, url, query=query, body=body, view=view, headers=headers)
                _check(response, (who, method, query if len(str(query)) < 300 else "…", str(body)[:300]))


# --- the cases that answered 500 ----------------------------------------------------------------


def _catalog(world):
    return reverse("catalog", args=["acme", "parcels"])


def _batch_url(name, batch, *extra):
    return reverse(name, args=["acme", "parcels", batch.pk, *extra])


HUGE = "9" * 23


def _expect_400(response, *words):
    assert response.status_code == 400, (response.status_code, response.content[:500])
    text = response.content.decode()
    for word in words:
        assert word in text, (word, text[:2000])


def test_a_unicode_digit_cursor_on_the_catalog_is_refused(world, client):
    client.force_login(world.manager)
    _expect_400(client.get(_catalog(world), {"before": "²"}), "whole number")


def test_a_huge_batch_filter_on_the_catalog_and_its_count_is_refused(world, client):
    client.force_login(world.manager)
    page = client.get(_catalog(world), {"batch": HUGE})
    assert page.status_code == 200 and "not a valid id" in page.content.decode()  # the filter form says why
    count = client.get(reverse("catalog-count", args=["acme", "parcels"]), {"batch": HUGE})
    _expect_400(count, "not a valid id")


@pytest.mark.parametrize("query", [{"seed": "²"}, {"split": "²,1,1"}, {"seed": HUGE}, {"split": f"{HUGE},1,1"}])
def test_hostile_seeds_and_splits_on_export_are_refused(world, client, query):
    client.force_login(world.manager)
    response = client.get(reverse("export", args=["acme", "parcels"]), {"format": "coco", **query})
    _expect_400(response, "whole number" if "seed" in query else "split")


def test_a_unicode_digit_image_on_review_is_refused(world, client):
    client.force_login(world.manager)
    _expect_400(client.get(_batch_url("review", world.batch("review")), {"image": "²"}), "not a valid id")


def test_a_unicode_digit_priority_on_catalog_batch_creation_is_refused(world, client):
    client.force_login(world.manager)
    data = {"step": "create", "scope": "filter", "state": "free", "name": "New", "priority": "²"}
    _expect_400(client.post(reverse("catalog-batch", args=["acme", "parcels"]), data), "Priority")


@pytest.mark.parametrize("value", ["²", HUGE])
def test_hostile_batch_ids_on_merge_are_refused(world, client, value):
    client.force_login(world.manager)
    data = {"batches": [str(world.batch("unassigned").pk), value], "name": "Merged"}
    _expect_400(client.post(reverse("merge", args=["acme", "parcels"]), data), "not a valid id")
    assert Batch.objects.filter(name="Merged").count() == 0


def test_a_huge_first_on_a_move_is_refused(world, client, labeler):
    client.force_login(world.manager)
    batch = world.batch("unassigned")
    data = {"to": "annotating", "labeler": labeler.pk, "selection": "first", "first": "99999999999999999999999"}
    _expect_400(client.post(_batch_url("move", batch), data), "How many images")
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED


def test_a_huge_offset_on_show_more_is_refused(world, client):
    client.force_login(world.manager)
    response = client.get(reverse("column-more", args=["acme", "parcels", "unassigned"]), {"offset": HUGE})
    _expect_400(response, "offset")


def test_a_deeply_nested_body_on_the_editor_save_is_refused(world, client):
    client.force_login(world.manager)
    batch = world.batch("annotating")
    url = _batch_url("annotate-save", batch, batch.images.order_by("pk").first().pk)
    response = client.post(url, "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert "nests too deeply" in response.json()["error"]["message"]


def test_a_huge_num_images_on_api_job_creation_is_refused(world, client):
    body = {"batch": world.batch("unassigned").pk, "labelerEmail": "labeler@acme.test", "num_images": 10**30}
    response = client.post(
        "/api/acme/parcels/jobs", json.dumps(body), content_type="application/json", headers=_bearer(world)
    )
    assert response.status_code == 400
    assert "num_images" in response.json()["error"]["message"]
    assert Batch.objects.get(pk=world.batch("unassigned").pk).status == BatchStatus.UNASSIGNED


def test_a_nul_in_the_api_upload_name_is_refused(world, client):
    response = client.post("/api/dataset/parcels/upload?name=cam%00.jpg", {"file": _jpeg()}, headers=_bearer(world))
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]["message"]


def _bearer(world) -> dict:
    return {"Authorization": f"Bearer {world.key}"}


def _jpeg():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("cam.jpg", jpeg_bytes(), content_type="image/jpeg")


def test_an_htmx_request_with_a_bad_parameter_gets_a_toast(world, client):
    client.force_login(world.manager)
    response = client.get(
        reverse("column-more", args=["acme", "parcels", "unassigned"]), {"offset": "²"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert response["HX-Reswap"] == "none"
    assert "whole number" in json.loads(response["HX-Trigger"])["toast"]["message"]
