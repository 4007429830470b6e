"""The workspace catalog in a real browser: images labeled in one project become a new batch of another."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from boards import services
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, Asset, Batch, BatchStatus, Dataset, Image
from tests.e2e.conftest import sideways_overflow
from tests.factories import ProjectFactory

CATALOG = "/w/acme/catalog/"
SIGNS_BOARD = "/w/acme/p/signs/"


@pytest.fixture
def signs(workspace):
    return ProjectFactory(workspace=workspace, name="Signs", slug="signs")


@pytest.fixture
def labeled(project, signs, manager, image_file):
    """Six photos uploaded to Parcels, four of them labeled there (a box each); one of those four is
    already waiting in a batch of Signs."""
    files = [
        image_file(f"street_{n}.jpg", width=160, height=120, color=(30 + 35 * n, 90, 200 - 25 * n)) for n in range(6)
    ]
    upload = services.upload_images(project=project, actor=manager, files=files, batch_name="Street photos")
    services.create_label_class(project=project, actor=manager, name="car")
    services.assign(batch=upload.batch, actor=manager, labeler=manager, reviewer=manager)
    images = list(Image.objects.filter(project=project).order_by("original_filename"))
    for image in images[:4]:
        services.save_annotations(image=image, actor=manager, boxes=[Box("car", 10, 10, 60, 40)])
    earlier = services.add_batch_to_project(
        project=signs, actor=manager, name="Earlier", asset_ids=[images[0].asset_id]
    )
    return {"annotated": images[:4], "unlabeled": images[4:], "earlier": earlier.batch}


def test_add_images_labeled_in_one_project_to_another(login, manager, url, shoot, project, signs, labeled):
    page: Page = login(manager)
    page.locator("section.workspace h2").get_by_role("link", name="Catalog").click()
    page.wait_for_url("**" + CATALOG)
    expect(page.get_by_role("heading", name="Workspace catalog")).to_be_visible()
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(6)

    filters = page.locator("#filter-form")
    filters.get_by_label("Project", exact=True).select_option("parcels")
    filters.get_by_label("State in that project").select_option("annotated")
    filters.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/catalog/?project=parcels&state=annotated")
    expect(page.locator("#match-count")).to_have_text("4 images match")
    grid = page.locator("#catalog-grid li.pickable")
    expect(grid).to_have_count(4)
    expect(grid.filter(has_text="street_0.jpg")).to_contain_text("Signs")

    page.get_by_role("button", name="Select all matching").click()
    expect(page.locator("#selection-status")).to_have_text("All 4 matching images selected")
    shoot("workspace-catalog")

    page.get_by_role("button", name="Add batch to project…").click()
    dialog = page.get_by_role("dialog", name="Add batch to project")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#batch-preview")).to_contain_text("Choose the project to add the batch to.")
    dialog.get_by_label("Project", exact=True).select_option("signs")
    dialog.get_by_label("Name").fill("Cars from Parcels")
    dialog.get_by_label("Priority").select_option("2")
    preview = dialog.locator("#batch-preview")
    expect(preview.locator(".preview-counts")).to_contain_text("Selected4")
    expect(preview.locator(".preview-counts")).to_contain_text("Left out1")
    expect(preview).to_contain_text("1 image is already in a batch of Signs (1 in Unassigned) and will be left out")
    expect(preview).to_contain_text("3 selected images are new to Signs")
    create = dialog.get_by_role("button", name="Create “Cars from Parcels” in Signs with 3 images")
    expect(create).to_be_visible()
    shoot("workspace-catalog-dialog")
    create.click()

    page.wait_for_url("**" + SIGNS_BOARD)
    expect(page.locator(".msg-success")).to_contain_text(
        "Created “Cars from Parcels” in Signs with 3 images (priority 2); it waits in Unassigned on the board. "
        "1 already in a batch of Signs was left out."
    )
    card = page.locator("#column-unassigned .batch-card", has_text="Cars from Parcels")
    expect(card).to_contain_text("3 images")
    expect(card).to_contain_text("P2")
    shoot("workspace-catalog-board")

    batch = Batch.objects.get(project=signs, name="Cars from Parcels")
    assert batch.status == BatchStatus.UNASSIGNED and batch.priority == 2
    moved = {image.asset_id for image in labeled["annotated"][1:]}
    assert set(batch.images.values_list("asset_id", flat=True)) == moved
    # In Signs the pictures start afresh; in Parcels they keep their boxes.
    in_signs = Image.objects.filter(project=signs, asset_id__in=moved)
    assert set(in_signs.values_list("annotation_state", flat=True)) == {AnnotationState.UNANNOTATED}
    assert not Annotation.objects.filter(image__project=signs).exists()
    in_parcels = Image.objects.filter(project=project, asset_id__in=moved)
    assert set(in_parcels.values_list("annotation_state", flat=True)) == {AnnotationState.ANNOTATED}
    assert Annotation.objects.filter(image__in=in_parcels).count() == 3
    assert Asset.objects.count() == 6  # no picture was stored twice


def test_a_manager_adds_a_whole_dataset_to_a_project_that_has_none_of_it(
    login, manager, url, shoot, workspace, labeled
):
    lanes = ProjectFactory(workspace=workspace, name="Lanes", slug="lanes")
    page: Page = login(manager)
    page.goto(url(CATALOG))
    page.get_by_role("region", name="Datasets").get_by_role("link", name="Parcels").click()
    page.wait_for_url("**/catalog/?dataset=*")
    expect(page.locator("#match-count")).to_have_text("6 images match")
    page.get_by_role("button", name="Select all matching").click()
    page.get_by_role("button", name="Add batch to project…").click()
    dialog = page.get_by_role("dialog", name="Add batch to project")
    dialog.get_by_label("Project", exact=True).select_option("lanes")
    dialog.get_by_label("Name").fill("Every street")
    expect(dialog.locator("#batch-preview")).to_contain_text("6 selected images are new to Lanes")
    dialog.get_by_role("button", name="Create “Every street” in Lanes with 6 images").click()

    page.wait_for_url("**/w/acme/p/lanes/")
    expect(page.locator(".msg-success")).to_have_text(
        "Created “Every street” in Lanes with 6 images (priority 3); it waits in Unassigned on the board."
    )
    expect(page.locator("#column-unassigned .batch-card", has_text="Every street")).to_contain_text("6 images")
    shoot("workspace-catalog-whole-dataset")
    batch = Batch.objects.get(project=lanes)
    assert sorted(batch.images.values_list("asset_id", flat=True)) == sorted(Asset.objects.values_list("pk", flat=True))
    assert batch.events.get().detail["left_out"] == 0
    assert Asset.objects.count() == 6


def test_a_manager_renames_a_dataset(login, manager, url, shoot, labeled):
    page: Page = login(manager)
    page.goto(url(CATALOG))
    datasets = page.get_by_role("region", name="Datasets")
    row = datasets.locator("li", has_text="Parcels")
    row.locator("summary", has_text="Rename").click()
    row.get_by_label("New name for Parcels").fill("Street photos 2025")
    shoot("workspace-catalog-rename")
    row.get_by_role("button", name="Rename").click()
    expect(page.locator(".msg-success")).to_have_text("Renamed the dataset “Parcels” to “Street photos 2025”.")
    expect(datasets).to_contain_text("Street photos 2025")
    datasets.get_by_role("link", name="Street photos 2025").click()
    page.wait_for_url("**/catalog/?dataset=*")
    expect(page.locator("#match-count")).to_have_text("6 images match")
    expect(page.locator("#filter-form").get_by_label("Dataset")).to_have_value(str(Dataset.objects.get().pk))


def test_the_catalog_fits_a_phone(login, manager, url, shoot, labeled):
    page: Page = login(manager)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url(CATALOG))
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(6)
    page.get_by_role("button", name="Select all matching").click()
    page.get_by_role("button", name="Add batch to project…").click()
    expect(page.get_by_role("dialog", name="Add batch to project")).to_be_visible()
    shoot("workspace-catalog-phone-dialog")
    page.get_by_role("button", name="Cancel").click()
    shoot("workspace-catalog-phone")
    assert sideways_overflow(page) is None


def test_pages_of_the_catalog_go_older_and_newer_while_the_count_arrives_on_its_own(
    login, manager, url, shoot, project, labeled, monkeypatch
):
    from boards import catalog

    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 4)  # six pictures: two pages
    page: Page = login(manager)
    page.goto(url(CATALOG + "?project=parcels"))
    expect(page.locator("#match-count")).to_have_text("6 images match")  # counted by its own request
    grid = page.locator("#catalog-grid li.pickable")
    expect(grid).to_have_count(4)
    first = grid.locator(".filename").all_inner_texts()
    page.get_by_role("button", name="Select all matching").click()
    expect(page.locator("#selection-status")).to_have_text("All 6 matching images selected")

    page.get_by_role("link", name="Older →").click()
    expect(grid).to_have_count(2)
    older = grid.locator(".filename").all_inner_texts()
    assert not set(first) & set(older) and len(set(first) | set(older)) == 6
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    shoot("workspace-catalog-older")
    page.get_by_role("link", name="← Newer").click()
    expect(grid).to_have_count(4)
    assert grid.locator(".filename").all_inner_texts() == first


def test_a_manager_deletes_the_pictures_a_deleted_project_left(login, manager, url, shoot, project, signs, labeled):
    """Parcels goes; its pictures stay in the catalog, in no project, except the one Signs uses.
    Selecting them all and deleting takes them out for good, after a page that counts them."""
    from boards.models import Project

    kept = labeled["annotated"][0].asset_id  # in a batch of Signs
    Project.objects.filter(pk=project.pk).delete()
    page: Page = login(manager)
    page.goto(url(CATALOG + "?project=nowhere"))
    expect(page.locator("#match-count")).to_have_text("5 images match")
    page.get_by_role("button", name="Select all matching").click()
    page.get_by_role("button", name="Delete…").click()

    page.wait_for_url("**/catalog/delete/")
    expect(page.get_by_role("heading", name="Delete images from the catalog")).to_be_visible()
    expect(page.locator(".delete-counts")).to_contain_text("5 images in no project go for good, with their files.")
    shoot("workspace-catalog-delete")
    page.get_by_role("button", name="Delete 5 images for good").click()

    page.wait_for_url("**" + CATALOG + "?project=nowhere")
    expect(page.get_by_text("Deleted 5 images for good.")).to_be_visible()
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(0)
    assert list(Asset.objects.values_list("pk", flat=True)) == [kept]
    page.goto(url(CATALOG))
    expect(page.locator("#catalog-grid li.pickable")).to_have_count(1)
