"""An image's project, batch and asset on PostgreSQL: checked once per statement by triggers, not as foreign keys.

See ``_image_references``: a foreign key is checked (and its row locked) once
per image row, which on PostgreSQL was a third of a 25,000-image split.
SQLite keeps its foreign keys, so nothing changes there.
"""

import django.db.models.deletion
from django.db import migrations, models

from boards.migrations import _image_references


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0024_background_open_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="image",
                    name="asset",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        help_text="The workspace catalog's image this row uses; the fields below up to uploaded_at are its copy.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="images",
                        to="boards.asset",
                    ),
                ),
                migrations.AlterField(
                    model_name="image",
                    name="batch",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="images",
                        to="boards.batch",
                    ),
                ),
                migrations.AlterField(
                    model_name="image",
                    name="project",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="images",
                        to="boards.project",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(_image_references.install, _image_references.remove)],
        ),
    ]
