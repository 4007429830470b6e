"""Free images move from a flag on the image row (``in_batch``) to a narrow table of their own,
``boards_freeimage``: a batch taking 25,000 free images deletes their small rows instead of
rewriting 25,000 wide ones (``boards.models.placements`` says why).

Forwards, on both databases: every image not in a batch gets its free row; the partial indexes of
free images on the image table, and ``in_batch``, go (dropped in place: a rebuild of
``boards_image`` would lose what ``_placements`` and ``_sqlite_image_indexes`` made). Backwards puts
``in_batch`` and those indexes back from the placements.
"""

from django.db import migrations, models

_FILL = (
    "INSERT INTO boards_freeimage (image_id, project_id, uploaded_at, width, height, original_filename) "
    "SELECT id, project_id, uploaded_at, width, height, original_filename FROM boards_image WHERE NOT in_batch"
)

_FORWARD = {
    "postgresql": [
        _FILL,
        "DROP INDEX IF EXISTS boards_image_free_upload_idx",
        "DROP INDEX IF EXISTS boards_image_free_filename_idx",
        "ALTER TABLE boards_image DROP COLUMN in_batch",
        "ANALYZE boards_freeimage",
    ],
    "sqlite": [
        _FILL,
        'DROP INDEX IF EXISTS "boards_image_free_sqlite_idx"',
        "ALTER TABLE boards_image DROP COLUMN in_batch",
    ],
}

_MARK = "UPDATE boards_image SET in_batch = TRUE WHERE id IN (SELECT image_id FROM boards_placement)"

_BACKWARD = {
    "postgresql": [
        "ALTER TABLE boards_image ADD COLUMN in_batch boolean NOT NULL DEFAULT false",
        _MARK,
        "CREATE INDEX boards_image_free_upload_idx ON boards_image (project_id, uploaded_at, id) "
        "INCLUDE (width, height) WHERE NOT in_batch",
        "CREATE INDEX boards_image_free_filename_idx ON boards_image (project_id, original_filename, id) "
        "WHERE NOT in_batch",
    ],
    "sqlite": [
        "ALTER TABLE boards_image ADD COLUMN in_batch bool NOT NULL DEFAULT 0",
        _MARK,
        'CREATE INDEX "boards_image_free_sqlite_idx" ON "boards_image" ("project_id", "uploaded_at") '
        'WHERE NOT "in_batch"',
    ],
}


def _run(statements):
    def run(apps, schema_editor) -> None:
        for statement in statements[schema_editor.connection.vendor]:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0028_asset_names_index_sqlite"),
    ]

    operations = [
        migrations.CreateModel(
            name="FreeImage",
            fields=[
                (
                    "image",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="free",
                        serialize=False,
                        to="boards.image",
                    ),
                ),
                ("uploaded_at", models.DateTimeField()),
                ("width", models.PositiveIntegerField()),
                ("height", models.PositiveIntegerField()),
                ("original_filename", models.CharField(max_length=255)),
                (
                    "project",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="boards.project",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["project", "uploaded_at", "image", "width", "height"], name="free_image_upload_idx"
                    ),
                    models.Index(fields=["project", "original_filename", "image"], name="free_image_name_idx"),
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="image", name="in_batch")],
            database_operations=[migrations.RunPython(_run(_FORWARD), _run(_BACKWARD))],
        ),
    ]
