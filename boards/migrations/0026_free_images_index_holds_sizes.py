"""PostgreSQL's index of the free images (0006) also holds their width and height.

"Not in a batch" with a size bound, alone or beside a tag or class, read the
free images' rows one by one to compare their sizes: with the sizes in the
index (``INCLUDE``), the database reads the index alone. Measured on 250,000
images (a tag of 20,649 images, 75,000 free ones): the "up to 2,001 matches"
query of "tag + free + width" went from a scan of the whole table joined with
the tag (64 ms) to the free images' index joined with the tag (22 ms).

The index is written only when an image leaves its batch: images joining a
batch (a split, a catalog batch, an upload) stay out of it, as before. SQLite,
which has no ``INCLUDE`` and keeps its own indexes (0006), is left alone.
"""

from django.db import migrations

NAME = "boards_image_free_upload_idx"
KEY = '("project_id", "uploaded_at", "id")'
FREE = 'WHERE "batch_id" IS NULL'


def _make(schema_editor, include: str) -> None:
    """The new index is built beside the old one, which serves reads meanwhile; the old one goes
    (a moment's exclusive lock, to the commit) only then."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'CREATE INDEX "{NAME}_new" ON "boards_image" {KEY} {include} {FREE}')
    schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')
    schema_editor.execute(f'ALTER INDEX "{NAME}_new" RENAME TO "{NAME}"')


def forwards(apps, schema_editor):
    _make(schema_editor, 'INCLUDE ("width", "height")')


def backwards(apps, schema_editor):
    _make(schema_editor, "")


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0025_image_references_by_statement"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
