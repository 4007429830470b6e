"""The image table's references to its project, batch and asset on PostgreSQL: triggers, not foreign keys (0025).

These three columns were foreign keys. PostgreSQL checks a foreign key row by
row: a move of 12,500 images into the batch a split creates ran 12,500
lookups-and-locks of that batch row at commit (140–180 ms, a third of the
split), and "Add batch to project" ran 75,000 for its 25,000 new rows (520 ms
of 1.4 s). The triggers here check the same thing once per statement: the
distinct ids the statement's rows name (read from its transition tables),
looked up and locked ``FOR KEY SHARE`` as a foreign key locks them, so a row
being deleted meanwhile is waited for, then refused. Deleting a project, batch
or asset an image still names is refused too (Django's ``on_delete`` clears
or deletes the images first, as before). Both raise ``foreign_key_violation``
(IntegrityError), at the end of the statement rather than at commit.

SQLite keeps its foreign keys: it checks one with an index probe a row, no
lock, and its flush deletes table by table, which a trigger refusing a delete
would stop. The model says ``db_constraint=False`` for all databases, so a
later migration that makes SQLite rebuild ``boards_image`` would leave them
out: ``tests/test_image_references.py`` fails then.

What differs from a foreign key, knowingly:
- The delete-side check reads with a fresh snapshot, which READ COMMITTED
  (Django's default, and Batchboard's) gives each statement; a transaction at
  REPEATABLE READ could delete a row that an image committed since its
  snapshot names.
- ``TRUNCATE`` of a referenced table alone is not refused; changing a
  referenced row's id is.
- Checks run at the end of each statement, not at commit: fixtures for
  ``loaddata`` list rows before the images naming them (as ``dumpdata`` does).
- A migration that renames these columns or tables, or changes their types,
  must drop and install these again (``remove`` and ``install``).
"""

REFERENCES = (("project_id", "boards_project"), ("batch_id", "boards_batch"), ("asset_id", "boards_asset"))

_PG_CHECK = """
CREATE OR REPLACE FUNCTION boards_image_check_references() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    projects bigint[];
    batches bigint[];
    assets bigint[];
BEGIN
    -- EXECUTE: planned for this statement's rows. A cached plan made for one row (a nested loop)
    -- would take seconds over the 12,500 rows of a split.
    IF TG_OP = 'INSERT' THEN
        EXECUTE 'SELECT array_agg(DISTINCT project_id),
                        array_agg(DISTINCT batch_id) FILTER (WHERE batch_id IS NOT NULL),
                        array_agg(DISTINCT asset_id)
                   FROM new_rows'
           INTO projects, batches, assets;
    ELSE
        -- Only the references a row changed: a row matched to no old one (its id changed) counts whole.
        EXECUTE 'SELECT array_agg(DISTINCT n.project_id) FILTER (WHERE o.id IS NULL OR n.project_id <> o.project_id),
                        array_agg(DISTINCT n.batch_id) FILTER (
                            WHERE n.batch_id IS NOT NULL AND (o.id IS NULL OR n.batch_id IS DISTINCT FROM o.batch_id)),
                        array_agg(DISTINCT n.asset_id) FILTER (WHERE o.id IS NULL OR n.asset_id <> o.asset_id)
                   FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id'
           INTO projects, batches, assets;
    END IF;
    PERFORM boards_require_rows('boards_project', 'project_id', projects);
    PERFORM boards_require_rows('boards_batch', 'batch_id', batches);
    PERFORM boards_require_rows('boards_asset', 'asset_id', assets);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION boards_require_rows(target regclass, image_column text, ids bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    found bigint;
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE id = ANY($1) FOR KEY SHARE) locked', target)
        INTO found USING ids;
    IF found < cardinality(ids) THEN
        RAISE EXCEPTION 'insert or update on table "boards_image" names a missing row of "%" in "%"',
            target, image_column
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION boards_refuse_key_change() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    -- A row images may name keeps its id (a foreign key refused the change while one did; nothing
    -- here changes an id at all).
    RAISE EXCEPTION 'update of "id" on table "%" would leave rows of "boards_image" naming the old one',
        TG_TABLE_NAME USING ERRCODE = 'foreign_key_violation';
END
$fn$;

CREATE OR REPLACE FUNCTION boards_refuse_referenced_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    named boolean;
BEGIN
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM boards_image i JOIN old_rows o ON i.%I = o.id)',
        CASE TG_TABLE_NAME WHEN 'boards_project' THEN 'project_id' WHEN 'boards_batch' THEN 'batch_id'
                           ELSE 'asset_id' END
    ) INTO named;
    IF named THEN
        RAISE EXCEPTION 'delete on table "%" leaves rows of "boards_image" naming it', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER boards_image_references_insert AFTER INSERT ON boards_image
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION boards_image_check_references();
CREATE TRIGGER boards_image_references_update AFTER UPDATE ON boards_image
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION boards_image_check_references();
"""

_PG_DROP = """
DROP TRIGGER IF EXISTS boards_image_references_insert ON boards_image;
DROP TRIGGER IF EXISTS boards_image_references_update ON boards_image;
DROP TRIGGER IF EXISTS boards_project_images_delete ON boards_project;
DROP TRIGGER IF EXISTS boards_batch_images_delete ON boards_batch;
DROP TRIGGER IF EXISTS boards_asset_images_delete ON boards_asset;
DROP TRIGGER IF EXISTS boards_project_id_kept ON boards_project;
DROP TRIGGER IF EXISTS boards_batch_id_kept ON boards_batch;
DROP TRIGGER IF EXISTS boards_asset_id_kept ON boards_asset;
DROP FUNCTION IF EXISTS boards_image_check_references();
DROP FUNCTION IF EXISTS boards_refuse_key_change();
DROP FUNCTION IF EXISTS boards_require_rows(regclass, text, bigint[]);
DROP FUNCTION IF EXISTS boards_refuse_referenced_delete();
"""


def _pg_delete_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_images_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION boards_refuse_referenced_delete();"
        f"CREATE TRIGGER {table}_id_kept BEFORE UPDATE OF id ON {table} FOR EACH ROW "
        "WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION boards_refuse_key_change();"
    )


# The triggers' names (PostgreSQL's; SQLite has none).
TRIGGERS = (
    "boards_image_references_insert",
    "boards_image_references_update",
    *(f"{table}_images_delete" for _column, table in REFERENCES),
    *(f"{table}_id_kept" for _column, table in REFERENCES),
)


def foreign_keys_dropped(columns: tuple[str, ...]) -> str:
    """SQL dropping the foreign keys of these ``boards_image`` columns, whatever their names."""
    named = ", ".join(f"'{column}'" for column in columns)
    return f"""
DO $do$
DECLARE
    name text;
BEGIN
    FOR name IN
        SELECT c.conname FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.conrelid = 'boards_image'::regclass AND c.contype = 'f'
           AND a.attname IN ({named})
    LOOP
        EXECUTE format('ALTER TABLE boards_image DROP CONSTRAINT %I', name);
    END LOOP;
END
$do$;
"""


FOREIGN_KEYS_DROPPED = foreign_keys_dropped(("project_id", "batch_id", "asset_id"))


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FOREIGN_KEYS_DROPPED, params=None)
    schema_editor.execute(_PG_DROP, params=None)
    schema_editor.execute(_PG_CHECK, params=None)
    for _column, table in REFERENCES:
        schema_editor.execute(_pg_delete_trigger(table), params=None)


def remove(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_PG_DROP, params=None)
    for column, table in REFERENCES:
        schema_editor.execute(
            f"ALTER TABLE boards_image ADD CONSTRAINT boards_image_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {table} (id) DEFERRABLE INITIALLY DEFERRED",
            params=None,
        )
