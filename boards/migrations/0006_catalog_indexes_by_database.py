"""Image indexes that differ by database: partial and trigram ones on PostgreSQL.

Creating a batch from the catalog sets ``batch`` on up to 25,000 images.
SQLite rewrites only the indexes that hold the changed column; PostgreSQL
adds an entry to every index of the table for each changed row (unless the
index is partial and the new row falls outside it), and the catalog's
indexes made that most of the time the update took. So on PostgreSQL:

- the free images in upload order and by file name (the "not in a batch"
  filter and ordered samples, which only ever take free images) are partial
  indexes on ``batch_id IS NULL``: an image joining a batch leaves them;
- annotated and reviewed images have partial indexes on their states: the
  unannotated, pending images a new batch takes are in neither;
- ``annotated_by`` (whose index only serves "images this person saved")
  keeps its index name but leaves out the images nobody annotated;
- "file name contains" is a ``pg_trgm`` GIN index on the expression Django
  compares for ``icontains`` (``UPPER(original_filename::text)``), instead of a
  scan of every name. ``pg_trgm`` is a trusted extension (PostgreSQL 13+), so
  the owner of the database may create it.

SQLite keeps the indexes it had (made by 0001 and 0005): it pays nothing for
them when a batch takes images, it scans the file-name index when searching
names, and its planner steers by them (``boards.catalog``). They leave the
model's state here, which now declares only the indexes both databases share.
"""

from django.db import migrations

# Image.Meta's indexes that stay on SQLite only.
MOVED = {
    "boards_imag_project_c63c9a_idx": '("project_id", "batch_id", "uploaded_at")',
    "boards_imag_project_29d2e3_idx": '("project_id", "original_filename")',
    "boards_imag_project_49b92a_idx": '("project_id", "annotation_state", "uploaded_at")',
    "boards_imag_project_22c050_idx": '("project_id", "review_state", "uploaded_at")',
}
OLD = {"boards_image_annotated_by_id_cd3b1af9": '("annotated_by_id")', **MOVED}

NEW = {
    "boards_image_annotated_by_id_cd3b1af9": '("annotated_by_id") WHERE "annotated_by_id" IS NOT NULL',
    "boards_image_free_upload_idx": '("project_id", "uploaded_at", "id") WHERE "batch_id" IS NULL',
    "boards_image_free_filename_idx": '("project_id", "original_filename", "id") WHERE "batch_id" IS NULL',
    "boards_image_annotated_idx": '("project_id", "uploaded_at", "id") WHERE "annotation_state" <> \'unannotated\'',
    "boards_image_reviewed_idx": '("project_id", "review_state", "uploaded_at") WHERE "review_state" <> \'pending\'',
    "boards_image_filename_trgm_idx": 'USING gin (UPPER("original_filename"::text) gin_trgm_ops)',
}


def _create(schema_editor, indexes: dict) -> None:
    for name, definition in indexes.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "boards_image" {definition}')


def _drop(schema_editor, names) -> None:
    for name in names:
        schema_editor.execute(f'DROP INDEX "{name}"')


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    _drop(schema_editor, OLD)
    _create(schema_editor, NEW)
    schema_editor.execute('ANALYZE "boards_image"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _drop(schema_editor, NEW)
    _create(schema_editor, OLD)
    # The extension stays: other objects in the database may use it by now.


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0005_catalog_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The four catalog indexes leave Image.Meta (the annotated_by one was never in it).
            state_operations=[migrations.RemoveIndex(model_name="image", name=name) for name in MOVED],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
