"""Migration 0031: on PostgreSQL, the image's ``annotated_by`` and ``archived_from`` are checked by
triggers, as its project and asset are (``_image_references``, 0025), not by foreign keys.

Both are NULL when a row is made, yet PostgreSQL queues a foreign key's check for every row inserted
all the same and runs them at commit: 50,000 for the 25,000 rows "Add batch to project" makes, 57–58
ms of its commit on the kept benchmark database.
- On an insert, ``boards_image_check_references`` (as ``_placements`` left it) now also looks up the
  users and archived batches the statement's rows name (those not NULL), locked ``FOR KEY SHARE`` as
  a foreign key locks them: 7–20 ms more in that trigger for 25,000 rows.
- On an update, a row trigger whose condition PostgreSQL tests as it writes each row
  (``boards_image_people_update``) checks the rows that give an image a user or a batch it did not
  name, as the foreign keys did. The statement trigger reading both columns of every row updated
  cost a 25,000-row update 12–22 ms, for rows that almost never change them.
- Deleting a user or a batch an image still names there, or changing its id, is refused (Django's
  ``on_delete=SET_NULL`` clears the images first, as before).

The differences from a foreign key that ``_image_references`` lists hold here too, and so does its
warning: a migration that renames these columns or ``accounts_user``, or changes their types (the
accounts app's included), must ``remove`` and ``install`` these again. SQLite keeps its foreign keys
(one index probe a row, no lock). Backwards makes the foreign keys again and puts back 0027's check.
"""

from boards.migrations import _image_references, _placements

# (image column, table it names, its delete trigger's name)
REFERENCES = (
    ("annotated_by_id", "accounts_user", "accounts_user_annotated_images_delete"),
    ("archived_from_id", "boards_batch", "boards_batch_archived_images_delete"),
)

TRIGGERS = (
    *(trigger for _column, _table, trigger in REFERENCES),
    "accounts_user_id_kept",
    "boards_image_people_update",
)

_CHECK_REFERENCES = """
CREATE OR REPLACE FUNCTION boards_image_check_references() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    projects bigint[];
    assets bigint[];
    users bigint[];
    archived bigint[];
BEGIN
    -- EXECUTE: planned for this statement's rows (see 0025).
    IF TG_OP = 'INSERT' THEN
        EXECUTE 'SELECT array_agg(DISTINCT project_id), array_agg(DISTINCT asset_id),
                        array_agg(DISTINCT annotated_by_id) FILTER (WHERE annotated_by_id IS NOT NULL),
                        array_agg(DISTINCT archived_from_id) FILTER (WHERE archived_from_id IS NOT NULL)
                   FROM new_rows'
           INTO projects, assets, users, archived;
        PERFORM boards_require_rows('accounts_user', 'annotated_by_id', users);
        PERFORM boards_require_rows('boards_batch', 'archived_from_id', archived);
    ELSE
        -- The user and the archived batch are checked by boards_image_people_update, for the rows
        -- that change them only: reading them here too cost a 25,000-row update 12–22 ms.
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
$fn$
"""

# A row an update gives a user or an archived batch (a save: one; an archive: a batch's images, one
# batch): looked up and locked as a foreign key does, with a plan kept for the session.
_CHECK_CHANGED = """
CREATE OR REPLACE FUNCTION boards_image_check_people() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF NEW.annotated_by_id IS NOT NULL AND NEW.annotated_by_id IS DISTINCT FROM OLD.annotated_by_id THEN
        PERFORM 1 FROM accounts_user WHERE id = NEW.annotated_by_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'update on table "boards_image" names a missing row of "accounts_user" in "annotated_by_id"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    IF NEW.archived_from_id IS NOT NULL AND NEW.archived_from_id IS DISTINCT FROM OLD.archived_from_id THEN
        PERFORM 1 FROM boards_batch WHERE id = NEW.archived_from_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'update on table "boards_image" names a missing row of "boards_batch" in "archived_from_id"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER boards_image_people_update AFTER UPDATE OF annotated_by_id, archived_from_id ON boards_image
    FOR EACH ROW
    WHEN ((NEW.annotated_by_id IS NOT NULL AND NEW.annotated_by_id IS DISTINCT FROM OLD.annotated_by_id)
          OR (NEW.archived_from_id IS NOT NULL AND NEW.archived_from_id IS DISTINCT FROM OLD.archived_from_id))
    EXECUTE FUNCTION boards_image_check_people()
"""

_REFUSE_DELETE = """
CREATE OR REPLACE FUNCTION boards_refuse_image_named_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    named boolean;
BEGIN
    -- TG_ARGV[0]: the image column naming rows of this table (through its partial index).
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM boards_image i JOIN old_rows o ON i.%I = o.id)', TG_ARGV[0])
       INTO named;
    IF named THEN
        RAISE EXCEPTION 'delete on table "%" leaves rows of "boards_image" naming it in "%"', TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION boards_refuse_user_key_change() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    -- This module's own, so that _image_references can drop and make its functions again.
    RAISE EXCEPTION 'update of "id" on table "accounts_user" would leave rows of "boards_image" naming the old one'
        USING ERRCODE = 'foreign_key_violation';
END
$fn$
"""


def _drop_triggers(run) -> None:
    for _column, table, trigger in REFERENCES:
        run(f"DROP TRIGGER IF EXISTS {trigger} ON {table}", params=None)
    run("DROP TRIGGER IF EXISTS accounts_user_id_kept ON accounts_user", params=None)
    run("DROP TRIGGER IF EXISTS boards_image_people_update ON boards_image", params=None)


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    _drop_triggers(run)  # made again below: install may run twice
    run(_image_references.foreign_keys_dropped(tuple(column for column, _table, _trigger in REFERENCES)), params=None)
    run(_CHECK_REFERENCES, params=None)
    run(_CHECK_CHANGED, params=None)
    run(_REFUSE_DELETE, params=None)
    for column, table, trigger in REFERENCES:
        run(
            f"CREATE TRIGGER {trigger} AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION boards_refuse_image_named_delete('{column}')",
            params=None,
        )
    # boards_batch keeps its id already (0025); a user's is kept the same way.
    run(
        "CREATE TRIGGER accounts_user_id_kept BEFORE UPDATE OF id ON accounts_user FOR EACH ROW "
        "WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION boards_refuse_user_key_change()",
        params=None,
    )


def remove(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    _drop_triggers(run)
    run("DROP FUNCTION IF EXISTS boards_refuse_image_named_delete()", params=None)
    run("DROP FUNCTION IF EXISTS boards_refuse_user_key_change()", params=None)
    run("DROP FUNCTION IF EXISTS boards_image_check_people()", params=None)
    run(_placements.CHECK_REFERENCES, params=None)
    for column, table, _trigger in REFERENCES:
        run(
            f"ALTER TABLE boards_image ADD CONSTRAINT boards_image_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {table} (id) DEFERRABLE INITIALLY DEFERRED",
            params=None,
        )
