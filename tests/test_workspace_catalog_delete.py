"""Deleting images of the workspace catalog that no project uses (the pictures a deleted project left)."""

from __future__ import annotations

import html

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from boards import catalog, services
from boards.models import Asset, Dataset, Image, Project
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, NotFound, WrongState
from tests.factories import ProjectFactory, WorkspaceFactory
from tests.test_workspace_catalog_views import make_assets, use

pytestmark = pytest.mark.django_db


@pytest.fixture
def loose(workspace):
    return Dataset.objects.create(workspace=workspace, name="Loose")


@pytest.fixture
def signs(workspace):
    return ProjectFactory(workspace=workspace, name="Signs", slug="signs")


def upload(project, actor, image_file, *names_colors):
    files = [image_file(name, color=color) for name, color in names_colors]
    return services.upload_images(project=project, actor=actor, files=files)


def left_behind(project, manager, image_file, signs, *, shared: int = 1, own: int = 2) -> tuple[list, list]:
    """Pictures of a project that is then deleted: ``own`` only it used, ``shared`` that Signs uses too.
    Returns (the assets in no project now, the assets Signs keeps)."""
    colors = [(20 * n, 7, 9) for n in range(shared + own)]
    upload(project, manager, image_file, *[(f"gone-{n}.jpg", c) for n, c in enumerate(colors)])
    assets = list(Asset.objects.order_by("pk"))
    services.add_batch_to_project(project=signs, actor=manager, name="Kept", asset_ids=[a.pk for a in assets[:shared]])
    Project.objects.filter(pk=project.pk).delete()
    return assets[shared:], assets[:shared]


def stored(asset: Asset) -> bool:
    return default_storage.exists(asset.file.name) and default_storage.exists(asset.thumbnail.name)


def test_images_in_no_project_go_for_good_with_their_files_and_used_ones_stay(
    project, signs, manager, image_file, workspace, django_capture_on_commit_callbacks
):
    nowhere, used = left_behind(project, manager, image_file, signs)
    assert all(stored(a) for a in nowhere + used)

    before = services.catalog_deletion(workspace, filters=catalog.WorkspaceFilter())
    assert (before.unused, before.used) == (2, 1)
    with django_capture_on_commit_callbacks(execute=True):
        done = services.delete_catalog_images(workspace=workspace, actor=manager, filters=catalog.WorkspaceFilter())

    assert (done.unused, done.used) == (2, 1)
    assert list(Asset.objects.values_list("pk", flat=True)) == [used[0].pk]
    assert not any(default_storage.exists(a.file.name) or default_storage.exists(a.thumbnail.name) for a in nowhere)
    assert stored(used[0]) and Image.objects.filter(project=signs, asset=used[0]).exists()
    assert Dataset.objects.filter(pk=nowhere[0].dataset_id).exists()  # the dataset stays, if empty


def test_a_selection_by_id_or_by_the_in_no_project_filter_deletes_only_those(loose, signs, manager, workspace):
    kept, gone, other = make_assets(loose, 3)
    services.delete_catalog_images(workspace=workspace, actor=manager, asset_ids=[gone.pk])
    assert set(Asset.objects.values_list("pk", flat=True)) == {kept.pk, other.pk}

    use(signs, [kept])
    nowhere = catalog.WorkspaceFilter.from_query({"project": catalog.NOWHERE})
    done = services.delete_catalog_images(workspace=workspace, actor=manager, filters=nowhere)
    assert (done.unused, done.used) == (1, 0)
    assert list(Asset.objects.values_list("pk", flat=True)) == [kept.pk]


def test_nothing_goes_when_every_image_is_used_or_there_are_too_many(loose, signs, manager, workspace, monkeypatch):
    assets = make_assets(loose, 3)
    use(signs, assets[:1])
    with pytest.raises(WrongState, match="Every selected image is used by a project"):
        services.delete_catalog_images(workspace=workspace, actor=manager, asset_ids=[assets[0].pk])
    monkeypatch.setattr("boards.services.images.MAX_IMAGES_PER_DELETE", 1)
    with pytest.raises(InvalidInput, match="More than 1 of these images are in no project: delete at most 1 at once"):
        services.delete_catalog_images(workspace=workspace, actor=manager, filters=catalog.WorkspaceFilter())
    assert Asset.objects.count() == 3


def test_only_managers_and_owners_delete_and_never_another_workspaces_images(
    loose, manager, owner, reviewer, labeler, workspace
):
    mine = make_assets(loose, 2)
    elsewhere = Dataset.objects.create(workspace=WorkspaceFactory(slug="other"), name="Theirs")
    theirs = make_assets(elsewhere, 1)
    for person in (reviewer, labeler):
        with pytest.raises(NotAllowed):
            services.delete_catalog_images(workspace=workspace, actor=person, asset_ids=[mine[0].pk])
    with pytest.raises(NotFound, match="1 of the selected images are not in this workspace's catalog"):
        services.delete_catalog_images(workspace=workspace, actor=manager, asset_ids=[mine[0].pk, theirs[0].pk])
    assert Asset.objects.count() == 3
    services.delete_catalog_images(workspace=workspace, actor=owner, asset_ids=[mine[0].pk])
    assert Asset.objects.count() == 2


# --- the pages --------------------------------------------------------------------------------


def url(name, ws="acme"):
    return reverse(name, args=[ws])


def test_the_catalog_counts_first_then_deletes_and_says_what_stayed(client, loose, signs, manager, workspace):
    assets = make_assets(loose, 3)
    use(signs, assets[:1])
    client.force_login(manager)
    grid = client.get(url("workspace-catalog")).content.decode()
    assert f'formaction="{url("workspace-catalog-delete")}"' in grid

    chosen = {"scope": "ids", "assets": [a.pk for a in assets], "next": "/w/acme/catalog/?project=nowhere"}
    page = client.post(url("workspace-catalog-delete"), chosen)
    text = page.content.decode()
    assert page.status_code == 200
    assert "<strong>2</strong> images in no project go for good, with their files." in text
    assert "<strong>1</strong> stays because a project uses it" in text
    assert "Delete 2 images for good" in text
    assert all(f'<input type="hidden" name="assets" value="{a.pk}">' in text for a in assets)  # carried on
    assert Asset.objects.count() == 3  # counting deletes nothing

    done = client.post(url("workspace-catalog-delete"), {**chosen, "step": "delete"}, follow=True)
    assert done.redirect_chain[-1][0] == "/w/acme/catalog/?project=nowhere"
    assert "Deleted 2 images for good. 1 used by projects stay." in done.content.decode()
    assert list(Asset.objects.values_list("pk", flat=True)) == [assets[0].pk]


def test_the_delete_page_explains_a_refusal_and_offers_no_button(client, loose, signs, manager):
    used = make_assets(loose, 1)
    use(signs, used)
    client.force_login(manager)
    page = client.post(url("workspace-catalog-delete"), {"scope": "ids", "assets": [used[0].pk], "step": "delete"})
    assert page.status_code == 409
    assert "Every selected image is used by a project" in page.content.decode()
    assert "for good</button>" not in page.content.decode()
    nothing = client.post(url("workspace-catalog-delete"), {"scope": "ids"})
    assert nothing.status_code == 400 and "Select at least one image." in nothing.content.decode()


def test_the_delete_pages_are_for_managers_and_owners_of_the_workspace(client, loose, reviewer, labeler, outsider):
    asset = make_assets(loose, 1)[0]
    data = {"scope": "ids", "assets": [asset.pk], "step": "delete"}
    for person in (reviewer, labeler):
        client.force_login(person)
        assert 'formaction="/w/acme/catalog/delete/"' not in client.get(url("workspace-catalog")).content.decode()
        assert client.post(url("workspace-catalog-delete"), data).status_code == 403
    client.force_login(outsider)
    assert client.post(url("workspace-catalog-delete"), data).status_code == 404
    assert client.get(url("workspace-catalog-delete")).status_code == 405
    assert Asset.objects.filter(pk=asset.pk).exists()


def test_a_count_that_changed_before_the_press_deletes_nothing(loose, signs, manager, workspace):
    assets = make_assets(loose, 3)
    everything = {"filters": catalog.WorkspaceFilter()}
    assert services.catalog_deletion(workspace, **everything).unused == 3
    use(signs, assets[:1])  # meanwhile, a project takes one
    with pytest.raises(ConcurrentChange, match="2 of these images are in no project now"):
        services.delete_catalog_images(workspace=workspace, actor=manager, expected=3, **everything)
    assert Asset.objects.count() == 3
    services.delete_catalog_images(workspace=workspace, actor=manager, expected=2, **everything)
    assert Asset.objects.count() == 1


def test_a_selection_that_matches_nothing_any_more_says_so(loose, manager, workspace):
    gone = make_assets(loose, 1)[0]
    nothing = catalog.WorkspaceFilter.from_query({"file": "no-such-name"})
    with pytest.raises(WrongState, match="No image matches this selection any more"):
        services.delete_catalog_images(workspace=workspace, actor=manager, filters=nothing)
    assert Asset.objects.filter(pk=gone.pk).exists()


def test_an_upload_reusing_a_picture_deleted_meanwhile_stores_it_afresh(
    project, signs, manager, image_file, monkeypatch
):
    """The upload read the workspace's picture, then a delete of unused pictures took it before the
    upload's transaction: the upload goes round again and stores the file itself, pointing at no
    vanished row."""
    from boards.services import uploads

    upload(signs, manager, image_file, ("first.jpg", (9, 9, 9)))
    Project.objects.filter(pk=signs.pk).delete()  # the picture is in no project now
    real, raced = uploads._catalog_kept, []

    def deleted_meanwhile(project, assets):
        assets = list(assets)
        if assets and not raced:
            raced.append([a.pk for a in assets])
            Asset.objects.filter(pk__in=raced[0]).delete()
        return real(project, assets)

    monkeypatch.setattr(uploads, "_catalog_kept", deleted_meanwhile)
    result = upload(project, manager, image_file, ("again.jpg", (9, 9, 9)))

    assert raced and [f.status for f in result.files] == ["landed"]
    image = Image.objects.get(project=project)
    assert Asset.objects.filter(pk=image.asset_id, sha256=image.sha256).exists()  # not a vanished row
    assert default_storage.exists(image.file.name)


def test_the_delete_page_counts_again_when_the_catalog_changed(client, loose, signs, manager):
    assets = make_assets(loose, 2)
    client.force_login(manager)
    data = {"scope": "ids", "assets": [a.pk for a in assets], "step": "delete", "expected": "2"}
    use(signs, assets[:1])
    page = client.post(url("workspace-catalog-delete"), data)
    text = page.content.decode()
    assert page.status_code == 409 and "1 of these images are in no project now" in text
    assert 'name="expected" value="1"' in text and "Delete 1 image for good" in text
    assert Asset.objects.count() == 2


def test_the_delete_page_refuses_another_workspaces_ids_before_any_count(client, loose, manager):
    mine = make_assets(loose, 1)[0]
    theirs = make_assets(Dataset.objects.create(workspace=WorkspaceFactory(slug="other"), name="T"), 1)[0]
    client.force_login(manager)
    page = client.post(url("workspace-catalog-delete"), {"scope": "ids", "assets": [mine.pk, theirs.pk]})
    assert page.status_code == 404
    assert "1 of the selected images are not in this workspace's catalog." in html.unescape(page.content.decode())
    assert "for good</button>" not in page.content.decode()


def test_with_no_project_left_the_catalog_still_offers_the_delete(client, project, manager, workspace):
    make_assets(Dataset.objects.create(workspace=workspace, name="Left"), 2)
    Project.objects.filter(pk=project.pk).delete()
    client.force_login(manager)
    grid = client.get(url("workspace-catalog")).content.decode()
    assert 'formaction="/w/acme/catalog/delete/"' in grid
    assert grid.count('class="pick"') == 2
    assert "Add batch to project…" not in grid
