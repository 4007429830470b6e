"""Indexes for the image catalog's filters and its newest-first order.

The tag table of ``Image.tags`` is created by Django and cannot declare an
index, so the one that serves "has tag X" (tag, then image) is plain SQL that
both SQLite and PostgreSQL accept.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('boards', '0004_batch_upload_name_and_removed_event'),
    ]

    operations = [
        # The composite indexes below start with project and batch, so their
        # single-column indexes are dropped: fewer writes per image moved.
        migrations.AlterField(
            model_name='image',
            name='batch',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='images', to='boards.batch'),
        ),
        migrations.AlterField(
            model_name='image',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='images', to='boards.project'),
        ),
        migrations.RemoveIndex(
            model_name='image',
            name='boards_imag_project_81ac68_idx',
        ),
        migrations.RemoveIndex(
            model_name='image',
            name='boards_imag_project_f2e169_idx',
        ),
        migrations.RemoveIndex(
            model_name='image',
            name='boards_imag_project_64cb3e_idx',
        ),
        migrations.AddIndex(
            model_name='annotation',
            index=models.Index(fields=['label', 'image'], name='boards_anno_label_i_ca35d6_idx'),
        ),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['project', 'uploaded_at', 'id'], name='boards_imag_project_f7c479_idx'),
        ),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['project', 'batch', 'uploaded_at'], name='boards_imag_project_c63c9a_idx'),
        ),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['project', 'annotation_state', 'uploaded_at'], name='boards_imag_project_49b92a_idx'),
        ),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['project', 'review_state', 'uploaded_at'], name='boards_imag_project_22c050_idx'),
        ),
        migrations.RunSQL(
            sql='CREATE INDEX "boards_image_tags_tag_image_idx" ON "boards_image_tags" ("tag_id", "image_id")',
            reverse_sql='DROP INDEX "boards_image_tags_tag_image_idx"',
        ),
    ]
