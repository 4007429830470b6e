"""Drop the unique index on an image's (project, sha256).

Since the workspace catalog, an image's sha256 is its asset's (unique in the
workspace), and (asset, project) is unique: the index said nothing more and
cost one more index entry, the widest (64-character keys) of the table, for
every image that changes batch on PostgreSQL. Uploads look their pictures up
through the asset (``asset_sha256_unique_in_workspace``, then
``image_asset_once_per_project``).
"""

from django.db import migrations

from boards.migrations._sqlite_image_indexes import restore


class Migration(migrations.Migration):

    dependencies = [
        ('boards', '0018_asset_filename_trigram_index'),
    ]

    operations = [
        # SQLite rebuilds boards_image for either step, leaving out its own indexes (0006).
        migrations.RunPython(migrations.RunPython.noop, restore),
        migrations.RemoveConstraint(
            model_name='image',
            name='image_sha256_unique_in_project',
        ),
        migrations.RunPython(restore, migrations.RunPython.noop),
    ]
