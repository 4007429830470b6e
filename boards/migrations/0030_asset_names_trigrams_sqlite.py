"""On SQLite, "file name contains" in the workspace catalog finds names through an FTS5 trigram index.

0028 gave SQLite an index of the assets' names, but ``LIKE '%…%'`` can only read
all of it: a rare name or none cost 70–90 ms a page in a workspace of 275,000
assets, over the 80 ms a page may take. FTS5's ``trigram`` tokenizer (SQLite
3.34+) indexes every three characters of each name, as PostgreSQL's ``pg_trgm``
index does (0006, 0018): a text of three characters or more is looked up
there first (``boards.catalog.workspace.trigram_ids``); when at most 2,000
assets have it, those are read by id and checked with the ``LIKE`` as before,
so the answer is the same.

The table holds no copy of the names (``content='boards_asset'``); three
triggers keep its index in step with every insert, rename and delete of an
asset, whoever writes it. SQLite drops triggers with their table: a later
migration that rebuilds ``boards_asset`` must run ``install`` again
(``tests/test_asset_name_trigrams.py`` fails until it does).
"""

from django.db import migrations

TABLE = "boards_asset_name_trigrams"

INSTALL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
    "original_filename, content='boards_asset', content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",  # the names already there
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON boards_asset BEGIN
        INSERT INTO {TABLE}(rowid, original_filename) VALUES (new.id, new.original_filename);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON boards_asset BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, original_filename) VALUES ('delete', old.id, old.original_filename);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_update AFTER UPDATE OF id, original_filename ON boards_asset BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, original_filename) VALUES ('delete', old.id, old.original_filename);
        INSERT INTO {TABLE}(rowid, original_filename) VALUES (new.id, new.original_filename);
    END""",
]

REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_{event}" for event in ("insert", "delete", "update")] + [
    f"DROP TABLE IF EXISTS {TABLE}"
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in INSTALL:
        schema_editor.execute(statement)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in REMOVE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0029_free_images"),
    ]

    operations = [migrations.RunPython(install, remove, elidable=False)]
