"""The workspace catalog, step 2 of 3: existing images become assets, with nothing lost.

One asset per picture of a workspace (its sha256), taken from the project that
has it first (lowest project id); each project's images join one dataset named
after the project, which its later uploads extend (``Project.dataset``). Every
Image row keeps its own file names, so no file moves. Two statements per
project, whatever its size.
"""

from django.db import migrations

def _dataset_name(project, taken: set[str]) -> str:
    base = project.name[:190] or project.slug
    name, n = base, 2
    while name in taken:
        name, n = f"{base} ({n})", n + 1
    taken.add(name)
    return name


def populate(apps, schema_editor):
    Project = apps.get_model("boards", "Project")
    Dataset = apps.get_model("boards", "Dataset")
    db = schema_editor.connection.alias
    taken: dict[int, set[str]] = {}
    with schema_editor.connection.cursor() as cursor:
        for project in Project.objects.using(db).order_by("pk"):
            names = taken.setdefault(project.workspace_id, set())
            dataset = Dataset.objects.using(db).create(
                workspace_id=project.workspace_id, name=_dataset_name(project, names), created_at=project.created_at
            )
            Project.objects.using(db).filter(pk=project.pk).update(dataset=dataset)
            cursor.execute(
                "INSERT INTO boards_asset (workspace_id, dataset_id, file, thumbnail, width, height, sha256, "
                "original_filename, uploaded_at) "
                "SELECT %s, %s, i.file, i.thumbnail, i.width, i.height, i.sha256, i.original_filename, i.uploaded_at "
                "FROM boards_image i WHERE i.project_id = %s AND NOT EXISTS "
                "(SELECT 1 FROM boards_asset a WHERE a.workspace_id = %s AND a.sha256 = i.sha256) ORDER BY i.id",
                [project.workspace_id, dataset.pk, project.pk, project.workspace_id],
            )
            cursor.execute(
                "UPDATE boards_image SET asset_id = (SELECT a.id FROM boards_asset a "
                "WHERE a.workspace_id = %s AND a.sha256 = boards_image.sha256) WHERE project_id = %s",
                [project.workspace_id, project.pk],
            )
        for dataset in Dataset.objects.using(db).all():
            if not dataset.assets.exists():
                dataset.delete()  # a project with no image of its own needs none yet (its project's is unset)



# SQLite rebuilds boards_image to make ``asset`` NOT NULL, from the model's state,
# which leaves out the indexes 0006 keeps on SQLite only: they are made again.


class Migration(migrations.Migration):

    dependencies = [
        ('boards', '0014_workspace_catalog'),
    ]

    operations = [
        migrations.RunPython(populate, migrations.RunPython.noop),
    ]
