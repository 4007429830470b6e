"""Free images are rows of their own (``FreeImage``, migration 0029): every image has either a
placement or a free row, the free row copies what the catalog pages free images by, and whatever
frees or takes images keeps both true (the suite's ``_stored_counts_hold`` checks it after every test)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from boards.models import Batch, FreeImage, Image
from tests.factories import BatchFactory, ImageFactory

pytestmark = pytest.mark.django_db


def free_rows(project) -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in FreeImage.objects.filter(project=project).values_list("image_id", "uploaded_at", "width", "height")
    }


def test_a_new_image_is_free_until_a_batch_takes_it_and_free_again_when_released(project):
    image = ImageFactory(project=project)
    assert free_rows(project) == {image.pk: (image.uploaded_at, image.width, image.height)}
    batch = BatchFactory(project=project)

    Image.objects.filter(pk=image.pk).set_batch(batch)
    assert free_rows(project) == {} and Image.objects.get(pk=image.pk).batch == batch

    Image.objects.filter(pk=image.pk).set_batch(None)
    assert set(free_rows(project)) == {image.pk} and Image.objects.get(pk=image.pk).batch is None


def test_a_batch_deleted_through_the_orm_leaves_its_images_free(project):
    """The admin deletes batches so; the images stay in the project, free, as before the free rows."""
    batch = BatchFactory(project=project)
    images = [ImageFactory(project=project, batch=batch) for _ in range(3)]

    Batch.objects.filter(pk=batch.pk).delete()

    assert set(free_rows(project)) == {image.pk for image in images}


def test_the_admin_s_delete_page_does_not_free_anything_by_looking(project, admin_client):
    """Collecting what a delete would remove (the confirmation page) writes nothing."""
    batch = BatchFactory(project=project)
    ImageFactory(project=project, batch=batch)

    response = admin_client.get(f"/admin/boards/batch/{batch.pk}/delete/")

    assert response.status_code == 200
    assert free_rows(project) == {}


def test_a_free_image_s_row_follows_its_upload_time_and_sizes(project):
    image = ImageFactory(project=project)
    image.uploaded_at = timezone.now() - timedelta(days=3)
    image.width, image.height = 640, 480
    image.save()
    assert free_rows(project) == {image.pk: (image.uploaded_at, 640, 480)}

    image.width = 800
    image.save(update_fields=["width"])
    assert free_rows(project)[image.pk][1] == 800


def test_renaming_free_images_in_bulk_renames_their_free_rows(project):
    """``ImageQuerySet.update`` copies a change of a copied column, even when it changes what the filter matches."""
    images = [ImageFactory(project=project, original_filename=f"old{n}.jpg") for n in range(3)]

    Image.objects.filter(original_filename__startswith="old").update(original_filename="new.jpg")

    names = dict(FreeImage.objects.values_list("image_id", "original_filename"))
    assert names == {image.pk: "new.jpg" for image in images}


def test_the_first_free_images_by_file_name_come_from_the_free_rows_in_name_order(project, manager):
    from boards import services
    from boards.catalog import CatalogFilter

    for name in ("c.jpg", "a.jpg", "é.jpg", "b.jpg"):
        ImageFactory(project=project, original_filename=name)
    ImageFactory(project=project, original_filename="0.jpg", batch=BatchFactory(project=project))  # not free

    result = services.create_batch_from_images(
        project=project,
        actor=manager,
        name="By name",
        priority=1,
        filters=CatalogFilter(state="free"),
        sample={"n": 2, "mode": "ordered", "order": "filename"},
    )

    assert sorted(result.batch.images.values_list("original_filename", flat=True)) == ["a.jpg", "b.jpg"]


def test_a_save_of_no_field_copies_nothing(project):
    image = ImageFactory(project=project, width=64)
    image.width = 5
    image.save(update_fields=[])
    assert free_rows(project)[image.pk][1] == 64 == Image.objects.get(pk=image.pk).width


def test_a_preview_of_not_in_a_batch_counts_free_rows_without_looking_for_placements(project):
    from django.test.utils import CaptureQueriesContext

    from boards import catalog
    from boards.catalog import CatalogFilter

    for _ in range(3):
        ImageFactory(project=project)
    ImageFactory(project=project, batch=BatchFactory(project=project))

    with CaptureQueriesContext(connection) as queries:
        preview = catalog.preview_batch(project, filters=CatalogFilter(state="free"))

    assert (preview.matching, preview.free, preview.in_batches) == (3, 3, {})
    assert not [q["sql"] for q in queries.captured_queries if "boards_placement" in q["sql"]]


def test_saving_an_image_s_work_writes_no_free_row(project, django_assert_num_queries):
    """Only a save that may change the copied columns touches the free row."""
    image = ImageFactory(project=project)
    with django_assert_num_queries(1):
        image.save(update_fields=["annotation_state", "annotation_version"])


def test_deleting_a_free_image_deletes_its_free_row(project):
    image = ImageFactory(project=project)
    image.delete()
    assert not FreeImage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_migration_0029_moves_the_free_images_into_their_table_and_back():
    """On a database of the schema before it: each free image gets a free row copying its project, upload time
    and sizes; images in a batch get none; going back marks ``in_batch`` from the placements again."""
    from django.db.migrations.executor import MigrationExecutor

    from tests.test_migration_workspace_catalog import migrate

    before, after = ("boards", "0028_asset_names_index_sqlite"), ("boards", "0029_free_images")
    batch = BatchFactory()
    project = batch.project
    free = [ImageFactory(project=project, width=10 + n, height=20 + n) for n in range(3)]
    placed = [ImageFactory(project=project, batch=batch) for _ in range(2)]
    wanted = {i.pk: (i.project_id, i.uploaded_at, i.width, i.height, i.original_filename) for i in free}

    def in_batch() -> dict[int, bool]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, in_batch FROM boards_image")
            return {pk: bool(flag) for pk, flag in cursor.fetchall()}

    try:
        migrate([before])
        assert "boards_freeimage" not in connection.introspection.table_names()
        assert in_batch() == {**{i.pk: False for i in free}, **{i.pk: True for i in placed}}
        migrate([after])
        rows = FreeImage.objects.values_list(
            "image_id", "project_id", "uploaded_at", "width", "height", "original_filename"
        )
        assert {pk: tuple(rest) for pk, *rest in rows} == wanted
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, "boards_image")}
        assert "in_batch" not in columns
        assert set(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True)) == {i.pk for i in placed}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrent transactions need PostgreSQL")
def test_a_restore_racing_renames_of_its_images_neither_deadlocks_nor_leaves_a_stale_copy(project, manager):
    """A restore takes the free rows, then sets the images (``place_free`` with a setting); a rename sets
    the images and their free rows. Both lock the free rows first, so neither waits on the other in a cycle."""
    from boards import services
    from tests.test_concurrency import ROUNDS, _race

    for round_no in range(ROUNDS):
        batch = BatchFactory(project=project, name=f"Archived {round_no}")
        images = [ImageFactory(project=project, batch=batch) for _ in range(4)]
        services.archive(batch=batch, actor=manager)
        ids = [image.pk for image in images]

        def rename_all(ids=ids, round_no=round_no):
            return Image.objects.filter(pk__in=ids).update(original_filename=f"renamed{round_no}.jpg")

        def rename_one(pk=ids[-1]):
            image = Image.objects.get(pk=pk)
            image.original_filename = "one.jpg"
            image.save()

        archived = Batch.objects.get(pk=batch.pk)
        _race(lambda archived=archived: services.restore_batch(batch=archived, actor=manager), rename_all, rename_one)

        restored = Batch.objects.get(pk=batch.pk).status != "archived"
        assert set(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True)) == (
            set(ids) if restored else set()
        )
        assert set(free_rows(project)) == (set() if restored else set(ids))
        copies = dict(FreeImage.objects.values_list("image_id", "original_filename"))
        assert copies == dict(Image.objects.filter(pk__in=copies).values_list("pk", "original_filename"))


def test_the_state_filters_tell_batched_images_from_free_ones_by_the_free_rows(project):
    """A free image keeps whatever review state it had and is still only "not in a batch". On
    PostgreSQL "in a batch" is "without a free row": the filters' SQL looks for free rows, not
    placements (a join it hashed whole)."""
    from boards import catalog
    from boards.catalog import CatalogFilter

    batch = BatchFactory(project=project)
    queued = ImageFactory(project=project, batch=batch)
    approved = ImageFactory(project=project, batch=batch, review_state="approved", annotation_state="annotated")
    rejected = ImageFactory(project=project, batch=batch, review_state="rejected", annotation_state="annotated")
    annotated = ImageFactory(project=project, batch=batch, annotation_state="annotated")
    freed = ImageFactory(project=project, review_state="approved", annotation_state="annotated")
    free = ImageFactory(project=project)

    def matching(state):
        images = catalog.filtered_images(project, CatalogFilter(state=state))
        return set(images.values_list("pk", flat=True)), str(images.query)

    expected = {
        "free": {freed.pk, free.pk},
        "queued": {queued.pk},
        "annotated": {annotated.pk},
        "approved": {approved.pk},
        "rejected": {rejected.pk},
    }
    for state, pks in expected.items():
        found, sql = matching(state)
        assert found == pks, state
        if state != "free" and connection.vendor == "postgresql":
            assert "boards_freeimage" in sql and "boards_placement" not in sql, state
