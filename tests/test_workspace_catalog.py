"""One catalog per workspace: assets used by several projects, each with its own state there."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import catalog, services
from boards.models import (
    CARD_COUNTS,
    Annotation,
    AnnotationState,
    Asset,
    Batch,
    BatchStatus,
    Dataset,
    Image,
    LabelClass,
    count_card_images,
)
from core.errors import ConcurrentChange, InvalidInput, WrongState
from tests.factories import ImageFactory, ProjectFactory, set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(workspace):
    return ProjectFactory(workspace=workspace, name="Signs", slug="signs")


def upload(project, actor, image_file, *names_colors, **kwargs):
    files = [image_file(name, color=color) for name, color in names_colors]
    return services.upload_images(project=project, actor=actor, files=files, **kwargs)


def test_an_upload_makes_one_asset_per_picture_in_the_projects_dataset(project, manager, image_file):
    result = upload(project, manager, image_file, ("a.jpg", (1, 2, 3)), ("b.jpg", (4, 5, 6)))
    assert result.landed == 2
    assets = Asset.objects.filter(workspace=project.workspace)
    assert assets.count() == 2
    assert set(assets.values_list("dataset__name", flat=True)) == {"Parcels"}
    for image in Image.objects.filter(project=project):
        assert (image.file.name, image.sha256, image.width) == (
            image.asset.file.name,
            image.asset.sha256,
            image.asset.width,
        )


def test_a_picture_another_project_has_is_not_stored_twice(project, other, manager, image_file, settings):
    upload(project, manager, image_file, ("a.jpg", (1, 2, 3)))
    result = upload(other, manager, image_file, ("copy-of-a.jpg", (1, 2, 3)))
    assert result.landed == 1 and "workspace catalog" in result.files[0].reason
    assert Asset.objects.count() == 1
    first, second = Image.objects.order_by("pk")
    assert first.asset_id == second.asset_id and first.project_id != second.project_id
    assert second.file.name == first.file.name  # the same stored file
    assert second.batch is not None and second.batch.project_id == other.pk


def test_an_upload_queues_a_free_image_of_the_project_and_names_the_batch_of_a_queued_one(
    project, manager, image_file, make_batch
):
    first = upload(project, manager, image_file, ("a.jpg", (1, 2, 3)), ("b.jpg", (9, 9, 9)))
    Image.objects.filter(original_filename="a.jpg").set_batch(None)
    services.mark_changed(first.batch)
    again = upload(project, manager, image_file, ("a.jpg", (1, 2, 3)), ("b.jpg", (9, 9, 9)))
    by_name = {f.filename: f for f in again.files}
    assert by_name["a.jpg"].status == "landed" and "queued into this batch" in by_name["a.jpg"].reason
    assert by_name["b.jpg"].status == "duplicate" and first.batch.name in by_name["b.jpg"].reason
    assert Image.objects.get(original_filename="a.jpg").batch_id == again.batch.pk
    assert Image.objects.filter(project=project).count() == 2


def test_state_is_per_project(project, other, manager, image_file):
    upload(project, manager, image_file, ("a.jpg", (1, 2, 3)))
    upload(other, manager, image_file, ("a.jpg", (1, 2, 3)))
    mine, theirs = Image.objects.order_by("pk")
    car = LabelClass.objects.create(project=project, name="car")
    Annotation.objects.create(image=mine, label=car, x=1, y=1, width=2, height=2)
    set_images(Image.objects.filter(pk=mine.pk), annotation_state=AnnotationState.ANNOTATED)
    theirs.refresh_from_db()
    assert theirs.annotation_state == AnnotationState.UNANNOTATED and not theirs.annotations.exists()


def test_add_batch_to_project_from_images_labeled_in_another(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (i, i, i)) for i in range(5)])
    ids = list(Asset.objects.values_list("pk", flat=True))
    result = services.add_batch_to_project(project=other, actor=manager, name="Signs round 1", asset_ids=ids)
    assert result.taken == 5 and result.batch.project_id == other.pk
    assert Image.objects.filter(project=other, placement__batch=result.batch).count() == 5
    assert Image.objects.filter(project=project, placement__isnull=False).count() == 5  # untouched there
    assert Asset.objects.count() == 5


def asset_counts(queries) -> int:
    """How many statements counted the selection's assets."""
    return sum(1 for q in queries if "COUNT(" in q["sql"] and q["sql"].split(" WHERE ")[0].endswith('"boards_asset"'))


def test_add_batch_by_ids_reads_the_selection_once(project, other, manager, image_file, monkeypatch):
    """25,000 ids cost a scan of the catalog per read, and each id is checked once (25,000 take some 18
    ms). Pictures all new to the project are neither counted nor previewed: the INSERT that makes a
    row for each says they are all there; when some are in the project, the selection is counted once."""
    from core import params

    upload(project, manager, image_file, *[(f"{i}.jpg", (i, i, i)) for i in range(5)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    checked = []
    real_check = params.ident_value
    monkeypatch.setattr(params, "ident_value", lambda value, **kw: checked.append(value) or real_check(value, **kw))
    with CaptureQueriesContext(connection) as queries:
        result = services.add_batch_to_project(project=other, actor=manager, name="Once", asset_ids=ids[:3] + ids[:2])
    assert asset_counts(queries) == 0
    assert not [q for q in queries if '"placement__batch__status"' in q["sql"]]  # no preview by column
    assert not [q for q in queries if q["sql"].startswith('UPDATE "boards_image"')]  # no free copy to move in
    assert (result.preview.matching, result.preview.would_take, result.preview.left_out, result.taken) == (3, 3, 0, 3)
    assert len(checked) == 5  # the three ids and the two repeated
    assert set(Image.objects.filter(placement__batch=result.batch).values_list("asset_id", flat=True)) == set(ids[:3])

    with CaptureQueriesContext(connection) as queries:
        rest = services.add_batch_to_project(project=other, actor=manager, name="Rest", asset_ids=ids)
    assert asset_counts(queries) == 1
    assert (rest.preview.matching, rest.preview.left_out, rest.taken) == (5, 3, 2)
    assert rest.preview.in_batches == {BatchStatus.UNASSIGNED: 3}


def test_a_batch_of_pictures_new_to_the_project_is_what_the_usual_way_makes(project, other, manager, image_file):
    """The same selection, once new to the project and once with a picture in it (then free, so taken
    as well): the same preview, batch, counts and event."""
    upload(project, manager, image_file, *[(f"{i}.jpg", (50 * i, 9, 9)) for i in range(4)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    third = ProjectFactory(workspace=project.workspace, slug="third")
    earlier = services.add_batch_to_project(project=third, actor=manager, name="earlier", asset_ids=ids[:1])
    services.archive(batch=earlier.batch, actor=manager)  # a free copy in third: the usual way there
    made = {}
    for target in (other, third):
        result = services.add_batch_to_project(project=target, actor=manager, name="all", asset_ids=ids, priority=2)
        batch = Batch.objects.get(pk=result.batch.pk)
        event = batch.events.get()
        made[target.slug] = (
            result.to_dict() | {"batch": None},
            sorted(Image.objects.filter(placement__batch=batch).values_list("asset_id", flat=True)),
            tuple(getattr(batch, name) for name in CARD_COUNTS),
            batch.counts_stored,
            (event.kind, event.to_status, event.detail),
        )
    assert made["signs"] == made["third"]
    assert made["signs"][1] == ids and made["signs"][2] == (4, 0, 0, 0)


def test_a_selection_with_a_picture_of_another_workspace_leaves_nothing_behind(project, other, manager, image_file):
    """The INSERT of the new pictures makes fewer rows than asked: undone (no batch, no image), then the
    selection is checked the usual way and refused, naming the id; a taken name is not what it says."""
    upload(project, manager, image_file, *[(f"{i}.jpg", (50 * i, 9, 9)) for i in range(3)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    foreign = ImageFactory(project=ProjectFactory(slug="theirs")).asset_id
    Batch.objects.create(project=other, name="taken")
    for name in ("new name", "taken"):
        with pytest.raises(InvalidInput, match=f"1 of the images are not in this workspace's catalog: {foreign}"):
            services.add_batch_to_project(project=other, actor=manager, name=name, asset_ids=[*ids, foreign])
    assert list(Batch.objects.filter(project=other).values_list("name", flat=True)) == ["taken"]
    assert not Image.objects.filter(project=other).exists()


def test_a_picture_the_project_took_after_it_was_looked_for_is_handled_the_usual_way(
    project, other, manager, image_file, monkeypatch
):
    """The project took one of the pictures between the look-up and the INSERT (here: the look-up told
    none): the INSERT breaks the (asset, project) constraint and is undone; the usual way then leaves
    that picture out, by its column, and takes the others."""
    upload(project, manager, image_file, *[(f"{i}.jpg", (50 * i, 9, 9)) for i in range(3)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    first = services.add_batch_to_project(project=other, actor=manager, name="first", asset_ids=ids[:1])
    real = catalog.images_in_project
    looked_for = []

    def told_none(project, assets, *, asset_ids=None):
        if not looked_for:  # the first look-up only: the usual way's count is real
            looked_for.append(asset_ids)
            return Image.objects.none()
        return real(project, assets, asset_ids=asset_ids)

    monkeypatch.setattr(catalog, "images_in_project", told_none)
    result = services.add_batch_to_project(project=other, actor=manager, name="all", asset_ids=ids)
    assert looked_for and (result.taken, result.preview.in_batches) == (2, {BatchStatus.UNASSIGNED: 1})
    assert list(Batch.objects.filter(project=other).order_by("pk").values_list("name", flat=True)) == ["first", "all"]
    assert Image.objects.filter(project=other).count() == 3
    assert Image.objects.get(project=other, asset_id=ids[0]).batch == first.batch


def test_pictures_of_the_project_between_those_looked_for_are_handled_the_usual_way(
    project, other, manager, image_file, monkeypatch
):
    """Only some of the ids are looked for in the project before the INSERT (``PROBED``, spread over
    them). One the project has in a batch and one it has free, both between those looked for: the
    INSERT stops at the first and is undone, and the usual way leaves the queued one out, by its
    column, takes the free copy and makes the rest."""
    upload(project, manager, image_file, *[(f"{i}.jpg", (40 * i, 9, 9)) for i in range(6)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    queued = services.add_batch_to_project(project=other, actor=manager, name="queued", asset_ids=[ids[1]])
    freed = services.add_batch_to_project(project=other, actor=manager, name="freed", asset_ids=[ids[4]])
    services.archive(batch=freed.batch, actor=manager)
    monkeypatch.setattr("boards.services.catalog.PROBED", 2)
    real = catalog.images_in_project
    looked_for = []

    def recording(project, assets, *, asset_ids=None):
        looked_for.append(asset_ids)
        return real(project, assets, asset_ids=asset_ids)

    monkeypatch.setattr(catalog, "images_in_project", recording)
    result = services.add_batch_to_project(project=other, actor=manager, name="all", asset_ids=reversed(ids))
    assert looked_for[0] == [ids[0], ids[3]]  # every third of the six, in id order: neither of the two
    assert (result.preview.matching, result.preview.left_out, result.taken) == (6, 1, 5)
    assert result.preview.in_batches == {BatchStatus.UNASSIGNED: 1}
    assert sorted(Image.objects.filter(placement__batch=result.batch).values_list("asset_id", flat=True)) == [
        ids[0],
        *ids[2:],
    ]
    assert Image.objects.get(project=other, asset_id=ids[1]).batch == queued.batch
    assert Image.objects.filter(project=other).count() == 6  # the free copy moved in, not made again
    batch = Batch.objects.get(pk=result.batch.pk)
    assert (batch.n_images, batch.events.get().detail["images"]) == (5, 5)


def test_add_batch_takes_ids_given_as_an_iterator(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (i, i, i)) for i in range(3)])
    ids = list(Asset.objects.values_list("pk", flat=True))
    services.add_batch_to_project(project=other, actor=manager, name="First", asset_ids=iter(ids[:1]))
    result = services.add_batch_to_project(project=other, actor=manager, name="Rest", asset_ids=(i for i in ids))
    assert (result.preview.matching, result.preview.left_out, result.taken) == (3, 1, 2)
    with pytest.raises(InvalidInput, match="1 of the images are not in this workspace"):
        services.add_batch_to_project(project=other, actor=manager, name="Ghost", asset_ids=iter([*ids, 10**9]))


def test_add_batch_leaves_out_only_images_queued_in_that_project(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (i, i, i)) for i in range(4)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    services.add_batch_to_project(project=other, actor=manager, name="first two", asset_ids=ids[:2])
    assets = catalog.selected_assets(project.workspace_id, asset_ids=ids)
    preview = catalog.preview_for_project(assets, other, None)
    assert (preview.matching, preview.left_out, preview.would_take) == (4, 2, 2)
    assert preview.in_batches == {BatchStatus.UNASSIGNED: 2}
    result = services.add_batch_to_project(project=other, actor=manager, name="the rest", asset_ids=ids)
    assert result.taken == 2


def test_add_batch_by_filter_and_sample(project, other, manager, image_file):
    upload(
        project,
        manager,
        image_file,
        *[(f"cam{i}.jpg", (40 * i, 200, 10)) for i in range(6)],
        ("other.jpg", (0, 90, 250)),
    )
    wanted = catalog.WorkspaceFilter.from_query({"file": "cam", "project": "parcels", "state": "queued"})
    result = services.add_batch_to_project(
        project=other,
        actor=manager,
        name="sample",
        filters=wanted,
        sample={"mode": "random", "n": 3, "seed": 7},
    )
    assert result.taken == 3
    assert result.batch.sample_seed == 7 and result.batch.events.get().detail["sample_seed"] == 7
    assert Image.objects.filter(project=other).count() == 3  # only the sampled ones joined the project
    # The sample drawn from the filter's ids is the one the database ranks.
    ranked = catalog.selected_assets(project.workspace_id, filters=wanted).order_by(
        *catalog.Sample(n=3, seed=7).ordering()
    )
    taken = set(Image.objects.filter(project=other).values_list("asset_id", flat=True))
    assert taken == set(ranked.values_list("pk", flat=True)[:3])
    assert Image.objects.filter(project=other, placement__batch=result.batch).count() == 3


def test_add_batch_refuses_a_taken_name_and_leaves_nothing(project, other, manager, image_file):
    upload(project, manager, image_file, ("a.jpg", (1, 1, 1)))
    Batch.objects.create(project=other, name="taken")
    with pytest.raises(InvalidInput, match="already a batch named"):
        services.add_batch_to_project(
            project=other, actor=manager, name="taken", asset_ids=list(Asset.objects.values_list("pk", flat=True))
        )
    assert not Image.objects.filter(project=other).exists()


def test_add_batch_refuses_assets_of_another_workspace(project, manager, image_file, outsider):
    foreign_project = ProjectFactory(slug="theirs")
    foreign = ImageFactory(project=foreign_project)
    with pytest.raises(InvalidInput):
        services.add_batch_to_project(project=project, actor=manager, name="x", asset_ids=[foreign.asset_id])


def test_deleting_a_batch_keeps_pictures_another_project_uses(project, other, manager, image_file):
    first = upload(project, manager, image_file, ("a.jpg", (1, 1, 1)), ("b.jpg", (2, 2, 2)))
    shared = Asset.objects.get(original_filename="a.jpg")
    services.add_batch_to_project(project=other, actor=manager, name="shared", asset_ids=[shared.pk])
    files = set(Image.objects.values_list("file", flat=True))
    gone = services.delete_batch(batch=Batch.objects.get(pk=first.batch.pk), actor=manager)
    assert gone == 2
    assert list(Asset.objects.values_list("original_filename", flat=True)) == ["a.jpg"]
    assert Image.objects.get().project_id == other.pk
    assert len(files) == 2


def test_the_workspace_filter_finds_images_in_no_project(project, manager, image_file):
    upload(project, manager, image_file, ("a.jpg", (1, 1, 1)))
    orphan = Asset.objects.create(
        workspace=project.workspace,
        dataset=Dataset.objects.get(),
        file="images/x.jpg",
        width=1,
        height=1,
        sha256="f" * 64,
        original_filename="orphan.jpg",
    )
    nowhere = catalog.workspace_assets(project.workspace_id, catalog.WorkspaceFilter.from_query({"project": "nowhere"}))
    assert list(nowhere) == [orphan]
    parcels = catalog.workspace_assets(project.workspace_id, catalog.WorkspaceFilter.from_query({"project": "parcels"}))
    assert [a.original_filename for a in parcels] == ["a.jpg"]


def test_add_batch_takes_the_projects_free_copies_and_the_new_ones_once_each(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (30 * i, 5, 5)) for i in range(4)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    first = services.add_batch_to_project(project=other, actor=manager, name="two", asset_ids=ids[:2])
    services.archive(batch=first.batch, actor=manager)  # its two images are free in Signs again
    result = services.add_batch_to_project(project=other, actor=manager, name="all four", asset_ids=ids)
    assert result.taken == 4 and result.preview.left_out == 0
    assert Image.objects.filter(project=other).count() == 4
    assert set(Image.objects.filter(project=other).values_list("placement__batch_id", flat=True)) == {result.batch.pk}
    copied = Image.objects.filter(project=other).values_list("asset_id", "file", "width", "original_filename")
    assert set(copied) == set(Asset.objects.values_list("pk", "file", "width", "original_filename"))


def test_add_batch_by_the_in_no_project_filter_takes_those_images(project, other, manager, image_file):
    upload(project, manager, image_file, ("kept.jpg", (1, 1, 1)))
    dataset = Dataset.objects.get()
    for i in range(3):
        Asset.objects.create(
            workspace=project.workspace,
            dataset=dataset,
            file=f"images/x/{i}.jpg",
            width=4,
            height=3,
            sha256=f"{i:064x}",
            original_filename=f"loose{i}.jpg",
        )
    nowhere = catalog.WorkspaceFilter.from_query({"project": "nowhere"})
    result = services.add_batch_to_project(project=other, actor=manager, name="Loose ones", filters=nowhere)
    assert result.taken == 3
    assert sorted(result.batch.images.values_list("original_filename", flat=True)) == [
        "loose0.jpg",
        "loose1.jpg",
        "loose2.jpg",
    ]


def test_a_picture_stored_again_by_a_racing_upload_takes_the_assets_files(project, other, manager, image_file):
    from boards.models import attach_assets

    upload(project, manager, image_file, ("a.jpg", (1, 2, 3)))
    asset = Asset.objects.get()
    # Another upload wrote its own copy before it saw the asset: the row takes the asset's files.
    late = Image(project=other, sha256=asset.sha256, width=1, height=1, original_filename="b.jpg")
    late.file.name, late.thumbnail.name = "images/late/b.jpg", "thumbs/late/b.jpg"
    replaced = attach_assets([late])
    assert late.asset_id == asset.pk and late.file.name == asset.file.name
    assert (late.width, late.height) == (asset.width, asset.height)
    assert late.original_filename == "b.jpg"  # the name it was uploaded under in that project
    assert sorted(replaced) == ["images/late/b.jpg", "thumbs/late/b.jpg"]


def test_a_workspace_with_images_can_be_deleted(project, manager, image_file):
    upload(project, manager, image_file, ("a.jpg", (1, 2, 3)))
    project.workspace.delete()
    assert not Asset.objects.exists() and not Dataset.objects.exists() and not Image.objects.exists()


def test_a_dataset_with_images_cannot_be_deleted_on_its_own(project, manager, image_file):
    from django.db.models import RestrictedError

    upload(project, manager, image_file, ("a.jpg", (1, 2, 3)))
    with pytest.raises(RestrictedError):
        Dataset.objects.get().delete()


def test_a_project_cannot_take_the_slug_of_the_datasets_api(workspace):
    from django.core.exceptions import ValidationError

    from boards.models import Project

    with pytest.raises(ValidationError, match="taken"):
        Project(workspace=workspace, name="Datasets", slug="datasets").full_clean()


def test_bulk_created_images_get_their_assets_chunk_by_chunk(project, monkeypatch):
    from boards.models import images as image_models

    monkeypatch.setattr(image_models, "ATTACH_CHUNK", 2)
    rows = [
        Image(project=project, sha256=f"{n:064x}", width=4, height=3, original_filename=f"{n}.jpg", file=f"x/{n}.jpg")
        for n in range(5)
    ]
    rows.append(Image(project=project, sha256=f"{0:064x}", width=4, height=3, original_filename="again.jpg"))
    image_models.attach_assets(rows)
    assert Asset.objects.count() == 5
    assert [r.asset_id for r in rows[:5]] == list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    assert rows[5].asset_id == rows[0].asset_id and rows[5].file.name == "x/0.jpg"


def test_add_batch_takes_nothing_when_a_chosen_picture_was_deleted_just_before_its_lock(
    project, other, manager, image_file, monkeypatch
):
    """A catalog delete that committed between the choice and the catalog lock: the batch is refused
    whole (nothing taken, no batch), not made with a picture short."""
    from boards.services import catalog as catalog_services

    upload(project, manager, image_file, *[(f"{i}.jpg", (40 * i, 1, 1)) for i in range(3)])
    loose = Asset.objects.create(
        workspace=project.workspace,
        dataset=Dataset.objects.get(),
        file="images/x/loose.jpg",
        width=4,
        height=3,
        sha256=f"{99:064x}",
        original_filename="loose.jpg",
    )
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    # One picture a free copy in the project: the selection is counted and previewed, then locked.
    services.archive(
        batch=services.add_batch_to_project(project=other, actor=manager, name="one", asset_ids=ids[:1]).batch,
        actor=manager,
    )
    locked = catalog_services.lock_catalog

    def deleted_first(workspace_id, *, exclusive):
        Asset.objects.filter(pk=loose.pk).delete()
        return locked(workspace_id, exclusive=exclusive)

    monkeypatch.setattr(catalog_services, "lock_catalog", deleted_first)
    with pytest.raises(ConcurrentChange, match="deleted meanwhile"):
        services.add_batch_to_project(project=other, actor=manager, name="short one", asset_ids=ids)
    assert Image.objects.filter(project=other).count() == 1
    assert list(Batch.objects.filter(project=other).values_list("name", flat=True)) == ["one"]
    # Without the delete the same choice goes through whole.
    monkeypatch.setattr(catalog_services, "lock_catalog", locked)
    ids.remove(loose.pk)
    assert services.add_batch_to_project(project=other, actor=manager, name="whole", asset_ids=ids).taken == 3


def test_the_project_filter_names_the_project_by_id(project, other):
    """The database plans "annotated in X" with X's id (its partial indexes apply), not a join on the slug."""
    wanted = catalog.WorkspaceFilter(project=other.slug, state="annotated")
    sql = str(catalog.workspace_assets(project.workspace_id, wanted).query)
    assert "boards_project" not in sql and f'"project_id" = {other.pk}' in sql
    elsewhere = catalog.WorkspaceFilter(project="no-such-project", state="annotated")
    assert not catalog.workspace_assets(project.workspace_id, elsewhere).exists()


def test_add_batch_takes_a_picture_that_became_a_free_copy_of_the_project_after_its_preview(
    project, other, manager, image_file, monkeypatch
):
    """New to the project when counted; in it and free (added, then its batch archived) by the time
    the batch is made: it moves in instead of being left out. (Another picture is a free copy there
    from the start: the selection is counted and previewed before the lock.)"""
    from boards.services import catalog as catalog_services

    upload(project, manager, image_file, *[(f"{i}.jpg", (40 * i, 2, 2)) for i in range(4)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    services.archive(
        batch=services.add_batch_to_project(project=other, actor=manager, name="last", asset_ids=ids[3:]).batch,
        actor=manager,
    )
    locked = catalog_services.lock_catalog

    def joined_and_archived_first(workspace_id, *, exclusive):
        monkeypatch.setattr(catalog_services, "lock_catalog", locked)
        earlier = services.add_batch_to_project(project=other, actor=manager, name="earlier", asset_ids=ids[:1])
        services.archive(batch=earlier.batch, actor=manager)
        return locked(workspace_id, exclusive=exclusive)

    monkeypatch.setattr(catalog_services, "lock_catalog", joined_and_archived_first)
    result = services.add_batch_to_project(project=other, actor=manager, name="all", asset_ids=ids, all_or_nothing=True)
    assert result.taken == 4 and result.preview.left_out == 0
    assert set(Image.objects.filter(placement__batch=result.batch).values_list("asset_id", flat=True)) == set(ids)
    assert Image.objects.filter(project=other).count() == 4


def test_a_batch_of_new_pictures_stores_its_counts_without_counting_them(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (30 * i, 5, 5)) for i in range(3)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        result = services.add_batch_to_project(project=other, actor=manager, name="new", asset_ids=ids)
    batch = Batch.objects.get(pk=result.batch.pk)
    assert batch.counts_stored
    assert (
        tuple(getattr(batch, name) for name in CARD_COUNTS) == count_card_images([batch.pk])[batch.pk] == (3, 0, 0, 0)
    )
    assert not [q for q in queries if '"n_annotated"' in q["sql"] and q["sql"].startswith("SELECT")]  # no card count


def test_a_batch_of_new_pictures_and_free_copies_with_boxes_counts_what_it_took(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (30 * i, 5, 5)) for i in range(4)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    first = services.add_batch_to_project(project=other, actor=manager, name="two", asset_ids=ids[:2])
    label = LabelClass.objects.create(project=other, name="sign")
    boxed = Image.objects.filter(placement__batch=first.batch).first()
    Annotation.objects.create(image=boxed, label=label, x=1, y=1, width=5, height=5)  # a pre-label
    services.archive(batch=first.batch, actor=manager)
    result = services.add_batch_to_project(project=other, actor=manager, name="all four", asset_ids=ids)
    batch = Batch.objects.get(pk=result.batch.pk)
    assert batch.counts_stored
    assert tuple(getattr(batch, name) for name in CARD_COUNTS) == count_card_images([batch.pk])[batch.pk]
    assert (batch.n_images, batch.n_prelabeled) == (4, Annotation.objects.filter(image=boxed).count())


def test_joining_a_project_never_takes_a_picture_of_another_workspace(project, manager, image_file):
    """The service refuses such ids before (``missing_ids``); the INSERT itself names the workspace too."""
    from boards.services.catalog import _join_project

    foreign = ImageFactory(project=ProjectFactory(slug="theirs"))
    upload(project, manager, image_file, ("mine.jpg", (1, 2, 3)))
    other = ProjectFactory(workspace=project.workspace, slug="signs")
    batch = Batch.objects.create(project=other, name="b")
    mine = Asset.objects.get(workspace=project.workspace).pk
    assert _join_project(other, [foreign.asset_id, mine], batch=batch) == 1
    assert list(Image.objects.filter(project=other).values_list("asset_id", flat=True)) == [mine]


def test_the_apis_refusal_names_the_images_already_queued_in_that_project(project, other, manager, image_file):
    upload(project, manager, image_file, *[(f"{i}.jpg", (30 * i, 5, 5)) for i in range(3)])
    ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
    first = services.add_batch_to_project(project=other, actor=manager, name="one", asset_ids=ids[:1])
    queued = Image.objects.get(placement__batch=first.batch)
    with pytest.raises(WrongState) as refused:
        services.add_batch_to_project(project=other, actor=manager, name="all", asset_ids=ids, all_or_nothing=True)
    assert f"1 image is already in a batch of this project (1 in Unassigned): {queued.pk}." in refused.value.message
    assert Image.objects.filter(project=other).count() == 1


def filter_reads(queries) -> int:
    """How many statements ran a file name filter (the service's own statements have no ``LIKE``)."""
    return sum(" LIKE " in q["sql"] for q in queries)


def test_add_batch_by_filter_reads_the_filter_once_and_takes_what_the_filter_would(
    project, other, manager, image_file, monkeypatch
):
    """Counted, previewed and sampled as a filter, a selection ran it three times; it is read once as
    its ids. Past ``FIXED_IDS`` it is used as a filter: both ways choose the same sample."""
    from boards.catalog import workspace

    upload(project, manager, image_file, *[(f"cam{i}.jpg", (30 * i, 90, 9)) for i in range(8)], ("dog.jpg", (1, 1, 1)))
    third = ProjectFactory(workspace=project.workspace, name="Third", slug="third")
    wanted = catalog.WorkspaceFilter(file="cam")
    sample = {"mode": "random", "n": 5, "seed": 11}

    def taken(target, name):
        with CaptureQueriesContext(connection) as queries:
            result = services.add_batch_to_project(
                project=target, actor=manager, name=name, filters=wanted, sample=sample
            )
        return result, queries

    as_ids, queries = taken(other, "As ids")
    assert filter_reads(queries) == 1
    monkeypatch.setattr(workspace, "FIXED_IDS", 3)  # 8 match: used as a filter
    as_filter, queries = taken(third, "As a filter")
    assert filter_reads(queries) >= 2

    def assets(result):
        return set(Image.objects.filter(placement__batch=result.batch).values_list("asset_id", flat=True))

    assert (as_ids.preview.matching, as_ids.taken) == (as_filter.preview.matching, as_filter.taken) == (8, 5)
    assert assets(as_ids) == assets(as_filter)
    assert not Image.objects.filter(asset__original_filename="dog.jpg", project__in=[other, third]).exists()


def test_a_filter_selecting_exactly_as_many_as_are_read_as_ids_is_read_once(
    project, other, manager, image_file, monkeypatch
):
    from boards.catalog import workspace

    upload(project, manager, image_file, *[(f"cam{i}.jpg", (30 * i, 90, 9)) for i in range(4)])
    monkeypatch.setattr(workspace, "FIXED_IDS", 4)
    with CaptureQueriesContext(connection) as queries:
        result = services.add_batch_to_project(
            project=other, actor=manager, name="Four", filters=catalog.WorkspaceFilter(file="cam")
        )
    assert filter_reads(queries) == 1 and result.taken == 4
    nothing = catalog.WorkspaceFilter(file="zebra")
    with pytest.raises(InvalidInput, match="Nothing matches the filter"):
        services.add_batch_to_project(project=other, actor=manager, name="None", filters=nothing)
