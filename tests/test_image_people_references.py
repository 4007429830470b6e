"""An image's ``annotated_by`` (a user) and ``archived_from`` (a batch): the database refuses a row naming
one that is missing, on both databases.

On PostgreSQL not foreign keys, whose checks every new row queues for the commit even when it names
none, but the image's statement trigger (``boards/migrations/_image_people_references.py``, 0031).
These tests hold it to what the foreign keys did, and to what SQLite's still do.
"""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from boards.migrations._image_people_references import TRIGGERS
from boards.models import Batch, Image, free
from tests.factories import BatchFactory, ImageFactory, UserFactory
from tests.test_image_references import MISSING, _foreign_keys, _in_thread, _raw, _triggers, on_postgres

pytestmark = pytest.mark.django_db

COLUMNS = {"annotated_by_id", "archived_from_id"}
REFUSED = "(?i)foreign key|boards_image"


def _refused(sql: str, params=()) -> None:
    with pytest.raises(IntegrityError, match=REFUSED), transaction.atomic():
        _raw(sql, params)
        if connection.vendor == "sqlite":  # its foreign keys are checked at commit, which a savepoint never reaches
            connection.check_constraints(table_names=["boards_image"])


def _named(project):
    """An image annotated by a user and archived from a batch: (image, user, batch)."""
    user, batch = UserFactory(), BatchFactory(project=project)
    image = ImageFactory(project=project)
    Image.objects.filter(pk=image.pk).update(annotated_by=user, archived_from=batch)
    return image, user, batch


def test_the_checks_are_there():
    """PostgreSQL: the triggers and no foreign key on either column. SQLite: its foreign keys, which a
    migration rebuilding boards_image from the model's state (``db_constraint=False``) would leave out."""
    if connection.vendor == "postgresql":
        assert _triggers() >= set(TRIGGERS)
        assert not _foreign_keys("boards_image") & COLUMNS
        # Nothing left that queues a check a row inserted for the commit (what 0031 is for).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'boards_image'::regclass AND tgisinternal "
                "AND tgfoid = 'pg_catalog.\"RI_FKey_check_ins\"'::regproc"
            )
            assert cursor.fetchone()[0] == 0
    else:
        assert _foreign_keys("boards_image") >= COLUMNS


def test_it_refuses_an_image_naming_a_missing_user_or_batch_and_takes_one_naming_those_there(project):
    image, user, batch = _named(project)
    other = BatchFactory(project=project)
    for column in ("annotated_by_id", "archived_from_id"):
        _refused(f"UPDATE boards_image SET {column} = %s WHERE id = %s", [MISSING, image.pk])  # noqa: S608
    insert = (
        "INSERT INTO boards_image (project_id, asset_id, file, thumbnail, width, height, sha256, original_filename, "
        "uploaded_at, annotation_state, review_state, review_comment, annotation_version, rejections, split, "
        "annotated_by_id, archived_from_id) "
        "SELECT %s, asset_id, file, thumbnail, width, height, sha256, 'copy.jpg', uploaded_at, annotation_state, "
        "review_state, review_comment, annotation_version, rejections, split, %s, %s "
        "FROM boards_image WHERE id = %s"
    )
    third = project.workspace.projects.create(name="Third", slug="third")
    _refused(insert, [third.pk, MISSING, None, image.pk])
    _refused(insert, [third.pk, None, MISSING, image.pk])
    assert _raw(insert, [third.pk, user.pk, other.pk, image.pk]) == 1  # both there: it goes in
    assert _raw(
        "UPDATE boards_image SET annotated_by_id = NULL, archived_from_id = %s WHERE id = %s", [other.pk, image.pk]
    )
    assert Image.objects.filter(annotated_by=user, archived_from=other).count() == 1
    free(Image.objects.filter(project=third))  # a row written by hand: the services give it its free row too


def test_it_refuses_deleting_or_renumbering_a_user_or_batch_an_image_names(project):
    image, user, batch = _named(project)
    _refused("DELETE FROM accounts_user WHERE id = %s", [user.pk])
    _refused("DELETE FROM boards_batch WHERE id = %s", [batch.pk])
    _refused("UPDATE accounts_user SET id = id + 1000000 WHERE id = %s", [user.pk])
    _refused("UPDATE boards_batch SET id = id + 1000000 WHERE id = %s", [batch.pk])
    assert Image.objects.filter(pk=image.pk, annotated_by=user, archived_from=batch).exists()
    # Nobody and nothing named: they go.
    assert _raw("DELETE FROM accounts_user WHERE id = %s", [UserFactory().pk]) == 1
    assert _raw("DELETE FROM boards_batch WHERE id = %s", [BatchFactory(project=project).pk]) == 1


def test_deleting_the_django_way_clears_the_images_first(project):
    image, user, batch = _named(project)
    User.objects.filter(pk=user.pk).delete()
    Batch.objects.filter(pk=batch.pk).delete()
    image.refresh_from_db()
    assert (image.annotated_by_id, image.archived_from_id) == (None, None)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_delete_of_the_user_an_image_is_being_given_waits_and_is_refused():
    """The save locks the user as a foreign key did: the delete waits for it, sees the image, is refused."""
    image = ImageFactory()
    user = UserFactory()
    saved = threading.Event()
    with transaction.atomic():
        Image.objects.filter(pk=image.pk).update(annotated_by=user)
        thread, result = _in_thread(
            lambda: (saved.set(), _raw("DELETE FROM accounts_user WHERE id = %s", [user.pk]))[1]
        )
        saved.wait(10)
        thread.join(1.0)
        assert thread.is_alive(), "the delete did not wait for the save's lock"
    thread.join(30)
    assert isinstance(result.get("error"), IntegrityError), result
    assert Image.objects.filter(pk=image.pk, annotated_by=user).exists()


@on_postgres
def test_0025s_functions_can_still_be_dropped_and_made_again():
    """A later migration that changes the columns 0025 checks drops and makes its functions again (as
    ``_image_references`` says): none of 0031's triggers depends on them."""
    from boards.migrations import _image_references

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_image_references._PG_DROP)  # fails if one of 0031's triggers used them
            cursor.execute(_image_references._PG_CHECK)
        assert _triggers() >= set(TRIGGERS)
        transaction.set_rollback(True)


def _function(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(%s::regproc)", [name])
        return cursor.fetchone()[0]


# --- migration 0031 on a database of the schema before it ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_0031_keeps_every_reference_and_goes_back_to_foreign_keys():
    from django.db.migrations.executor import MigrationExecutor

    from tests.test_migration_workspace_catalog import migrate

    before = ("boards", "0030_asset_names_trigrams_sqlite")
    after = ("boards", "0031_image_people_references_by_statement")
    image = ImageFactory()
    user, batch = UserFactory(), BatchFactory(project=image.project)
    Image.objects.filter(pk=image.pk).update(annotated_by=user, archived_from=batch)
    rows = sorted(Image.objects.values_list("pk", "annotated_by_id", "archived_from_id"))
    try:
        migrate([before])
        assert _foreign_keys("boards_image") >= COLUMNS
        assert not _triggers() & set(TRIGGERS)
        if connection.vendor == "postgresql":  # 0027's check again, without the user and batch
            assert "annotated_by_id" not in _function("boards_image_check_references")
        migrate([after])
        if connection.vendor == "postgresql":
            assert not _foreign_keys("boards_image") & COLUMNS
            assert _triggers() >= set(TRIGGERS)
        assert sorted(Image.objects.values_list("pk", "annotated_by_id", "archived_from_id")) == rows
        _refused("UPDATE boards_image SET archived_from_id = %s WHERE id = %s", [MISSING, image.pk])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
