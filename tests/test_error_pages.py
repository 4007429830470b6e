"""Refused and missing pages: the app's layout, the reason and a way back; a toast for htmx, JSON for scripts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from boards import services
from boards.models import AnnotationState, Batch, Image
from tests.factories import MembershipFactory, jpeg_bytes, set_images

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def purl(name, project, *args):
    return reverse(name, args=[project.workspace.slug, project.slug, *args])


@pytest.fixture
def other_labeler(workspace):
    return MembershipFactory(workspace=workspace, role=Role.LABELER).user


@pytest.fixture
def assigned(make_batch, manager, labeler, reviewer):
    batch = make_batch(2, name="Dock 4")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    return Batch.objects.get(pk=batch.pk)


@pytest.fixture
def in_review(make_batch, manager, labeler, reviewer):
    batch = make_batch(2, name="Gate 7")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)


def assert_styled(response, status, message, *, back: list[str]):
    """The page is the app's (top bar, title), says why, and links back."""
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert 'class="topbar"' in content and 'class="error-page"' in content
    assert "403 Forbidden" not in content and "<h1>Not Found</h1>" not in content
    assert message in content, content
    assert f'href="{reverse("home")}"' in content
    for href in back:
        assert f'href="{href}"' in content, href
    template = {403: "403.html", 404: "404.html"}.get(status, "error.html")
    assert template in [t.name for t in response.templates] and "base.html" in [t.name for t in response.templates]


# --- 403: the app's own message ------------------------------------------------------------------


def test_the_editor_of_someone_elses_batch_says_whose_it_is(client, other_labeler, project, assigned):
    client.force_login(other_labeler)
    image = assigned.images.first()
    for url in (purl("annotate-batch", project, assigned.pk), purl("annotate", project, assigned.pk, image.pk)):
        response = client.get(url)
        assert_styled(
            response,
            403,
            "This batch is assigned to someone else.",
            back=[purl("batch", project, assigned.pk), purl("board", project)],
        )
        assert "Back to the batch “Dock 4”" in response.content.decode()


def test_a_viewer_in_the_editor_hears_that_the_role_only_looks(client, viewer, project, assigned):
    client.force_login(viewer)
    response = client.get(purl("annotate-batch", project, assigned.pk))
    assert_styled(
        response, 403, "may look at batches but not edit their boxes", back=[purl("batch", project, assigned.pk)]
    )


@pytest.mark.parametrize("who", ["labeler", "viewer"])
def test_the_review_page_refuses_with_the_reason(who, personas, client, project, in_review):
    client.force_login(personas[who])
    response = client.get(purl("review", project, in_review.pk))
    assert_styled(
        response,
        403,
        "You do not have permission to review this batch.",
        back=[purl("batch", project, in_review.pk), purl("board", project)],
    )


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_settings_and_import_refuse_with_the_reason(who, personas, client, project):
    client.force_login(personas[who])
    assert_styled(
        client.get(purl("project-settings", project)),
        403,
        "Only the project&#x27;s managers and owners may change its settings.",
        back=[purl("board", project)],
    )
    assert_styled(
        client.get(purl("import", project)),
        403,
        "Only the project&#x27;s managers and owners may import annotations.",
        back=[purl("board", project)],
    )


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_the_upload_page_refuses_with_a_page_not_bare_text(who, personas, client, project):
    client.force_login(personas[who])
    message = "You do not have permission to upload images to this project."
    assert_styled(client.get(purl("upload", project)), 403, message, back=[purl("board", project)])
    posted = client.post(purl("upload", project), {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes())]})
    assert_styled(posted, 403, message, back=[purl("board", project)])
    scripted = client.post(
        purl("upload", project),
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes())]},
        headers={"accept": "application/json"},
    )
    assert scripted.status_code == 403 and scripted.json()["error"] == {"message": message, "type": "forbidden"}
    assert not Image.objects.exists()


@pytest.mark.parametrize("name", ["assign", "delete", "archive"])
@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_a_dialog_url_refuses_with_a_page_and_htmx_with_a_toast(name, who, personas, client, project, make_batch):
    batch = make_batch(2, name="Yard")
    client.force_login(personas[who])
    url = purl("dialog", project, batch.pk, name)
    response = client.get(url)
    assert_styled(
        response, 403, "You do not have permission to", back=[purl("batch", project, batch.pk), purl("board", project)]
    )
    htmx = client.get(url, headers=HTMX)
    assert htmx.status_code == 403 and htmx["HX-Reswap"] == "none"
    assert "You do not have permission to" in htmx["HX-Trigger"] and "topbar" not in htmx.content.decode()


def test_a_refused_catalog_action_gets_the_page_too(client, viewer, project):
    client.force_login(viewer)
    response = client.post(purl("catalog-batch", project), {"scope": "ids", "name": "X", "step": "create"})
    assert_styled(
        response, 403, "You do not have permission to create batches in this project.", back=[purl("board", project)]
    )


def test_a_service_refusal_uses_the_same_page(client, manager, project, make_batch):
    """The services' errors (here a parameter the view cannot read) share the one error page design."""
    batch = make_batch(1)
    client.force_login(manager)
    response = client.get(purl("batch", project, batch.pk), {"page": "x"})
    assert_styled(response, 400, "page", back=[purl("batch", project, batch.pk), purl("board", project)])


# --- 404: never another workspace's existence ----------------------------------------------------------


def test_another_workspaces_project_looks_like_no_project(client, outsider, project, make_batch):
    batch = make_batch(1, name="Secret batch")
    client.force_login(outsider)
    real = client.get(purl("batch", project, batch.pk))
    made_up = client.get(reverse("batch", args=["acme", "no-such-project", batch.pk]))
    for response in (real, made_up):
        assert_styled(response, 404, "No such project.", back=[])
        content = response.content.decode()
        assert "Parcels" not in content and "Secret batch" not in content and "Acme" not in content
        assert purl("board", project) not in content
    assert real.content.decode().split('id="main"')[1] == made_up.content.decode().split('id="main"')[1]


def test_a_missing_batch_in_ones_own_project_links_back_to_the_board(client, labeler, project):
    client.force_login(labeler)
    response = client.get(purl("batch", project, 999_999))
    assert_styled(response, 404, "This batch does not exist, or someone deleted it.", back=[purl("board", project)])


def test_an_unknown_address_gets_the_styled_404(client, labeler):
    client.force_login(labeler)
    response = client.get("/no/such/page/")
    assert_styled(response, 404, "There is no such page here.", back=[])
    assert "Resolver404" not in response.content.decode()


def test_htmx_gets_a_toast_for_a_404(client, labeler, project):
    client.force_login(labeler)
    response = client.get(purl("batch", project, 999_999) + "menu", headers=HTMX)
    assert response.status_code == 404 and response["HX-Reswap"] == "none" and "toast" in response["HX-Trigger"]


# --- the API keeps its JSON ---------------------------------------------------------------------------


def test_the_api_keeps_answering_json(client, labeler, make_key, project):
    from tests.api_support import Api

    api = Api(client, make_key(labeler))
    missing = api.get("/acme/no-such-project")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")
    assert client.get("/api/nothing/here/").json()["error"]["message"]
