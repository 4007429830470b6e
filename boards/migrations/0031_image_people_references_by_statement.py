"""An image's ``annotated_by`` and ``archived_from`` on PostgreSQL: checked once per statement by the
image's trigger, not as foreign keys whose checks each new row queues for the commit.

See ``_image_people_references``. SQLite keeps its foreign keys, so nothing changes there.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from boards.migrations import _image_people_references


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0030_asset_names_trigrams_sqlite"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="image",
                    name="annotated_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        help_text="Who saved the image's current boxes (or marked it empty).",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="image",
                    name="archived_from",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="The archived batch this image left; a restore brings it back while it is free.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="archived_images",
                        to="boards.batch",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(_image_people_references.install, _image_people_references.remove)
            ],
        ),
    ]
