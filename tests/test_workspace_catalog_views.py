"""The workspace catalog's pages: filters, paging, selection, "Add batch to project", datasets; tenancy is 404."""

from __future__ import annotations

import html
import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from boards import catalog, services
from boards.models import (
    AnnotationState,
    Asset,
    Batch,
    BatchStatus,
    Dataset,
    Image,
    Project,
    ReviewState,
)
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState
from tests.catalog_data import make_images
from tests.factories import BatchFactory, ImageFactory, ProjectFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


# --- the world --------------------------------------------------------------------------------


@pytest.fixture
def signs(workspace):
    """A second project of the workspace, to add batches to."""
    return ProjectFactory(workspace=workspace, name="Signs", slug="signs")


@pytest.fixture
def loose(workspace):
    return Dataset.objects.create(workspace=workspace, name="Loose")


def make_assets(dataset, n: int = 1, *, names=None, start=None) -> list[Asset]:
    """``n`` catalog images in ``dataset`` used by no project, uploaded one minute apart (without files)."""
    names = list(names) if names is not None else [None] * n
    start = start or timezone.now() - timedelta(days=1)
    assets = []
    for i, name in enumerate(names):
        number = next(_numbers)
        assets.append(
            Asset(
                workspace_id=dataset.workspace_id,
                dataset=dataset,
                file=f"loose/{number}.jpg",
                width=640,
                height=480,
                sha256=f"a{number:063x}",
                original_filename=name or f"loose{number:05d}.jpg",
                uploaded_at=start + timedelta(minutes=i),
            )
        )
    return Asset.objects.bulk_create(assets)


def use(project, assets, **fields) -> list[Image]:
    """Put catalog images in a project too (as "Add batch to project" does), with ``fields`` as their state there."""
    images = []
    for asset in assets:
        copied = {name: getattr(asset, name) for name in Asset.COPIED}
        copied["file"], copied["thumbnail"] = asset.file.name, asset.thumbnail.name
        images.append(Image(project=project, asset=asset, **copied, **fields))
    return Image.objects.bulk_create(images)


def assets_of(images) -> list[Asset]:
    return list(Asset.objects.filter(pk__in=[i.asset_id for i in images]).order_by("pk"))


def asset_ids(images_or_assets) -> set[int]:
    return {getattr(x, "asset_id", None) or x.pk for x in images_or_assets}


def url(name, *args, ws="acme"):
    return reverse(name, args=[ws, *args])


def shown(response) -> set[int]:
    return {asset.pk for asset in response.context["page"]["assets"]}


def message(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


@pytest.fixture
def states(project):
    """Five images of Parcels, one in each state the filter knows, plus one in no batch."""
    batch = BatchFactory(project=project, name="Round 1")
    made = {
        "free": make_images(project, 1, names=["free.jpg"]),
        "queued": make_images(project, 1, names=["queued.jpg"], batch=batch),
        "annotated": make_images(
            project, 1, names=["annotated.jpg"], batch=batch, annotation_state=AnnotationState.ANNOTATED
        ),
        "approved": make_images(
            project,
            1,
            names=["approved.jpg"],
            batch=batch,
            annotation_state=AnnotationState.ANNOTATED,
            review_state=ReviewState.APPROVED,
        ),
        "rejected": make_images(
            project,
            1,
            names=["rejected.jpg"],
            batch=batch,
            annotation_state=AnnotationState.ANNOTATED,
            review_state=ReviewState.REJECTED,
        ),
    }
    return {state: images[0] for state, images in made.items()}


# --- the grid and its filters ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "labeler", "viewer"])
def test_every_member_sees_the_catalog(who, personas, client, project, loose):
    in_parcels = make_images(project, 2, names=["a.jpg", "b.jpg"])
    nowhere = make_assets(loose, 1, names=["c.jpg"], start=timezone.now())
    client.force_login(personas[who])
    response = client.get(url("workspace-catalog"))
    assert response.status_code == 200
    assert [a.original_filename for a in response.context["page"]["assets"]] == ["c.jpg", "b.jpg", "a.jpg"]
    assert shown(response) == asset_ids(in_parcels) | asset_ids(nowhere)
    manages = who in ("owner", "manager")
    assert (b"Add batch to project" in response.content) is manages
    assert (b'name="assets"' in response.content) is manages
    assert (url("dataset-rename", loose.pk).encode() in response.content) is manages


def test_the_grid_names_each_images_dataset_and_projects(client, manager, project, signs, loose):
    shared = make_images(project, 1, names=["shared.jpg"])
    use(signs, assets_of(shared))
    make_assets(loose, 1, names=["alone.jpg"])
    client.force_login(manager)
    response = client.get(url("workspace-catalog"))
    by_name = {a.original_filename: a for a in response.context["page"]["assets"]}
    assert by_name["shared.jpg"].projects == ["Parcels", "Signs"] and by_name["alone.jpg"].projects == []
    content = response.content.decode()
    item = content.split(f'id="asset-{shared[0].asset_id}"')[1].split("</li>")[0]
    assert '<span class="dataset">Parcels</span>' in item
    assert '<span class="project-chip">Parcels</span><span class="project-chip">Signs</span>' in item
    assert "In no project" in content
    assert reverse("asset-file", args=["acme", shared[0].asset_id, "thumb"]) in content


def test_the_file_name_filter(client, manager, project):
    hits = make_images(project, 2, names=["cam3_1.jpg", "CAM3_2.jpg"])
    make_images(project, 1, names=["cam4_1.jpg"])
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"file": "cam3"})
    assert shown(response) == asset_ids(hits)
    assert '<input type="hidden" name="file" value="cam3">' in response.content.decode()


def test_the_dataset_filter(client, manager, project, loose):
    make_images(project, 2)
    hits = make_assets(loose, 2)
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"dataset": loose.pk})
    assert shown(response) == asset_ids(hits)
    assert f'<option value="{loose.pk}" selected>Loose</option>' in response.content.decode()


def test_the_project_filter_and_in_no_project(client, manager, project, signs, loose):
    parcels_only = make_images(project, 2)
    both = make_images(project, 1)
    use(signs, assets_of(both))
    nowhere = make_assets(loose, 2)
    client.force_login(manager)
    assert shown(client.get(url("workspace-catalog"), {"project": "parcels"})) == asset_ids(parcels_only + both)
    assert shown(client.get(url("workspace-catalog"), {"project": "signs"})) == asset_ids(both)
    assert shown(client.get(url("workspace-catalog"), {"project": "nowhere"})) == asset_ids(nowhere)
    # A project of another workspace matches nothing here.
    ProjectFactory(workspace=WorkspaceFactory(slug="other-ws"), slug="elsewhere")
    assert shown(client.get(url("workspace-catalog"), {"project": "elsewhere"})) == set()


@pytest.mark.parametrize("state", ["free", "queued", "annotated", "approved", "rejected"])
def test_the_state_filter_reads_the_chosen_project(state, client, manager, project, signs, states):
    # In Signs every one of them is free: the filter on Parcels must not read Signs.
    use(signs, assets_of(states.values()))
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"project": "parcels", "state": state})
    assert shown(response) == {states[state].asset_id}
    in_signs = client.get(url("workspace-catalog"), {"project": "signs", "state": state})
    assert shown(in_signs) == (asset_ids(states.values()) if state == "free" else set())


@pytest.mark.parametrize("state", ["", "free", "queued", "annotated", "approved", "rejected"])
def test_a_selection_taken_whole_picks_what_the_page_shows(state, manager, project, signs, states, loose):
    """Counted or taken whole, "in project X" is read as a list of X's images; a page checks each asset."""
    use(signs, assets_of(states.values()))
    make_assets(loose, 2)  # in no project
    for wanted in (
        catalog.WorkspaceFilter(project="parcels", state=state),
        catalog.WorkspaceFilter(project="signs", state=state),
        catalog.WorkspaceFilter(project="parcels", state=state, file="ed.jpg"),
    ):
        paged = catalog.workspace_assets(project.workspace_id, wanted)
        whole = catalog.selected_assets(project.workspace_id, filters=wanted)
        assert set(whole.values_list("pk", flat=True)) == set(paged.values_list("pk", flat=True)), wanted
        assert whole.count() == paged.count()
    expected = {states[state].asset_id} if state else asset_ids(states.values())
    whole = catalog.selected_assets(
        project.workspace_id, filters=catalog.WorkspaceFilter(project="parcels", state=state)
    )
    assert set(whole.values_list("pk", flat=True)) == expected


def test_a_state_without_a_project_is_explained(client, manager, states):
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"state": "annotated"})
    assert response.status_code == 200
    assert "Choose a project for the state to apply to." in response.content.decode()
    assert shown(response) == asset_ids(states.values())


def test_the_upload_date_filter(client, manager, loose):
    now = timezone.now()
    old = make_assets(loose, 1, start=now - timedelta(days=10))
    middle = make_assets(loose, 1, start=now - timedelta(days=5))
    make_assets(loose, 1, start=now)
    client.force_login(manager)
    day = lambda d: (timezone.localdate(d)).isoformat()  # noqa: E731
    response = client.get(
        url("workspace-catalog"), {"from": day(now - timedelta(days=6)), "to": day(now - timedelta(days=4))}
    )
    assert shown(response) == asset_ids(middle)
    upto = client.get(url("workspace-catalog"), {"to": day(now - timedelta(days=9))})
    assert shown(upto) == asset_ids(old)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14, UTC-11
def test_dates_at_the_ends_of_the_calendar_are_no_bound(client, manager, loose, settings, zone):
    settings.TIME_ZONE = zone
    assets = make_assets(loose, 2)
    client.force_login(manager)
    for query, expected in [
        ({"to": "9999-12-31"}, assets),
        ({"from": "0001-01-01", "to": "9999-12-31"}, assets),
        ({"from": "9999-12-31"}, []),
        ({"to": "0001-01-01"}, []),
    ]:
        response = client.get(url("workspace-catalog"), query)
        assert response.status_code == 200 and shown(response) == asset_ids(expected), (query, zone)
        assert client.get(url("workspace-catalog-count"), query).status_code == 200


def test_a_bad_filter_value_is_explained_not_guessed(client, manager, loose):
    make_assets(loose, 2)
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"from": "yesterday", "dataset": "²"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "is not a date like 2025-03-31" in content and "not a valid id" in content
    assert len(response.context["page"]["assets"]) == 2


def test_the_filter_forms_empty_fields_redirect_to_a_clean_address(client, manager):
    client.force_login(manager)
    response = client.get(url("workspace-catalog"), {"file": "", "project": "parcels", "state": "", "to": ""})
    assert response.status_code == 302 and response["Location"] == url("workspace-catalog") + "?project=parcels"


def test_paging_goes_by_the_image_it_left_off_at_and_keeps_the_filters(client, manager, loose, monkeypatch):
    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 2)
    assets = make_assets(loose, 5)  # oldest first
    client.force_login(manager)
    first = client.get(url("workspace-catalog"), {"dataset": loose.pk})
    assert shown(first) == asset_ids(assets[3:])
    content = first.content.decode()
    assert f"?dataset={loose.pk}&amp;before={assets[3].pk}" in content and 'rel="prev"' not in content

    second = client.get(url("workspace-catalog"), {"dataset": loose.pk, "before": assets[3].pk})
    assert shown(second) == asset_ids(assets[1:3])
    content = second.content.decode()
    assert f"?dataset={loose.pk}&amp;after={assets[2].pk}" in content
    assert f"?dataset={loose.pk}&amp;before={assets[1].pk}" in content

    last = client.get(url("workspace-catalog"), {"dataset": loose.pk, "before": assets[1].pk})
    assert shown(last) == asset_ids(assets[:1]) and 'rel="next"' not in last.content.decode()
    # More than a page: the grid asks for the count on its own.
    count_url = url("workspace-catalog-count")
    assert f'hx-get="{count_url}?dataset={loose.pk}"' in last.content.decode()
    assert "<strong>5</strong> images match" in client.get(count_url, {"dataset": loose.pk}).content.decode()
    back = client.get(url("workspace-catalog"), {"dataset": loose.pk, "after": assets[0].pk})
    assert shown(back) == asset_ids(assets[1:3])
    newest = client.get(url("workspace-catalog"), {"dataset": loose.pk, "after": assets[2].pk})
    assert shown(newest) == asset_ids(assets[3:]) and 'rel="prev"' not in newest.content.decode()


def test_one_page_of_matches_counts_itself_and_more_are_counted_on_their_own(client, manager, loose, monkeypatch):
    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 3)
    make_assets(loose, 3)
    client.force_login(manager)
    whole = client.get(url("workspace-catalog"), {"dataset": loose.pk}).content.decode()
    assert "<strong>3</strong> images match" in whole and "workspace-catalog-count" not in whole
    assert "/catalog/count/" not in whole
    make_assets(loose, 1)
    more = client.get(url("workspace-catalog"), {"dataset": loose.pk}).content.decode()
    assert "Counting matches…" in more and "images match" not in more
    counted = client.get(url("workspace-catalog-count"), {"dataset": loose.pk})
    assert counted.status_code == 200 and "<strong>4</strong> images match" in counted.content.decode()


def test_a_file_name_filter_pages_and_counts_its_matches(client, manager, loose, monkeypatch):
    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 2)
    monkeypatch.setattr(catalog.paging, "FEW", 3)
    make_assets(loose, 4, names=[f"other_{n}.jpg" for n in range(4)])
    hits = make_assets(loose, 3, names=["gate_a.jpg", "x_GATE.png", "gate_c.jpg"])  # oldest first
    make_assets(loose, 2, names=["late_1.jpg", "late_2.jpg"])  # newer than every match
    client.force_login(manager)

    first = client.get(url("workspace-catalog"), {"file": "gate"})
    assert shown(first) == asset_ids(hits[1:])
    if connection.vendor == "sqlite":  # the ids read first (from the names' index) are counted by the page
        assert "<strong>3</strong> images match" in first.content.decode()
        assert "Counting matches…" not in first.content.decode()
    else:  # PostgreSQL pages newest first from its trigram index, and counts apart
        assert "Counting matches…" in first.content.decode()
    second = client.get(url("workspace-catalog"), {"file": "gate", "before": hits[1].pk})
    assert shown(second) == asset_ids(hits[:1]) and 'rel="next"' not in second.content.decode()
    back = client.get(url("workspace-catalog"), {"file": "gate", "after": hits[0].pk})
    assert shown(back) == asset_ids(hits[1:])

    make_assets(
        loose, 1, names=["gate_d.jpg"], start=timezone.now()
    )  # more than FEW: newest first in upload order, counted apart
    more = client.get(url("workspace-catalog"), {"file": "gate"})
    assert shown(more) == asset_ids([*hits[2:], Asset.objects.get(original_filename="gate_d.jpg")])
    assert "Counting matches…" in more.content.decode()
    counted = client.get(url("workspace-catalog-count"), {"file": "gate"})
    assert "<strong>4</strong> images match" in counted.content.decode()


def test_the_count_is_for_members_of_the_workspace_only(client, manager, outsider):
    client.force_login(outsider)
    assert client.get(url("workspace-catalog-count")).status_code == 404
    client.force_login(manager)
    assert client.get(url("workspace-catalog-count"), {"from": "yesterday"}).status_code == 200


def test_a_cursor_from_another_workspace_pages_from_the_start(client, manager, loose):
    mine = make_assets(loose, 3)
    other = ProjectFactory()
    theirs = make_images(other, 1)[0]
    client.force_login(manager)
    theirs.asset.uploaded_at = timezone.now() - timedelta(days=400)  # older than mine: honoured, it would hide them
    theirs.asset.save()
    response = client.get(url("workspace-catalog"), {"before": theirs.asset_id})
    assert response.status_code == 200 and shown(response) == asset_ids(mine)
    assert 'rel="prev"' not in response.content.decode()


def test_a_link_past_the_last_match_opens_the_first_page_not_an_empty_one(client, manager, loose, monkeypatch):
    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 2)
    assets = make_assets(loose, 3)
    client.force_login(manager)
    # "Older →" from the second page named the oldest image; it went since (here: it stopped matching).
    Asset.objects.filter(pk=assets[0].pk).update(dataset=Dataset.objects.create(workspace=loose.workspace, name="X"))
    response = client.get(url("workspace-catalog"), {"dataset": loose.pk, "before": assets[1].pk})
    assert response.status_code == 200 and shown(response) == asset_ids(assets[1:])
    assert "<strong>2</strong> images match" in response.content.decode()


def test_a_bad_cursor_is_refused(client, manager):
    client.force_login(manager)
    for bad in ("0", "-3", "9" * 30, "x", "1.5"):
        assert client.get(url("workspace-catalog"), {"before": bad}).status_code == 400, bad
        assert client.get(url("workspace-catalog"), {"after": bad}).status_code == 400, bad


def test_the_page_needs_a_constant_number_of_queries(
    client, manager, project, signs, loose, django_assert_max_num_queries
):
    def load():
        with django_assert_max_num_queries(9 + catalog.workspace.by_trigrams("jpg")):  # SQLite: the names' index
            response = client.get(url("workspace-catalog"), {"file": "jpg"})
        assert response.status_code == 200
        return response

    client.force_login(manager)
    make_images(project, 2)
    assert len(load().context["page"]["assets"]) == 2
    for n in range(5):
        ProjectFactory(workspace=project.workspace, name=f"More {n}", slug=f"more-{n}")
        Dataset.objects.create(workspace=project.workspace, name=f"Set {n}")
    shared = make_images(project, 40, batch=BatchFactory(project=project))
    use(signs, assets_of(shared))
    make_assets(loose, 60)
    response = load()
    assert len(response.context["page"]["assets"]) == catalog.workspace.PAGE_SIZE
    with django_assert_max_num_queries(10):  # and the image the page goes on from
        client.get(
            url("workspace-catalog"), {"project": "signs", "state": "free", "before": response.context["page"]["older"]}
        )


# --- the image files --------------------------------------------------------------------------


def test_members_get_an_images_thumbnail_and_original(client, viewer, project):
    image = ImageFactory(project=project)
    client.force_login(viewer)
    thumb = client.get(url("asset-file", image.asset_id, "thumb"))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert b"".join(thumb.streaming_content) == image.asset.thumbnail.open("rb").read()
    original = client.get(url("asset-file", image.asset_id, "original"))
    assert b"".join(original.streaming_content) == image.asset.file.open("rb").read()
    assert client.get(url("asset-file", image.asset_id, "big")).status_code == 404


def test_an_image_of_another_workspace_is_404_even_to_its_members(client, manager, project, outsider):
    theirs = ImageFactory(project=ProjectFactory(workspace=outsider.workspaces.get(), slug="theirs"))
    mine = ImageFactory(project=project)
    client.force_login(manager)
    assert client.get(url("asset-file", theirs.asset_id, "thumb")).status_code == 404
    client.force_login(outsider)
    assert client.get(url("asset-file", mine.asset_id, "thumb")).status_code == 404
    assert client.get(url("asset-file", mine.asset_id, "thumb", ws="other")).status_code == 404


# --- "Add batch to project": the preview ------------------------------------------------------


def preview(client, **data):
    data = {"scope": "ids", **data}
    return client.post(url("workspace-catalog-batch"), data, headers={"HX-Request": "true"})


def test_the_preview_leaves_out_only_what_is_in_a_batch_of_the_target_project(
    client, manager, project, signs, loose, make_batch
):
    queued_in_parcels = make_images(project, 2, batch=BatchFactory(project=project, name="Busy in Parcels"))
    waiting = BatchFactory(project=signs, name="Waiting")
    labeling = BatchFactory(project=signs, name="Labeling", status=BatchStatus.ANNOTATING)
    in_signs = make_images(project, 3)
    use(signs, assets_of(in_signs[:1]), batch=waiting)
    use(signs, assets_of(in_signs[1:]), batch=labeling)
    free_in_signs = make_images(project, 1)
    use(signs, assets_of(free_in_signs))
    nowhere = make_assets(loose, 2)
    chosen = asset_ids(queued_in_parcels + in_signs + free_in_signs) | asset_ids(nowhere)
    client.force_login(manager)
    response = preview(client, assets=sorted(chosen), target="signs", name="Round 2")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content  # the dialog's partial only
    assert "<dt>Selected</dt><dd>8</dd>" in content and "<dt>Left out</dt><dd>3</dd>" in content
    assert "<dt>New batch</dt><dd>5</dd>" in content
    assert "3 images are already in a batch of Signs (1 in Unassigned, 2 in Annotating) and will be left out" in content
    assert "4 selected images are new to Signs" in content
    assert "Create “Round 2” in Signs with 5 images" in content
    # The same images, for Parcels: only the two queued there are left out.
    parcels = preview(client, assets=sorted(chosen), target="parcels", name="Again")
    assert "<dt>Left out</dt><dd>2</dd>" in parcels.content.decode()
    assert "2 images are already in a batch of Parcels (2 in Unassigned)" in parcels.content.decode()
    assert Batch.objects.filter(name__in=["Round 2", "Again"]).count() == 0


def test_the_preview_of_all_matching_counts_the_filter(client, manager, project, signs, states):
    client.force_login(manager)
    response = preview(client, scope="filter", project="parcels", state="annotated", target="signs", name="X")
    content = response.content.decode()
    assert "Every image matching the catalog’s filter." in content
    assert "<dt>Selected</dt><dd>1</dd>" in content and "<dt>New batch</dt><dd>1</dd>" in content


def test_the_preview_asks_for_a_project_first(client, manager, loose):
    assets = make_assets(loose, 1)
    client.force_login(manager)
    response = preview(client, assets=[assets[0].pk], name="X")
    assert response.status_code == 200
    assert "Choose the project to add the batch to." in response.content.decode()
    assert "<dt>" not in response.content.decode()


def test_the_preview_says_a_name_is_taken_in_the_target(client, manager, signs, loose):
    assets = make_assets(loose, 1)
    BatchFactory(project=signs, name="Taken")
    client.force_login(manager)
    content = preview(client, assets=[assets[0].pk], target="signs", name="Taken").content.decode()
    assert "There is already a batch named “Taken” in Signs" in content and "Create “" not in content


def test_the_preview_names_the_limit(client, manager, signs, loose, monkeypatch):
    monkeypatch.setattr(catalog.sampling, "MAX_BATCH_IMAGES", 2)
    monkeypatch.setattr(catalog.preview, "MAX_BATCH_IMAGES", 2)
    make_assets(loose, 3)
    client.force_login(manager)
    content = preview(client, scope="filter", target="signs", name="Big").content.decode()
    assert "That would put 3 images in one batch; a batch holds at most 2" in content
    assert "Create “" not in content


def test_the_preview_names_foreign_ids(client, manager, signs, loose, outsider):
    mine = make_assets(loose, 1)
    theirs = ImageFactory(project=ProjectFactory(workspace=outsider.workspaces.get(), slug="theirs"))
    client.force_login(manager)
    content = html.unescape(
        preview(client, assets=[mine[0].pk, theirs.asset_id], target="signs", name="X").content.decode()
    )
    assert "1 of the 2 selected images are not in this workspace's catalog." in content
    assert "Create “" not in content


def test_without_javascript_add_batch_is_a_page_that_confirms(client, manager, signs, loose):
    assets = make_assets(loose, 2)
    client.force_login(manager)
    response = client.post(
        url("workspace-catalog-batch"), {"scope": "ids", "assets": [a.pk for a in assets], "step": "form"}
    )
    assert response.status_code == 200
    assert "boards/workspace_catalog_batch.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert f'<input type="hidden" name="assets" value="{assets[0].pk}">' in content
    assert '<option value="signs">Signs</option>' in content
    chosen = client.post(
        url("workspace-catalog-batch"),
        {"scope": "ids", "assets": [a.pk for a in assets], "target": "signs", "step": "preview"},
    )
    assert "<dt>New batch</dt><dd>2</dd>" in chosen.content.decode()
    assert "Name the batch to create it." in chosen.content.decode()


# --- "Add batch to project": creating ---------------------------------------------------------


def test_add_ticked_images_to_another_project(client, manager, project, signs, loose):
    labeled = make_images(project, 2, batch=BatchFactory(project=project), annotation_state=AnnotationState.ANNOTATED)
    nowhere = make_assets(loose, 1)
    chosen = asset_ids(labeled) | asset_ids(nowhere)
    client.force_login(manager)
    response = client.post(
        url("workspace-catalog-batch"),
        {
            "scope": "ids",
            "assets": sorted(chosen),
            "target": "signs",
            "name": "Signs round 1",
            "priority": "2",
            "step": "create",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("board", args=["acme", "signs"])
    batch = Batch.objects.get(project=signs, name="Signs round 1")
    assert batch.priority == 2 and batch.status == BatchStatus.UNASSIGNED
    assert asset_ids(batch.images.all()) == chosen
    assert set(batch.images.values_list("annotation_state", flat=True)) == {AnnotationState.UNANNOTATED}
    assert set(Image.objects.filter(pk__in=[i.pk for i in labeled]).values_list("annotation_state", flat=True)) == {
        AnnotationState.ANNOTATED
    }
    assert message(response) == (
        "Created “Signs round 1” in Signs with 3 images (priority 2); it waits in Unassigned on the board."
    )


def test_select_all_matching_posts_the_filter_and_takes_every_match(client, manager, project, signs, monkeypatch):
    monkeypatch.setattr(catalog.workspace, "PAGE_SIZE", 2)
    night = make_images(project, 5, names=[f"night_{n}.jpg" for n in range(5)])
    make_images(project, 3, names=[f"day_{n}.jpg" for n in range(3)])
    already = BatchFactory(project=signs, name="Earlier")
    use(signs, assets_of(night[:1]), batch=already)
    client.force_login(manager)
    response = client.post(
        url("workspace-catalog-batch"),
        {
            "scope": "filter",
            "file": "night",
            "assets": [night[1].asset_id],  # ticked boxes are ignored when "all matching" is chosen
            "target": "signs",
            "name": "All night",
            "priority": "1",
            "step": "create",
        },
    )
    assert response.status_code == 302
    batch = Batch.objects.get(project=signs, name="All night")
    assert asset_ids(batch.images.all()) == asset_ids(night[1:])
    assert "with 4 images (priority 1)" in message(response)
    assert "1 already in a batch of Signs was left out." in message(response)


def test_a_sample_from_the_dialog_stores_its_seed(client, manager, signs, loose):
    make_assets(loose, 20)
    client.force_login(manager)
    client.post(
        url("workspace-catalog-batch"),
        {
            "scope": "filter",
            "target": "signs",
            "name": "Ten",
            "sample": "random",
            "n": "10",
            "seed": "77",
            "step": "create",
        },
    )
    batch = Batch.objects.get(name="Ten")
    assert batch.sample_seed == 77 and batch.images.count() == 10
    assert Image.objects.filter(project=signs).count() == 10  # only the sampled ones joined the project


def test_an_ordered_sample_by_file_name_takes_the_first_names(client, manager, signs, loose):
    make_assets(loose, names=["c.jpg", "a.jpg", "d.jpg", "b.jpg"])
    client.force_login(manager)
    response = client.post(
        url("workspace-catalog-batch"),
        {
            "scope": "filter",
            "target": "signs",
            "name": "First two",
            "sample": "ordered",
            "order": "filename",
            "n": "2",
            "step": "create",
        },
    )
    assert response.status_code == 302
    names = set(Batch.objects.get(name="First two").images.values_list("original_filename", flat=True))
    assert names == {"a.jpg", "b.jpg"}


def create(client, **data):
    base = {"scope": "ids", "target": "signs", "name": "New", "priority": "3", "step": "create"}
    return client.post(url("workspace-catalog-batch"), base | data)


def test_a_taken_name_shows_the_form_again_with_the_reason(client, manager, signs, loose):
    assets = make_assets(loose, 2)
    BatchFactory(project=signs, name="Taken")
    client.force_login(manager)
    response = create(client, assets=[a.pk for a in assets], name="Taken")
    assert response.status_code == 400
    content = response.content.decode()
    assert "There is already a batch named “Taken” in this project; choose another name." in content
    assert f'<input type="hidden" name="assets" value="{assets[0].pk}">' in content
    assert not Image.objects.filter(project=signs).exists()  # nothing joined the project either


@pytest.mark.parametrize("priority", ["0", "6", "²", "high"])
def test_a_priority_out_of_range_is_refused(priority, client, manager, signs, loose):
    assets = make_assets(loose, 1)
    client.force_login(manager)
    response = create(client, assets=[assets[0].pk], priority=priority)
    assert response.status_code == 400 and "Priority" in response.content.decode()
    assert not Batch.objects.exists()


def test_images_of_another_workspace_are_refused(client, manager, signs, loose, outsider):
    mine = make_assets(loose, 1)
    theirs = ImageFactory(project=ProjectFactory(workspace=outsider.workspaces.get(), slug="theirs"))
    client.force_login(manager)
    response = create(client, assets=[mine[0].pk, theirs.asset_id])
    assert response.status_code == 400
    assert "not in this workspace's catalog" in html.unescape(response.content.decode())
    assert not Batch.objects.filter(project=signs).exists() and not Image.objects.filter(project=signs).exists()


def test_more_than_a_batch_holds_is_refused(client, manager, signs, loose, monkeypatch):
    monkeypatch.setattr(catalog.sampling, "MAX_BATCH_IMAGES", 2)
    monkeypatch.setattr(catalog.preview, "MAX_BATCH_IMAGES", 2)
    make_assets(loose, 3)
    client.force_login(manager)
    response = create(client, scope="filter")
    assert response.status_code == 400 and "a batch holds at most 2" in response.content.decode()
    sampled = create(client, scope="filter", sample="ordered", n="3")
    assert sampled.status_code == 400 and "A sample of 3 images is too many" in sampled.content.decode()
    assert not Batch.objects.exists() and not Image.objects.filter(project=signs).exists()


def test_nothing_free_in_the_target_is_refused(client, manager, signs, loose):
    assets = make_assets(loose, 1)
    use(signs, assets, batch=BatchFactory(project=signs, name="Has it"))
    client.force_login(manager)
    response = create(client, assets=[assets[0].pk])
    assert response.status_code == 400 and "No free image is selected" in response.content.decode()


def test_a_create_without_a_project_or_with_a_bad_filter_is_refused(client, manager, signs, loose):
    assets = make_assets(loose, 1)
    client.force_login(manager)
    response = create(client, assets=[assets[0].pk], target="")
    assert response.status_code == 400 and "Choose the project to add the batch to." in response.content.decode()
    bad = create(client, scope="filter", project="parcels", state="sideways")
    assert bad.status_code == 400 and "Fix the filter first: Choose a state from the list." in bad.content.decode()
    assert not Batch.objects.exists()


def test_a_project_of_another_workspace_is_404(client, manager, loose, outsider):
    assets = make_assets(loose, 1)
    ProjectFactory(workspace=outsider.workspaces.get(), slug="theirs")
    client.force_login(manager)
    assert create(client, assets=[assets[0].pk], target="theirs").status_code == 404
    assert not Batch.objects.exists()


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_add_batch_is_refused_to_non_managers(who, personas, client, signs, loose):
    assets = make_assets(loose, 1)
    client.force_login(personas[who])
    assert create(client, assets=[assets[0].pk]).status_code == 403
    assert preview(client, assets=[assets[0].pk], target="signs").status_code == 403
    assert not Batch.objects.exists() and not Image.objects.filter(project=signs).exists()


# --- datasets -----------------------------------------------------------------------------------


def test_the_datasets_are_listed_with_filter_links(client, viewer, project, loose):
    make_images(project, 3)
    make_assets(loose, 2)
    client.force_login(viewer)
    response = client.get(url("workspace-catalog"))
    assert [d.name for d in response.context["datasets"]] == ["Loose", "Parcels"]
    content = response.content.decode()
    assert f'href="?dataset={loose.pk}"' in content
    assert client.get(url("workspace-catalog"), {"dataset": loose.pk}).context["count"] == 2


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_managers_rename_a_dataset(who, personas, client, loose):
    client.force_login(personas[who])
    back = url("workspace-catalog") + f"?dataset={loose.pk}"
    response = client.post(url("dataset-rename", loose.pk), {"name": "  Street signs 2025 ", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert Dataset.objects.get(pk=loose.pk).name == "Street signs 2025"
    assert message(response) == "Renamed the dataset “Loose” to “Street signs 2025”."


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_other_roles_may_not_rename_a_dataset(who, personas, client, loose):
    client.force_login(personas[who])
    assert client.post(url("dataset-rename", loose.pk), {"name": "Mine"}).status_code == 403
    assert Dataset.objects.get(pk=loose.pk).name == "Loose"


def test_a_taken_dataset_name_is_a_conflict_shown_beside_the_form(client, manager, project, loose):
    make_images(project, 1)  # makes the dataset "Parcels"
    client.force_login(manager)
    response = client.post(url("dataset-rename", loose.pk), {"name": "Parcels", "next": url("workspace-catalog")})
    assert response.status_code == 409
    content = response.content.decode()
    assert "There is already a dataset named “Parcels” in this workspace; choose another name." in content
    form = content.split(f'id="dataset-{loose.pk}"')[1].split("</li>")[0]
    assert '<details class="rename" open>' in form and 'value="Parcels"' in form
    assert Dataset.objects.get(pk=loose.pk).name == "Loose"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("   ", "Give the dataset a name."), ("x" * 201, "A dataset name has at most 200 characters")],
)
def test_a_dataset_name_must_have_1_to_200_characters(name, reason, client, manager, loose):
    client.force_login(manager)
    response = client.post(url("dataset-rename", loose.pk), {"name": name})
    assert response.status_code == 400 and reason in response.content.decode()
    assert Dataset.objects.get(pk=loose.pk).name == "Loose"


def test_renaming_to_the_same_name_changes_nothing(manager, loose):
    assert services.rename_dataset(dataset=loose, actor=manager, name="Loose ").name == "Loose"


def test_the_rename_service_checks_the_actor_and_the_row(manager, labeler, loose):
    with pytest.raises(NotAllowed):
        services.rename_dataset(dataset=loose, actor=labeler, name="Mine")
    with pytest.raises(InvalidInput, match="NUL"):
        services.rename_dataset(dataset=loose, actor=manager, name="a\x00b")
    gone = Dataset(pk=loose.pk + 1000, workspace_id=loose.workspace_id, name="Gone")
    with pytest.raises(ConcurrentChange):
        services.rename_dataset(dataset=gone, actor=manager, name="Back")
    Dataset.objects.create(workspace_id=loose.workspace_id, name="Other")
    with pytest.raises(WrongState):
        services.rename_dataset(dataset=loose, actor=manager, name="Other")
    # Names are unique per workspace, not across workspaces.
    elsewhere = Dataset.objects.create(workspace=WorkspaceFactory(slug="elsewhere"), name="Street")
    assert services.rename_dataset(dataset=loose, actor=manager, name="Street").name == "Street"
    assert Dataset.objects.get(pk=elsewhere.pk).name == "Street"


def test_a_dataset_of_another_workspace_is_404(client, manager, outsider):
    theirs = Dataset.objects.create(workspace=outsider.workspaces.get(), name="Theirs")
    client.force_login(manager)
    assert client.post(url("dataset-rename", theirs.pk), {"name": "Mine"}).status_code == 404
    assert Dataset.objects.get(pk=theirs.pk).name == "Theirs"


# --- tenancy and links ----------------------------------------------------------------------------


def test_outsiders_get_404_on_every_url_and_change_nothing(client, outsider, project, signs):
    image = ImageFactory(project=project)
    dataset = image.asset.dataset
    client.force_login(outsider)
    assert client.get(url("workspace-catalog")).status_code == 404
    assert client.get(url("asset-file", image.asset_id, "thumb")).status_code == 404
    response = client.post(
        url("workspace-catalog-batch"),
        {"scope": "filter", "target": "signs", "name": "Mine", "step": "create"},
    )
    assert response.status_code == 404
    assert client.post(url("dataset-rename", dataset.pk), {"name": "Mine"}).status_code == 404
    assert not Batch.objects.filter(project=signs).exists()
    assert Dataset.objects.get(pk=dataset.pk).name == dataset.name


def test_an_unknown_workspace_is_404(client, manager):
    client.force_login(manager)
    assert client.get(url("workspace-catalog", ws="nowhere-at-all")).status_code == 404


def test_anonymous_visitors_go_to_login(client, workspace):
    response = client.get(url("workspace-catalog"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_home_page_and_the_project_pages_link_to_the_workspace_catalog(client, labeler, project):
    client.force_login(labeler)
    assert url("workspace-catalog") in client.get(reverse("home")).content.decode()
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert url("workspace-catalog") in board
    assert reverse("catalog", args=["acme", "parcels"]) in board  # the project's own catalog stays


def test_the_preview_of_all_matching_reads_the_filter_once_and_counts_alike_past_the_cap(
    client, manager, project, signs, states, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from boards.catalog import workspace

    client.force_login(manager)

    def shown():
        with CaptureQueriesContext(connection) as queries:
            content = preview(client, scope="filter", file=".jpg", target="signs", name="X").content.decode()
        return content, sum(" LIKE " in q["sql"] for q in queries)

    read_once, reads = shown()
    assert reads == 1
    assert "<dt>Selected</dt><dd>5</dd>" in read_once and "<dt>New batch</dt><dd>5</dd>" in read_once
    assert "5 selected images are new to Signs" in read_once
    monkeypatch.setattr(workspace, "FIXED_IDS", 2)
    as_filter, reads = shown()
    assert reads >= 2
    assert as_filter == read_once


def test_the_count_of_a_project_and_its_states_is_the_projects_images_counted(client, manager, project, signs, states):
    """ "In project X" alone counts X's images in the state, one per asset, without reading assets;
    with another filter it counts assets. Both agree with the selection the filter makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from boards.catalog import WorkspaceFilter, workspace_assets

    archived = BatchFactory(project=project, name="Old", status=BatchStatus.ARCHIVED)
    make_images(project, 1, names=["archived.jpg"], archived_from=archived)  # free, left by an archived batch
    use(signs, assets_of([states["approved"], states["free"]]))  # in two projects: counted once in each
    client.force_login(manager)
    count_url = url("workspace-catalog-count")
    for state in ["", "free", "queued", "annotated", "approved", "rejected"]:
        for extra in ({}, {"from": "2000-01-01"}):
            query = {"project": "parcels", "state": state, **extra}
            with CaptureQueriesContext(connection) as queries:
                content = client.get(count_url, query).content.decode()
            expected = workspace_assets(project.workspace_id, WorkspaceFilter.from_query(query), newest_first=False)
            assert expected.count() == (6 if not state else 2 if state == "free" else 1)
            assert f"<strong>{expected.count()}</strong> image" in content, (state, extra)
            reads_assets = any('FROM "boards_asset"' in q["sql"] for q in queries)
            assert reads_assets == bool(extra), (state, extra)
    # A project of another workspace: nothing, whatever the state.
    ProjectFactory(workspace=WorkspaceFactory(slug="other-ws"), slug="elsewhere")
    ImageFactory(project=Project.objects.get(slug="elsewhere"))
    assert "<strong>0</strong> images" in client.get(count_url, {"project": "elsewhere"}).content.decode()
