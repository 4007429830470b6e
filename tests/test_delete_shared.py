"""Deleting a batch keeps the pictures other projects use: the dialog says which stay and why, and they do."""

import html
import re

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from boards import selectors, services
from boards.models import Asset, Batch, Image
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def upload(manager, image_file):
    """Upload ``n`` distinct pictures to ``project`` as one batch; the batch."""

    def make(project, n, *, start=0):
        files = [image_file(f"p{i}.jpg", color=(i, 2 * i, 200 - i)) for i in range(start, start + n)]
        return services.upload_images(project=project, actor=manager, files=files).batch

    return make


@pytest.fixture
def share(manager):
    """Give ``other`` a batch of these images' pictures, as "Add batch to project" does."""

    def give(other, images, name="Shared"):
        ids = [image.asset_id for image in images]
        return services.add_batch_to_project(project=other, actor=manager, name=name, asset_ids=ids).batch

    return give


def project_named(workspace, name, slug):
    return ProjectFactory(workspace=workspace, name=name, slug=slug)


def images_of(batch) -> list[Image]:
    return list(Image.objects.filter(placement__batch=batch).order_by("pk"))


def dialog_text(response) -> str:
    """The delete dialog's words, as a person reads them: tags out, spaces collapsed."""
    assert response.status_code == 200, response.content[:300]
    page = response.content.decode()
    found = re.search(r'<dialog[^>]*id="delete-dialog".*?</dialog>', page, re.S)
    assert found, page[:500]
    return (
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split()).replace(" ,", ",").replace(" .", ".")
    )


def ask_to_delete(client, user, batch, *, htmx=True):
    client.force_login(user)
    url = reverse("move", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    return client.post(url, {"to": "delete", "from": "unassigned"}, headers=HTMX if htmx else {})


def stored(names) -> dict[str, bool]:
    return {name: default_storage.exists(name) for name in names}


# --- the dialog ------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False])
def test_the_dialog_says_how_many_go_and_which_project_keeps_the_rest(
    client, manager, project, upload, share, htmx, workspace
):
    batch = upload(project, 5)
    share(project_named(workspace, "Signs", "signs"), images_of(batch)[:3])
    text = dialog_text(ask_to_delete(client, manager, batch, htmx=htmx))
    assert "2 images go for good, 3 stay because project Signs uses them." in text
    assert "Delete 2 images, keep 3" in text
    assert Batch.objects.filter(pk=batch.pk).exists()  # asked, nothing deleted


def test_several_projects_are_named_and_a_picture_two_of_them_use_counts_once(
    client, manager, project, upload, share, workspace
):
    batch = upload(project, 5)
    a, b, c, d, _e = images_of(batch)
    share(project_named(workspace, "Signs", "signs"), [a, b, c])
    share(project_named(workspace, "Cars", "cars"), [c, d])
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "1 image goes for good, 4 stay because Signs and Cars use them." in text
    assert "Delete 1 image, keep 4" in text


def test_one_picture_kept_is_spoken_of_in_the_singular(client, manager, project, upload, share, workspace):
    batch = upload(project, 3)
    share(project_named(workspace, "Signs", "signs"), images_of(batch)[:1])
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "2 images go for good, 1 stays because project Signs uses it." in text


def test_when_every_picture_is_used_elsewhere_none_goes(client, manager, project, upload, share, workspace):
    batch = upload(project, 2)
    share(project_named(workspace, "Signs", "signs"), images_of(batch))
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "no image goes for good, 2 stay because project Signs uses them." in text
    assert "Delete the batch, keep its 2 images" in text


def test_a_batch_no_other_project_shares_keeps_the_plain_warning(client, manager, project, upload, workspace):
    batch = upload(project, 3)
    project_named(workspace, "Signs", "signs")
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "the batch and its 3 images are removed, files included." in text
    assert "Delete 3 images" in text and "stay" not in text


def test_many_projects_are_summed_up_after_the_first_three(client, manager, project, upload, share, workspace):
    batch = upload(project, 6)
    images = images_of(batch)
    for n, name in enumerate(["Alpha", "Bravo", "Charlie", "Delta", "Echo"]):
        share(project_named(workspace, name, name.lower()), images[: 5 - n])  # Alpha uses most
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "1 image goes for good, 5 stay because Alpha, Bravo, Charlie and 2 other projects use them." in text


def test_project_names_are_escaped(client, manager, project, upload, share, workspace):
    batch = upload(project, 2)
    share(project_named(workspace, "<b>Signs</b> & Co", "signs"), images_of(batch)[:1])
    response = ask_to_delete(client, manager, batch)
    assert "&lt;b&gt;Signs&lt;/b&gt; &amp; Co" in response.content.decode()
    assert "because project <b>Signs</b> & Co uses it." in dialog_text(response)


def test_the_dialog_page_without_javascript_says_the_same(client, manager, project, upload, share, workspace):
    batch = upload(project, 4)
    share(project_named(workspace, "Signs", "signs"), images_of(batch)[:1])
    client.force_login(manager)
    url = reverse("dialog", args=["acme", "parcels", batch.pk, "delete"])
    text = dialog_text(client.get(url))
    assert "3 images go for good, 1 stays because project Signs uses it." in text


def test_pictures_of_another_workspace_do_not_count(client, manager, project, upload, outsider, image_file):
    batch = upload(project, 2)
    theirs = ProjectFactory(workspace=outsider.memberships.get().workspace, slug="theirs")
    services.upload_images(project=theirs, actor=outsider, files=[image_file("p0.jpg", color=(0, 0, 200))])
    assert Image.objects.filter(project=theirs, sha256=images_of(batch)[0].sha256).exists()
    text = dialog_text(ask_to_delete(client, manager, batch))
    assert "the batch and its 2 images are removed" in text


# --- the reads ---------------------------------------------------------------------------------


def test_shared_elsewhere_counts_by_project_most_first_and_tells_same_names_apart(
    project, upload, share, workspace, django_assert_num_queries
):
    batch = upload(project, 4)
    a, b, c, _d = images_of(batch)
    share(project_named(workspace, "Signs", "signs"), [a])
    share(project_named(workspace, "Signs", "signs-2"), [a, b])
    share(project_named(workspace, "Cars", "cars"), [a, b, c])
    with django_assert_num_queries(1):
        shared = selectors.shared_elsewhere(batch)
    assert list(shared.items()) == [("Cars", 3), ("Signs (signs-2)", 2), ("Signs (signs)", 1)]
    assert selectors.kept_on_delete(batch) == 3
    assert selectors.shared_elsewhere(Batch.objects.get(project__slug="cars")) == {
        "Parcels": 3,
        "Signs (signs-2)": 2,
        "Signs (signs)": 1,
    }


# --- the services ------------------------------------------------------------------------------


def test_deleting_the_batch_keeps_shared_pictures_and_their_files_and_drops_the_rest(
    manager, project, upload, share, workspace, django_capture_on_commit_callbacks
):
    batch = upload(project, 4)
    images = images_of(batch)
    signs = project_named(workspace, "Signs", "signs")
    share(signs, images[:2])
    kept, gone = images[:2], images[2:]
    files = {image.pk: [image.file.name, image.thumbnail.name] for image in images}
    assert all(stored(sum(files.values(), [])).values())

    with django_capture_on_commit_callbacks(execute=True):
        assert services.delete_batch(batch=batch, actor=manager) == 4

    assert not Image.objects.filter(project=project).exists()
    assert set(Asset.objects.values_list("pk", flat=True)) == {image.asset_id for image in kept}
    assert sorted(Image.objects.filter(project=signs).values_list("asset_id", flat=True)) == sorted(
        image.asset_id for image in kept
    )
    for image in kept:
        assert all(stored(files[image.pk]).values()), files[image.pk]
        assert default_storage.exists(Image.objects.get(project=signs, asset_id=image.asset_id).file.name)
    for image in gone:
        assert not any(stored(files[image.pk]).values()), files[image.pk]


def test_deleting_images_keeps_those_another_project_uses(
    manager, project, upload, share, workspace, django_capture_on_commit_callbacks
):
    batch = upload(project, 3)
    images = images_of(batch)
    share(project_named(workspace, "Signs", "signs"), images[:1])
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_images(project=project, actor=manager, image_ids=[image.pk for image in images])
    assert list(Asset.objects.values_list("pk", flat=True)) == [images[0].asset_id]
    assert default_storage.exists(images[0].file.name) and default_storage.exists(images[0].thumbnail.name)
    assert not any(default_storage.exists(image.file.name) for image in images[1:])
    assert not any(default_storage.exists(image.thumbnail.name) for image in images[1:])


def test_the_other_project_can_delete_its_copy_later_and_then_the_files_go(
    manager, project, upload, share, workspace, django_capture_on_commit_callbacks
):
    batch = upload(project, 2)
    images = images_of(batch)
    signs = project_named(workspace, "Signs", "signs")
    theirs = share(signs, images)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_batch(batch=batch, actor=manager)
    assert Asset.objects.count() == 2 and all(default_storage.exists(i.file.name) for i in images)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delete_batch(batch=Batch.objects.get(pk=theirs.pk), actor=manager) == 2
    assert not Asset.objects.exists() and not Image.objects.exists()
    assert not any(default_storage.exists(name) for i in images for name in (i.file.name, i.thumbnail.name))
