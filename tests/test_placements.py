"""Which batch an image is in lives in its placement (``boards.models.images``), not in the image's row.

A move between batches rewrites only placements: on PostgreSQL the image rows
keep their versions (``ctid``), which is the point (each new version of a wide
image row is an entry in every index of the table). ``in_batch`` says whether
an image has a placement; it changes only when an image joins a batch from
free or leaves for free. ``tests/conftest.py`` checks that it agrees with the
placements after every database test.
"""

import pytest
from django.db import connection

from boards import services
from boards.models import Batch, BatchStatus, Image, Placement
from tests.factories import BatchFactory, ImageFactory

pytestmark = pytest.mark.django_db


def _versions(ids) -> dict[int, str]:
    """Where each image row's current version is on PostgreSQL: an update writes a new one elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, ctid::text FROM boards_image WHERE id = ANY(%s)", [list(ids)])
        return dict(cursor.fetchall())


def _batches(ids) -> dict[int, int | None]:
    return dict(Image.objects.filter(pk__in=ids).values_list("pk", "placement__batch_id"))


def test_a_split_moves_placements_and_leaves_the_image_rows_as_they_were(project, manager, labeler):
    batch = BatchFactory(project=project)
    ids = [ImageFactory(project=project, batch=batch).pk for _ in range(6)]
    services.mark_changed(batch)
    rows = sorted(Image.objects.filter(pk__in=ids).values_list(*[f.attname for f in Image._meta.concrete_fields]))
    versions = _versions(ids) if connection.vendor == "postgresql" else None

    services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=ids[:2])

    rest = Batch.objects.get(split_from=batch)
    assert _batches(ids) == {**dict.fromkeys(ids[:2], batch.pk), **dict.fromkeys(ids[2:], rest.pk)}
    assert sorted(Image.objects.filter(pk__in=ids).values_list(*[f.attname for f in Image._meta.concrete_fields])) == (
        rows
    )
    if versions is not None:
        assert _versions(ids) == versions, "a move rewrote image rows"


def test_archive_frees_and_restore_takes_back_the_same_images(project, manager):
    batch = BatchFactory(project=project)
    ids = [ImageFactory(project=project, batch=batch).pk for _ in range(3)]
    services.mark_changed(batch)

    services.archive(batch=batch, actor=manager)
    assert _batches(ids) == dict.fromkeys(ids)
    assert not Image.objects.filter(pk__in=ids, placement__isnull=False).exists()
    assert set(Image.objects.filter(pk__in=ids).values_list("archived_from", flat=True)) == {batch.pk}

    services.restore_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    assert _batches(ids) == dict.fromkeys(ids, batch.pk)
    assert Image.objects.filter(pk__in=ids, placement__isnull=False, archived_from=None).count() == 3


def test_a_catalog_batch_places_only_free_images(project, manager):
    queued = BatchFactory(project=project)
    busy = ImageFactory(project=project, batch=queued)
    free = [ImageFactory(project=project) for _ in range(3)]
    services.mark_changed(queued)

    result = services.create_batch_from_images(
        project=project, actor=manager, name="From the catalog", image_ids=[busy.pk] + [i.pk for i in free]
    )

    assert result.taken == 3
    assert _batches([busy.pk] + [i.pk for i in free]) == {
        busy.pk: queued.pk,
        **{i.pk: result.batch.pk for i in free},
    }


def test_deleting_a_batch_deletes_its_images_and_their_placements(project, manager):
    batch = BatchFactory(project=project)
    ids = [ImageFactory(project=project, batch=batch).pk for _ in range(2)]
    services.mark_changed(batch)

    assert services.delete_batch(batch=batch, actor=manager) == 2

    assert not Image.objects.filter(pk__in=ids).exists()
    assert not Placement.objects.filter(image_id__in=ids).exists()


def test_set_batch_moves_places_and_frees_whatever_the_images_were(project):
    one, two = BatchFactory(project=project), BatchFactory(project=project)
    placed = [ImageFactory(project=project, batch=one).pk for _ in range(2)]
    free = ImageFactory(project=project).pk

    # A queryset that names the batch the images leave: the ids are read first.
    assert one.images.set_batch(two) == 2
    assert Image.objects.filter(pk=free).set_batch(two) == 1
    assert _batches([*placed, free]) == dict.fromkeys([*placed, free], two.pk)

    assert two.images.set_batch(None) == 3
    assert _batches([*placed, free]) == dict.fromkeys([*placed, free])
    assert Image.objects.none().set_batch(one) == 0


def test_an_image_saved_with_a_batch_gets_its_placement_and_moves_when_saved_again(project):
    one, two = BatchFactory(project=project), BatchFactory(project=project)
    image = ImageFactory(project=project, batch=one)
    elsewhere = BatchFactory()  # the same picture in another project, bulk-created into its batch
    made = Image.objects.bulk_create([Image.of_asset(image.asset, project=elsewhere.project, batch=elsewhere)])
    assert (image.batch, image.batch_id, image.in_batch) == (one, one.pk, True)
    assert (Placement.objects.get(image=made[0]).batch, made[0].in_batch) == (elsewhere, True)

    image.batch = two
    image.save()
    fresh = Image.objects.get(pk=image.pk)
    assert (fresh.batch, fresh.in_batch) == (two, True)

    fresh.batch = None
    fresh.save()
    fresh = Image.objects.get(pk=image.pk)
    assert (fresh.batch, fresh.batch_id, fresh.in_batch) == (None, None, False)


def test_a_review_sends_rejected_images_back_by_their_placements(project, manager, labeler, reviewer):
    batch = BatchFactory(project=project)
    ids = [ImageFactory(project=project, batch=batch).pk for _ in range(4)]
    services.mark_changed(batch)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    Image.objects.filter(pk__in=ids).update(annotation_state="annotated")
    services.mark_changed(batch)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)

    result = services.review(batch=Batch.objects.get(pk=batch.pk), actor=reviewer, approved=ids[:3], rejected=ids[3:])

    assert result.rejected.status == BatchStatus.ANNOTATING
    assert _batches(ids) == {**dict.fromkeys(ids[:3], batch.pk), ids[3]: result.rejected.pk}


@pytest.mark.django_db(transaction=True)
def test_migration_0027_moves_each_batch_into_placements_and_back():
    """On a database of the schema before it: every image's batch becomes its placement (a free image
    gets none), ``in_batch`` says which, and going back puts each batch on its image again."""
    from tests.test_migration_workspace_catalog import migrate

    before, after = ("boards", "0026_free_images_index_holds_sizes"), ("boards", "0027_placements")
    project = ImageFactory().project  # one free image
    one, two = BatchFactory(project=project), BatchFactory(project=project)
    for batch in (one, one, two):
        ImageFactory(project=project, batch=batch)
    wanted = sorted(Image.objects.values_list("pk", "placement__batch_id"))
    assert sum(1 for _pk, batch in wanted if batch is None) == 1

    def image_batches() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, batch_id FROM boards_image ORDER BY id")
            return [tuple(row) for row in cursor.fetchall()]

    try:
        migrate([before])
        assert image_batches() == wanted
        assert "boards_placement" not in connection.introspection.table_names()
        migrate([after])
        assert sorted(Image.objects.values_list("pk", "placement__batch_id")) == wanted
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, in_batch FROM boards_image ORDER BY id")
            assert [(pk, bool(flag)) for pk, flag in cursor.fetchall()] == [(pk, b is not None) for pk, b in wanted]
        columns = {c.name for c in connection.introspection.get_table_description(connection.cursor(), "boards_image")}
        # PostgreSQL drops the column; SQLite keeps it, emptied (see boards/migrations/_placements.py).
        if connection.vendor == "postgresql":
            assert "batch_id" not in columns
        else:
            assert image_batches() == [(pk, None) for pk, _b in wanted]
    finally:
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_card_counts_of_more_batches_than_one_sqlite_union_takes(project):
    """SQLite takes at most 500 SELECTs in one UNION ALL: the counts of 501 batches come all the same."""
    from boards.models import count_card_images

    batches = Batch.objects.bulk_create(
        [Batch(project=project, name=f"b{n}", uploaded_at=project.created_at) for n in range(501)]
    )
    for batch in (batches[0], batches[-1]):
        ImageFactory(project=project, batch=batch)

    counts = count_card_images([b.pk for b in batches])

    assert set(counts) == {batches[0].pk, batches[-1].pk}
    assert counts[batches[-1].pk][0] == 1
