"""On SQLite, "file name contains" in the workspace catalog reads the assets' names from an index of their own.

SQLite has no trigram index (PostgreSQL reads 0018's). Its ``LIKE '%…%'`` reads
every name of the workspace; from this index (workspace, name, and the row id
SQLite appends) it reads no table row: 38 ms for 275,000 assets, against 60 ms
for a scan of the table and 230–290 ms for the walk in upload order that the
page took before ``asset_page`` read the matching ids first. PostgreSQL does not
get it: each index there is one more write for every asset an upload adds.

SQLite drops an index Django's state does not hold when a migration rebuilds
``boards_asset``; ``tests/test_workspace_catalog_views.py`` fails then, and that
migration must create it again.
"""

from django.db import migrations

INDEX = "boards_asset_name_sqlite_idx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "boards_asset" ("workspace_id", "original_filename")'
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0027_placements"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
