"""An image's batch moves to a narrow table of its own, ``boards_placement``; ``Image.in_batch`` says
whether it is in one.

See ``boards.models.images`` (its placements) for why, and ``_placements`` for what each
database gets. The model's state changes as written; the database side is per
database (SQLite keeps its foreign keys, and an emptied ``batch_id``).
"""

from django.db import migrations, models

import boards.models.images
from boards.migrations import _placements


def _placement(constraint: bool) -> migrations.CreateModel:
    return migrations.CreateModel(
        name="Placement",
        fields=[
            (
                "image",
                models.OneToOneField(
                    db_constraint=constraint,
                    on_delete=models.deletion.CASCADE,
                    primary_key=True,
                    related_name="placement",
                    serialize=False,
                    to="boards.image",
                ),
            ),
            (
                "batch",
                models.ForeignKey(
                    db_constraint=constraint,
                    db_index=False,
                    on_delete=boards.models.images.free_images,
                    related_name="placements",
                    to="boards.batch",
                ),
            ),
        ],
        options={
            "indexes": [models.Index(fields=["batch", "image"], name="placement_batch_image_idx")],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0026_free_images_index_holds_sizes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _placement(constraint=False),
                migrations.AddField(
                    model_name="image",
                    name="in_batch",
                    field=models.BooleanField(
                        default=False,
                        editable=False,
                        help_text="Whether the image is in a batch (its Placement says which); "
                        "the catalog's free images have False.",
                    ),
                ),
                migrations.RemoveIndex(model_name="image", name="boards_imag_batch_i_a8243c_idx"),
                migrations.RemoveField(model_name="image", name="batch"),
            ],
            database_operations=[
                # With foreign keys: SQLite keeps them; on PostgreSQL ``forwards`` drops them for triggers.
                _placement(constraint=True),
                migrations.RunPython(_placements.forwards, _placements.backwards),
            ],
        ),
    ]
