"""The workspace catalog, step 3 of 3: every project image has its asset, at most once per project."""

import django.db.models.deletion
from django.db import migrations, models

SQLITE_ONLY_INDEXES = {
    "boards_imag_project_c63c9a_idx": '("project_id", "batch_id", "uploaded_at")',
    "boards_imag_project_29d2e3_idx": '("project_id", "original_filename")',
    "boards_imag_project_49b92a_idx": '("project_id", "annotation_state", "uploaded_at")',
    "boards_imag_project_22c050_idx": '("project_id", "review_state", "uploaded_at")',
}


def restore_sqlite_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, columns in SQLITE_ONLY_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "boards_image" {columns}')


class Migration(migrations.Migration):

    dependencies = [
        ('boards', '0015_workspace_catalog_data'),
    ]

    operations = [
        # Going back, the last step: SQLite's rebuild of boards_image leaves out 0006's indexes.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_indexes),
        migrations.AlterField(
            model_name='image',
            name='asset',
            field=models.ForeignKey(db_index=False, help_text="The workspace catalog's image this row uses; the fields below up to uploaded_at are its copy.", on_delete=django.db.models.deletion.CASCADE, related_name='images', to='boards.asset'),
        ),
        migrations.AddConstraint(
            model_name='image',
            constraint=models.UniqueConstraint(fields=('asset', 'project'), name='image_asset_once_per_project'),
        ),
        migrations.RunPython(restore_sqlite_indexes, migrations.RunPython.noop),
    ]
