"""On PostgreSQL, "file name contains" in the workspace catalog reads a trigram index of the assets' names.

As 0006 does for a project's images: a ``pg_trgm`` GIN index on the expression
Django compares for ``icontains`` (``UPPER(original_filename::text)``), instead
of a scan of every asset of the workspace. SQLite keeps none (it scans names).
"""

from django.db import migrations

INDEX = "boards_asset_filename_trgm_idx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f'CREATE INDEX "{INDEX}" ON "boards_asset" USING gin (UPPER("original_filename"::text) gin_trgm_ops)'
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0017_queue_pinned_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
