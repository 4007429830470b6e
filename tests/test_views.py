"""Pages: login, home, board, upload, batch actions, image files; tenancy is 404."""

import re

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from boards import services
from boards.models import AnnotationState, Batch, BatchStatus, Image
from tests.board_html import parse_board
from tests.factories import BatchFactory, ImageFactory, ProjectFactory, jpeg_bytes, set_images

pytestmark = pytest.mark.django_db


def board_url(project):
    return reverse("board", args=[project.workspace.slug, project.slug])


def batch_url(batch):
    return reverse("batch", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])


def move_url(batch):
    return reverse("move", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])


def priority_url(batch):
    return reverse("priority", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])


def test_it_sends_anonymous_visitors_to_login(client, project):
    response = client.get(board_url(project))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_login_page_logs_in_by_email(client, manager):
    page = client.get(reverse("login"))
    assert b"Log in to Batchboard" in page.content
    response = client.post(reverse("login"), {"username": "manager@acme.test", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_a_wrong_password_says_so(client, manager):
    response = client.post(reverse("login"), {"username": "manager@acme.test", "password": "nope"})
    assert response.status_code == 200 and b"didn\xe2\x80\x99t match" in response.content


def test_password_change_works(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("password_change"),
        {"old_password": "pw", "new_password1": "a-much-longer-secret-9", "new_password2": "a-much-longer-secret-9"},
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.check_password("a-much-longer-secret-9")


def test_logout_needs_a_post(client, manager):
    client.force_login(manager)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_home_lists_only_the_users_workspaces_with_counts(client, manager, project, outsider, make_batch):
    make_batch(2)
    make_batch(1)
    ProjectFactory(workspace=outsider.memberships.get().workspace, name="Secret project")
    client.force_login(manager)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Parcels" in response.content and b"Secret project" not in response.content
    project_row = response.context["workspaces"][project.workspace][0]
    assert project_row.n_unassigned == 2


@pytest.mark.parametrize(
    ("who", "sees_review"), [("manager", True), ("reviewer", True), ("labeler", False), ("viewer", False)]
)
def test_the_review_column_is_shown_only_to_reviewers(who, sees_review, personas, client, project):
    client.force_login(personas[who])
    response = client.get(board_url(project))
    assert response.status_code == 200
    statuses = list(parse_board(response.content))
    assert ("review" in statuses) is sees_review
    assert (b'id="column-review"' in response.content) is sees_review


def test_the_review_column_is_hidden_without_review_mode(client, manager, project):
    project.review_mode = False
    project.save()
    client.force_login(manager)
    assert list(parse_board(client.get(board_url(project)).content)) == [
        "unassigned",
        "annotating",
        "dataset",
    ]


def test_the_board_groups_cards_by_status_and_priority(client, manager, project):
    low = BatchFactory(project=project, name="low", priority=5)
    high = BatchFactory(project=project, name="high", priority=1)
    BatchFactory(project=project, name="gone", status=BatchStatus.ARCHIVED)
    client.force_login(manager)
    columns = parse_board(client.get(board_url(project)).content)
    assert columns["unassigned"].names == [high.name, low.name]


def _fill_board(project, labeler, n):
    from boards.models import Job

    for i in range(n):
        status = [BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET][i % 4]
        batch = BatchFactory(project=project, priority=1 + i % 5, status=status)
        for _ in range(2):
            ImageFactory(project=project, batch=batch)
        if status != BatchStatus.UNASSIGNED:
            Job.objects.create(batch=batch, labeler=labeler)


def _board_queries(client, project) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(board_url(project)).status_code == 200
    return len(queries.captured_queries)


def test_the_board_needs_a_constant_number_of_queries(client, manager, labeler, project, django_assert_max_num_queries):
    """Cold (nothing cached) and warm, 8 batches or 200: the same number of queries."""
    _fill_board(project, labeler, 8)
    client.force_login(manager)
    client.get(board_url(project))  # the session's first request reads a little more
    caches["boards"].clear()
    cold = _board_queries(client, project)
    warm = _board_queries(client, project)
    assert warm < cold <= 14  # session, user, project, role, version, totals, 4 columns, batches, counts, thumbs, jobs
    _fill_board(project, labeler, 192)
    caches["boards"].clear()
    with django_assert_max_num_queries(cold):
        response = client.get(board_url(project))
    columns = parse_board(response.content)
    assert sum(c.count for c in columns.values()) == 200
    assert [len(c.cards) for c in columns.values()] == [50, 50, 50, 50]
    card = columns["annotating"].cards[0]
    assert (card.images, card.thumbnails, card.jobs) == (2, 2, 1)
    with django_assert_max_num_queries(warm):
        assert parse_board(client.get(board_url(project)).content) == columns


def _counted_batches(sql: str) -> set[int]:
    """The batches a counting query names: ``"batch_id" = 9`` (a batch's placements) or ``"batch_id" IN (9, 10)``."""
    named = {int(pk) for pk in re.findall(r'"batch_id" = (\d+)', sql)}
    for listed in re.findall(r'"batch_id" IN \(([\d, ]+)\)', sql):
        named |= {int(pk) for pk in listed.split(",")}
    return named


def test_a_board_with_cached_cards_counts_only_the_changed_ones(client, manager, labeler, project):
    """After a move, only the moved batch's images are counted again; the other cards come from the cache."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _fill_board(project, labeler, 12)
    moved = Batch.objects.filter(project=project, status=BatchStatus.UNASSIGNED).first()
    client.force_login(manager)
    client.get(board_url(project))
    services.archive(batch=moved, actor=manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(board_url(project))
    counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"] and "boards_image" in q["sql"]]
    assert counting == []  # the archived batch left the board; nothing else changed
    assert moved.name not in {n for c in parse_board(response.content).values() for n in c.names}
    other = Batch.objects.filter(project=project, status=BatchStatus.UNASSIGNED).first()
    ImageFactory(project=project, batch=other)
    Batch.objects.filter(pk=other.pk).update(updated_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        response = client.get(board_url(project))
    counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"] and "boards_image" in q["sql"]]
    assert len(counting) == 1 and _counted_batches(counting[0]) == {other.pk}
    card = next(c for c in parse_board(response.content)["unassigned"].cards if c.id == other.pk)
    assert card.images == 3


@pytest.mark.parametrize("name", ["board", "upload"])
def test_other_workspaces_projects_are_404(name, client, outsider, project):
    client.force_login(outsider)
    assert client.get(reverse(name, args=[project.workspace.slug, project.slug])).status_code == 404


def test_other_workspaces_batches_and_images_are_404(client, outsider, make_batch):
    batch = make_batch(1)
    image = batch.images.get()
    client.force_login(outsider)
    assert client.get(batch_url(batch)).status_code == 404
    assert client.post(move_url(batch), {"to": "delete", "confirm": "yes"}).status_code == 404
    assert client.get(reverse("image-file", args=[image.pk, "thumb"])).status_code == 404
    assert Batch.objects.filter(pk=batch.pk).exists()


def test_a_batch_id_from_another_project_is_404(client, manager, workspace):
    mine = ProjectFactory(workspace=workspace)
    batch = BatchFactory(project=ProjectFactory(workspace=workspace))
    client.force_login(manager)
    url = reverse("batch", args=[workspace.slug, mine.slug, batch.pk])
    assert client.get(url).status_code == 404


def test_members_get_image_files(client, viewer, make_batch):
    image = make_batch(1).images.get()
    client.force_login(viewer)
    response = client.get(reverse("image-file", args=[image.pk, "original"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_the_upload_page_takes_many_files_and_reports_each(client, manager, project):
    client.force_login(manager)
    files = [
        ("a.jpg", jpeg_bytes(color=(1, 1, 1))),
        ("b.jpg", jpeg_bytes(color=(2, 2, 2))),
        ("c.txt", b"not an image"),
    ]
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("upload", args=[project.workspace.slug, project.slug]),
        {"files": [SimpleUploadedFile(n, d) for n, d in files], "name": "From the browser"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["landed"] == 2 and body["rejected"] == 1 and body["batch"]["name"] == "From the browser"
    assert [f["status"] for f in body["files"]] == ["landed", "landed", "rejected"]
    assert Image.objects.filter(placement__batch_id=body["batch"]["id"]).count() == 2


def test_the_upload_page_renders_results_for_a_plain_post(client, manager, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(manager)
    response = client.post(
        reverse("upload", args=[project.workspace.slug, project.slug]),
        {"files": [SimpleUploadedFile("x.txt", b"nope")]},
    )
    assert response.status_code == 422
    assert b"No image landed" in response.content and b"x.txt" in response.content


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_the_upload_endpoint_refuses_non_managers(who, personas, client, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(personas[who])
    response = client.post(
        reverse("upload", args=[project.workspace.slug, project.slug]),
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes())]},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "forbidden"
    assert not Image.objects.exists()


def test_assign_through_the_batch_page(client, manager, labeler, make_batch):
    batch = make_batch(3)
    client.force_login(manager)
    page = client.get(batch_url(batch))
    assert page.status_code == 200 and [m.target for m in page.context["moves"]] == ["annotating", "archived", "delete"]
    assert b"Delete batch and its 3 images" in page.content
    dialog = client.get(reverse("dialog", args=["acme", "parcels", batch.pk, "assign"]), {"from_page": "batch"})
    assert b'name="from_page" value="batch"' in dialog.content
    response = client.post(move_url(batch), {"to": "annotating", "labeler": labeler.pk, "from_page": "batch"})
    assert response.status_code == 302 and response["Location"] == batch_url(batch)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ANNOTATING and batch.current_job.labeler == labeler


def test_assigning_a_selection_through_the_page_splits(client, manager, labeler, make_batch):
    batch = make_batch(4)
    ids = list(batch.images.values_list("pk", flat=True))[:1]
    client.force_login(manager)
    client.post(move_url(batch), {"to": "annotating", "labeler": labeler.pk, "images": ids, "from_page": "batch"})
    assert Batch.objects.count() == 2
    assert Image.objects.filter(placement__batch=batch).count() == 1


@pytest.mark.parametrize("to", ["dataset", "annotating"])
@pytest.mark.parametrize("who", ["labeler", "viewer"])
def test_the_server_refuses_review_actions_from_public_users(to, who, personas, client, manager, labeler, make_batch):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    client.force_login(personas[who])
    response = client.post(move_url(batch), {"to": to, "from_page": "batch"})
    assert response.status_code == 403
    assert b"do not have permission to review" in response.content
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW


def test_delete_outside_unassigned_answers_409_with_the_reason(client, manager, labeler, make_batch):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    client.force_login(manager)
    response = client.post(move_url(batch), {"to": "delete", "confirm": "yes", "from_page": "batch"})
    assert response.status_code == 409
    assert "Move it to Unassigned first" in response.content.decode()
    assert response.context["batch"] == batch
    assert Image.objects.filter(placement__batch=batch).count() == 2


def test_delete_from_the_batch_page_lands_on_the_board(client, manager, make_batch):
    batch = make_batch(2)
    client.force_login(manager)
    response = client.post(move_url(batch), {"to": "delete", "confirm": "yes", "from_page": "batch"})
    assert response.status_code == 302 and response["Location"] == board_url(batch.project)
    assert not Batch.objects.exists() and not Image.objects.exists()


def test_an_htmx_move_from_the_batch_page_redirects_back_to_it(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    data = {"to": "archived", "confirm": "yes", "from_page": "batch"}
    response = client.post(move_url(batch), data, headers={"hx-request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"] == batch_url(batch)


def test_bad_priority_is_a_400(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    assert client.post(priority_url(batch), {"priority": "9"}).status_code == 400
    assert client.post(priority_url(batch), {"priority": "x"}).status_code == 400
    assert client.post(priority_url(batch), {"priority": "1"}).status_code == 302
    assert Batch.objects.get(pk=batch.pk).priority == 1


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_priority_is_for_managers(who, personas, client, make_batch):
    batch = make_batch(1)
    client.force_login(personas[who])
    assert client.post(priority_url(batch), {"priority": "1"}).status_code == 403
    assert Batch.objects.get(pk=batch.pk).priority == 3


def test_a_viewer_sees_no_actions(client, viewer, make_batch):
    client.force_login(viewer)
    response = client.get(batch_url(make_batch(2)))
    assert response.context["moves"] == [] and not response.context["can_prioritize"]
    assert b'id="actions-title"' not in response.content


def test_priority_from_the_card_menu_moves_the_card_out_of_band(client, manager, project):
    first = BatchFactory(project=project, name="first", priority=2)
    second = BatchFactory(project=project, name="second", priority=3)
    client.force_login(manager)
    response = client.post(priority_url(second), {"priority": "1"}, headers={"hx-request": "true"})
    assert response.status_code == 200 and "now has priority 1" in response["HX-Trigger"]
    html = response.content.decode()
    assert f'id="batch-{second.pk}" hx-swap-oob="delete"' in html
    assert f'hx-swap-oob="beforebegin:#batch-{first.pk}"' in html and "batch-card prio-1" in html
    assert parse_board(client.get(board_url(project)).content)["unassigned"].names == ["second", "first"]


def test_the_same_priority_again_changes_nothing_on_the_board(client, manager, project):
    batch = BatchFactory(project=project, priority=2)
    client.force_login(manager)
    response = client.post(priority_url(batch), {"priority": "2"}, headers={"hx-request": "true"})
    assert response.status_code == 204 and "already has priority 2" in response["HX-Trigger"]


@pytest.mark.parametrize(("who", "offered"), [("manager", True), ("reviewer", False), ("viewer", False)])
def test_the_card_menu_offers_priority_to_managers(who, offered, personas, client, make_batch):
    batch = make_batch(1)
    client.force_login(personas[who])
    menu = client.get(reverse("card-menu", args=["acme", "parcels", batch.pk]), headers={"hx-request": "true"})
    assert ('class="menu-priority"' in menu.content.decode()) is offered
    if offered:
        assert menu.content.count(b'name="priority"') == 5 and b'value="3" aria-pressed="true"' in menu.content
