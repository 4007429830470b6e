"""The workspace catalog, step 1 of 3: datasets and assets, and the columns that point at them.

Three migrations, so that PostgreSQL commits each step: the data copy (0015)
updates rows of tables whose foreign keys and indexes this step creates, which
it refuses within one transaction ("pending trigger events"). 0016 then makes
every image's asset required.
"""

import boards.models.projects
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


# Going back, SQLite rebuilds boards_image without 0006's SQLite-only indexes (as 0016 does).
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
        ('accounts', '0002_api_key_failures'),
        ('boards', '0013_label_queue'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_indexes),
        migrations.AlterField(
            model_name='project',
            name='slug',
            field=models.SlugField(help_text="In the project's addresses; “datasets” is taken by the API's list of the workspace's datasets.", max_length=60, validators=[boards.models.projects.validate_project_slug]),
        ),
        # A queue entry whose holder's account is deleted is free (reserved_by goes NULL, reserved_at stays).
        migrations.RemoveConstraint(
            model_name='queueentry',
            name='queue_reservation_has_holder_and_time',
        ),
        migrations.CreateModel(
            name='Dataset',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['name', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='Asset',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file', models.FileField(max_length=255, upload_to='')),
                ('thumbnail', models.FileField(blank=True, max_length=255, upload_to='')),
                ('width', models.PositiveIntegerField()),
                ('height', models.PositiveIntegerField()),
                ('sha256', models.CharField(max_length=64)),
                ('original_filename', models.CharField(max_length=255)),
                ('uploaded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='assets', to='accounts.workspace')),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
        migrations.AddField(
            model_name='image',
            name='asset',
            field=models.ForeignKey(db_index=False, help_text="The workspace catalog's image this row uses; the fields below up to uploaded_at are its copy.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='images', to='boards.asset'),
        ),
        migrations.AddField(
            model_name='dataset',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='dataset',
            name='workspace',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='datasets', to='accounts.workspace'),
        ),
        migrations.AddField(
            model_name='asset',
            name='dataset',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.RESTRICT, related_name='assets', to='boards.dataset'),
        ),
        migrations.AddConstraint(
            model_name='dataset',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='dataset_name_unique_in_workspace'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['workspace', 'uploaded_at', 'id'], name='boards_asse_workspa_888ae2_idx'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['dataset', 'uploaded_at', 'id'], name='boards_asse_dataset_cd1da8_idx'),
        ),
        migrations.AddConstraint(
            model_name='asset',
            constraint=models.UniqueConstraint(fields=('workspace', 'sha256'), name='asset_sha256_unique_in_workspace'),
        ),
        migrations.AddField(
            model_name='project',
            name='dataset',
            field=models.ForeignKey(blank=True, help_text='The dataset of the workspace catalog that uploads to this project extend.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='boards.dataset'),
        ),
    ]
