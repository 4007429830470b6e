"""An image names its project, batch and asset: the database refuses a row that is missing, on both databases.

On PostgreSQL not foreign keys (one check a row) but triggers, one check a
statement (``boards/migrations/_image_references.py``): these tests hold them
to what a foreign key did, and to what SQLite's foreign keys still do.
"""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from boards import services
from boards.migrations._image_references import TRIGGERS
from boards.migrations._placements import TRIGGERS as PLACEMENT_TRIGGERS
from boards.models import Asset, Batch, Image, Placement, Project, free
from tests.factories import BatchFactory, ImageFactory

pytestmark = pytest.mark.django_db

MISSING = 2_000_000_000
REFUSED = "(?i)foreign key|boards_image|boards_placement"  # the triggers name the table; SQLite says this


def _check_deferred() -> None:
    """SQLite checks its (deferred) foreign keys at commit, which a test's savepoint never reaches: ask now."""
    if connection.vendor == "sqlite":
        connection.check_constraints(table_names=["boards_image", "boards_placement"])


def _image_rows() -> list[tuple]:
    """(id, project, batch, asset, name) of every image, read with SQL: before 0027 the batch is the image's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, project_id, batch_id, asset_id, original_filename FROM boards_image ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def _raw(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
        return {row[0] for row in cursor.fetchall()}


def _foreign_keys(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {spec["columns"][0] for spec in constraints.values() if spec["foreign_key"]}


def _image_foreign_keys() -> set[str]:
    return _foreign_keys("boards_image")


def _refused(sql: str, params=()) -> None:
    with pytest.raises(IntegrityError, match=REFUSED), transaction.atomic():
        _raw(sql, params)
        _check_deferred()


REFERENCES = {"project_id", "asset_id"}  # the batch is the placement's (0027)
# 0025's triggers for the image's batch, which 0027 replaces by the placement's.
BATCH_TRIGGERS = {"boards_batch_images_delete"}


def test_the_checks_are_there():
    """PostgreSQL: the triggers, and no foreign key left to check each row again. SQLite: its foreign
    keys, which a migration rebuilding boards_image from the model's state would leave out."""
    if connection.vendor == "postgresql":
        assert _triggers() >= (set(TRIGGERS) - BATCH_TRIGGERS) | set(PLACEMENT_TRIGGERS)
        assert not _triggers() & BATCH_TRIGGERS
        assert not _image_foreign_keys() & REFERENCES
        assert not _foreign_keys("boards_placement")
    else:
        assert _image_foreign_keys() >= REFERENCES
        assert _foreign_keys("boards_placement") >= {"image_id", "batch_id"}


def test_it_refuses_an_image_of_a_missing_project_or_asset_and_a_placement_in_a_missing_batch(project):
    image = ImageFactory(project=project)
    columns = "project_id, asset_id, file, thumbnail, width, height, sha256, original_filename, "
    columns += "uploaded_at, annotation_state, review_state, review_comment, annotation_version, rejections, split"
    insert = (
        f"INSERT INTO boards_image ({columns}) "  # noqa: S608 - a fixed statement
        "SELECT %s, %s, file, thumbnail, width, height, sha256, 'copy.jpg', uploaded_at, annotation_state, "
        "review_state, review_comment, annotation_version, rejections, split FROM boards_image WHERE id = %s"
    )
    other = Project.objects.create(workspace=project.workspace, name="Other", slug="other")
    _refused(insert, [MISSING, image.asset_id, image.pk])
    _refused(insert, [other.pk, MISSING, image.pk])
    _refused("INSERT INTO boards_placement (image_id, batch_id) VALUES (%s, %s)", [image.pk, MISSING])
    assert _raw(insert, [other.pk, image.asset_id, image.pk]) == 1  # both there: it goes in
    assert Image.objects.filter(asset_id=image.asset_id).count() == 2
    assert not Placement.objects.exists()
    free(Image.objects.filter(project=other))  # a row written by hand: the services give it its free row too


def test_it_refuses_moving_images_into_a_missing_batch_and_leaves_them_where_they_were(project):
    batch = BatchFactory(project=project)
    images = [ImageFactory(project=project, batch=batch) for _ in range(3)]
    ids = [image.pk for image in images]
    with pytest.raises(IntegrityError, match=REFUSED), transaction.atomic():
        Placement.objects.filter(image_id__in=ids).update(batch_id=MISSING)
        _check_deferred()
    for change in ({"project_id": MISSING}, {"asset_id": MISSING}):
        with pytest.raises(IntegrityError, match=REFUSED), transaction.atomic():
            Image.objects.filter(pk__in=ids[:1]).update(**change)
            _check_deferred()
    assert set(Image.objects.filter(pk__in=ids).values_list("placement__batch_id", flat=True)) == {batch.pk}


def test_changes_that_keep_the_references_go_through(project):
    """Other columns change freely, with the images' batch, project and asset as they were; a move
    into a batch that exists goes through."""
    batch, other = BatchFactory(project=project), BatchFactory(project=project)
    images = [ImageFactory(project=project, batch=batch) for _ in range(3)]
    assert batch.images.update(annotation_state="annotated") == 3
    assert Placement.objects.filter(batch=batch).update(batch=other) == 3
    assert Image.objects.filter(pk__in=[i.pk for i in images]).set_batch(None) == 3
    assert not Placement.objects.exists()


def test_it_refuses_deleting_a_batch_project_or_asset_an_image_still_names(project):
    batch = BatchFactory(project=project)
    image = ImageFactory(project=project, batch=batch)
    _refused("DELETE FROM boards_batch WHERE id = %s", [batch.pk])
    _refused("DELETE FROM boards_asset WHERE id = %s", [image.asset_id])
    _refused("DELETE FROM boards_project WHERE id = %s", [project.pk])
    assert Image.objects.filter(pk=image.pk, placement__batch=batch, project=project, asset_id=image.asset_id).exists()


def test_it_refuses_changing_the_id_of_a_batch_project_or_asset_an_image_names(project):
    batch = BatchFactory(project=project)
    image = ImageFactory(project=project, batch=batch)
    for table, pk in (("boards_batch", batch.pk), ("boards_project", project.pk), ("boards_asset", image.asset_id)):
        _refused(f"UPDATE {table} SET id = id + 1000000 WHERE id = %s", [pk])  # noqa: S608 - fixed names
    assert Image.objects.filter(pk=image.pk, placement__batch=batch, project=project, asset_id=image.asset_id).exists()


def test_deleting_the_django_way_clears_or_takes_the_images_first(project):
    """on_delete runs as before: a batch's images are freed, a project's and an asset's go."""
    batch = BatchFactory(project=project)
    kept = ImageFactory(project=project, batch=batch)
    batch.delete()
    kept.refresh_from_db()
    assert kept.batch_id is None
    assert not kept.in_batch
    Asset.objects.filter(pk=kept.asset_id).delete()
    assert not Image.objects.filter(pk=kept.pk).exists()
    ImageFactory(project=project, batch=BatchFactory(project=project))
    Project.objects.filter(pk=project.pk).delete()
    assert not Image.objects.filter(project_id=project.pk).exists()
    assert not Placement.objects.exists()


def test_deleting_images_with_plain_sql_takes_their_placements(project):
    """PostgreSQL has no foreign key from a placement to its image: a trigger deletes it with the image.
    SQLite's foreign key refuses the delete instead (Django deletes the placement first)."""
    image = ImageFactory(project=project, batch=BatchFactory(project=project))
    if connection.vendor == "postgresql":
        assert _raw("DELETE FROM boards_image WHERE id = %s", [image.pk]) == 1
        assert not Placement.objects.filter(image_id=image.pk).exists()
    else:
        _refused("DELETE FROM boards_image WHERE id = %s", [image.pk])


def test_a_split_still_moves_the_rest_into_its_new_batch(project, manager, labeler):
    """The split's new batch is created in the same statement-checked transaction as the move."""
    batch = BatchFactory(project=project)
    images = [ImageFactory(project=project, batch=batch) for _ in range(4)]
    services.mark_changed(batch)
    services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=[images[0].pk])
    rest = Batch.objects.get(split_from=batch)
    assert rest.images.count() == 3
    assert batch.images.count() == 1


# --- PostgreSQL: a move and a delete of its batch at the same moment ----------------------------------

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between sessions")


def _in_thread(job):
    result: dict = {}

    def run():
        try:
            result["value"] = job()
        except BaseException as exc:  # noqa: BLE001 - read by the caller
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _race_rows():
    workspace_project = ImageFactory().project
    source = BatchFactory(project=workspace_project)
    target = BatchFactory(project=workspace_project)
    images = [ImageFactory(project=workspace_project, batch=source) for _ in range(3)]
    return source, target, [image.pk for image in images]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_delete_of_the_batch_images_are_moving_into_waits_and_is_refused():
    """The move locks its target batch as a foreign key did: the delete waits for it, then sees the
    images and is refused. Nothing names a missing batch."""
    _source, target, ids = _race_rows()
    moved = threading.Event()
    with transaction.atomic():
        Placement.objects.filter(image_id__in=ids).update(batch=target)
        thread, result = _in_thread(
            lambda: (moved.set(), _raw("DELETE FROM boards_batch WHERE id = %s", [target.pk]))[1]
        )
        moved.wait(10)
        thread.join(1.0)
        assert thread.is_alive(), "the delete did not wait for the move's lock"
    thread.join(30)
    assert isinstance(result.get("error"), IntegrityError), result
    assert Batch.objects.filter(pk=target.pk).exists()
    assert Image.objects.filter(pk__in=ids, placement__batch=target).count() == 3


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_move_into_a_batch_being_deleted_waits_and_is_refused():
    """The other way round: the delete holds the batch row; the move waits, then finds it gone."""
    source, target, ids = _race_rows()
    started = threading.Event()
    with transaction.atomic():
        _raw("DELETE FROM boards_batch WHERE id = %s", [target.pk])

        def move():
            started.set()
            with transaction.atomic():
                return Placement.objects.filter(image_id__in=ids).update(batch_id=target.pk)

        thread, result = _in_thread(move)
        started.wait(10)
        thread.join(1.0)
        assert thread.is_alive(), "the move did not wait for the delete's lock"
    thread.join(30)
    assert isinstance(result.get("error"), IntegrityError), result
    assert not Batch.objects.filter(pk=target.pk).exists()
    assert Image.objects.filter(pk__in=ids, placement__batch=source).count() == 3


# --- migration 0025 on a database of the schema before it ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_0025_keeps_every_image_and_goes_back_to_foreign_keys():
    from tests.test_migration_workspace_catalog import migrate

    before, after = ("boards", "0024_background_open_index"), ("boards", "0025_image_references_by_statement")
    project = ImageFactory().project
    batch = BatchFactory(project=project)
    for _ in range(3):
        ImageFactory(project=project, batch=batch)
    rows = sorted(Image.objects.values_list("pk", "project_id", "placement__batch_id", "asset_id", "original_filename"))
    try:
        migrate([before])
        assert _image_foreign_keys() >= REFERENCES | {"batch_id"}
        assert not _triggers() & set(TRIGGERS)
        migrate([after])
        if connection.vendor == "postgresql":
            assert not (REFERENCES | {"batch_id"}) & _image_foreign_keys()
            assert _triggers() >= set(TRIGGERS)
        else:  # nothing changes
            assert _image_foreign_keys() >= REFERENCES
        assert _image_rows() == rows
        _refused("UPDATE boards_image SET batch_id = %s WHERE id = %s", [MISSING, rows[0][0]])
    finally:
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
