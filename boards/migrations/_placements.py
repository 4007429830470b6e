"""Migration 0027: an image's batch moves from ``boards_image.batch_id`` to ``boards_placement``.

``boards.models.images`` says why (its placements). Per database, forwards:
- every image in a batch gets its placement, and ``in_batch`` (a new column) says it is in one;
- the indexes of free images (``batch_id IS NULL``) become ``NOT in_batch`` ones;
- PostgreSQL: the placement's batch is checked once per statement by a trigger, as the image's project
  and asset are (``_image_references``), not by foreign keys (which would look up and lock the batch
  once per image moved); a batch placements name cannot be deleted; deleting images deletes their
  placements. Then ``batch_id`` and its indexes go.
- SQLite: foreign keys, as for the image's project and asset. ``batch_id`` cannot be dropped there
  while a foreign key names it, and a rebuild of the table would drop the foreign keys of the
  project and asset (the model says ``db_constraint=False``, for PostgreSQL), so the column stays,
  emptied and unused.
Backwards puts ``batch_id`` back from the placements.

A later migration that rebuilds ``boards_image`` or changes these columns must
make again what is made here, not what ``_image_references`` (0025, with the
batch) or ``_sqlite_image_indexes`` (0019) make.
"""

from django.db.backends.ddl_references import Statement

from boards.migrations import _image_references

_FILL = [
    "INSERT INTO boards_placement (image_id, batch_id) "
    "SELECT id, batch_id FROM boards_image WHERE batch_id IS NOT NULL",
    "UPDATE boards_image SET in_batch = TRUE WHERE batch_id IS NOT NULL",
]

# The image's check of its project and asset (the batch is the placement's), as 0027 leaves it.
CHECK_REFERENCES = """CREATE OR REPLACE FUNCTION boards_image_check_references() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
        projects bigint[];
        assets bigint[];
    BEGIN
        -- EXECUTE: planned for this statement's rows (see 0025).
        IF TG_OP = 'INSERT' THEN
            EXECUTE 'SELECT array_agg(DISTINCT project_id), array_agg(DISTINCT asset_id) FROM new_rows'
               INTO projects, assets;
        ELSE
            EXECUTE 'SELECT array_agg(DISTINCT n.project_id)
                                FILTER (WHERE o.id IS NULL OR n.project_id <> o.project_id),
                            array_agg(DISTINCT n.asset_id) FILTER (WHERE o.id IS NULL OR n.asset_id <> o.asset_id)
                       FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id'
               INTO projects, assets;
        END IF;
        PERFORM boards_require_rows('boards_project', 'project_id', projects);
        PERFORM boards_require_rows('boards_asset', 'asset_id', assets);
        RETURN NULL;
    END
    $fn$"""

_PG_FORWARD = [
    "ALTER TABLE boards_image ADD COLUMN in_batch boolean NOT NULL DEFAULT false",
    *_FILL,
    "CREATE INDEX boards_image_free_upload_new ON boards_image (project_id, uploaded_at, id) INCLUDE (width, height) "
    "WHERE NOT in_batch",
    "CREATE INDEX boards_image_free_filename_new ON boards_image (project_id, original_filename, id) "
    "WHERE NOT in_batch",
    # The image's own checks, without its batch.
    CHECK_REFERENCES,
    "DROP TRIGGER IF EXISTS boards_batch_images_delete ON boards_batch",
    """CREATE OR REPLACE FUNCTION boards_placement_check_batches() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
        batches bigint[];
        found bigint;
    BEGIN
        -- The batches the statement's rows name (one, for a move), locked as a foreign key locks them.
        EXECUTE 'SELECT array_agg(DISTINCT batch_id) FROM new_rows' INTO batches;
        IF batches IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT count(*) INTO found FROM (SELECT 1 FROM boards_batch WHERE id = ANY (batches) FOR KEY SHARE) locked;
        IF found < cardinality(batches) THEN
            RAISE EXCEPTION 'insert or update on table "boards_placement" names a missing row of "boards_batch"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END
    $fn$""",
    """CREATE OR REPLACE FUNCTION boards_placement_refuse_batch_delete() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
        named boolean;
    BEGIN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM boards_placement p JOIN old_rows o ON p.batch_id = o.id)' INTO named;
        IF named THEN
            RAISE EXCEPTION 'delete on table "boards_batch" leaves rows of "boards_placement" naming it'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END
    $fn$""",
    """CREATE OR REPLACE FUNCTION boards_placement_follow_image_delete() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    BEGIN
        EXECUTE 'DELETE FROM boards_placement p USING old_rows o WHERE p.image_id = o.id';
        RETURN NULL;
    END
    $fn$""",
    "CREATE TRIGGER boards_placement_batches_insert AFTER INSERT ON boards_placement REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION boards_placement_check_batches()",
    "CREATE TRIGGER boards_placement_batches_update AFTER UPDATE ON boards_placement REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION boards_placement_check_batches()",
    "CREATE TRIGGER boards_batch_placements_delete AFTER DELETE ON boards_batch REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION boards_placement_refuse_batch_delete()",
    "CREATE TRIGGER boards_image_placements_delete AFTER DELETE ON boards_image REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION boards_placement_follow_image_delete()",
    # Its indexes (the batch's, the free images' on batch_id IS NULL) go with it.
    "ALTER TABLE boards_image DROP COLUMN batch_id",
    "ALTER INDEX boards_image_free_upload_new RENAME TO boards_image_free_upload_idx",
    "ALTER INDEX boards_image_free_filename_new RENAME TO boards_image_free_filename_idx",
    "ANALYZE boards_image",
    "ANALYZE boards_placement",
]

_PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS boards_placement_batches_insert ON boards_placement",
    "DROP TRIGGER IF EXISTS boards_placement_batches_update ON boards_placement",
    "DROP TRIGGER IF EXISTS boards_batch_placements_delete ON boards_batch",
    "DROP TRIGGER IF EXISTS boards_image_placements_delete ON boards_image",
    "DROP FUNCTION IF EXISTS boards_placement_check_batches()",
    "DROP FUNCTION IF EXISTS boards_placement_refuse_batch_delete()",
    "DROP FUNCTION IF EXISTS boards_placement_follow_image_delete()",
    "ALTER TABLE boards_image ADD COLUMN batch_id bigint NULL",
    "UPDATE boards_image i SET batch_id = p.batch_id FROM boards_placement p WHERE p.image_id = i.id",
    'CREATE INDEX "boards_imag_batch_i_a8243c_idx" ON boards_image (batch_id, id)',
    "DROP INDEX boards_image_free_upload_idx",
    "DROP INDEX boards_image_free_filename_idx",
    "CREATE INDEX boards_image_free_upload_idx ON boards_image (project_id, uploaded_at, id) INCLUDE (width, height) "
    "WHERE batch_id IS NULL",
    "CREATE INDEX boards_image_free_filename_idx ON boards_image (project_id, original_filename, id) "
    "WHERE batch_id IS NULL",
    "ALTER TABLE boards_image DROP COLUMN in_batch",
]

_SQLITE_FORWARD = [
    "ALTER TABLE boards_image ADD COLUMN in_batch bool NOT NULL DEFAULT 0",
    *_FILL,
    "UPDATE boards_image SET batch_id = NULL WHERE batch_id IS NOT NULL",
    'DROP INDEX IF EXISTS "boards_imag_batch_i_a8243c_idx"',
    'DROP INDEX IF EXISTS "boards_imag_project_c63c9a_idx"',
    # What the (project, batch, upload time) index did for the free images, which SQLite's planner steers
    # by. Partial: SQLite compares ``NOT in_batch`` (Django's ``in_batch=False``) with no index column.
    'CREATE INDEX "boards_image_free_sqlite_idx" ON "boards_image" ("project_id", "uploaded_at") WHERE NOT "in_batch"',
    # SQLite still checks the emptied column's foreign key when a batch is deleted: an (empty) index,
    # or it reads the whole table for each batch deleted.
    'CREATE INDEX "boards_image_batch_fk_idx" ON "boards_image" ("batch_id") WHERE "batch_id" IS NOT NULL',
]

_SQLITE_BACKWARD = [
    'DROP INDEX IF EXISTS "boards_image_free_sqlite_idx"',
    'DROP INDEX IF EXISTS "boards_image_batch_fk_idx"',
    "UPDATE boards_image SET batch_id = (SELECT p.batch_id FROM boards_placement p WHERE p.image_id = boards_image.id)",
    'CREATE INDEX "boards_imag_batch_i_a8243c_idx" ON "boards_image" ("batch_id", "id")',
    'CREATE INDEX "boards_imag_project_c63c9a_idx" ON "boards_image" ("project_id", "batch_id", "uploaded_at")',
    "ALTER TABLE boards_image DROP COLUMN in_batch",
]

TRIGGERS = (
    "boards_placement_batches_insert",
    "boards_placement_batches_update",
    "boards_batch_placements_delete",
    "boards_image_placements_delete",
)


def _run(schema_editor, statements) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        # The placement's foreign keys wait in the schema editor's deferred SQL: not made at all here.
        schema_editor.deferred_sql = [
            sql
            for sql in schema_editor.deferred_sql
            if not (
                isinstance(sql, Statement) and sql.references_table("boards_placement") and "FOREIGN KEY" in str(sql)
            )
        ]
    _run(schema_editor, _PG_FORWARD if postgres else _SQLITE_FORWARD)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        _run(schema_editor, _SQLITE_BACKWARD)
        return
    _run(schema_editor, _PG_BACKWARD)
    # The image's checks as 0025 made them, batch included (its functions and triggers made again).
    _image_references.install(apps, schema_editor)
