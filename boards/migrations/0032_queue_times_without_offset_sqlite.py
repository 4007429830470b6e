"""SQLite only: the label queue's times written with an offset become the text the ORM writes.

``services.queue.enqueue`` passed Python datetimes to SQLite, which keeps them as text with their
offset ("2026-12-04 08:00:00.123456+00:00"), where the ORM writes naive UTC ("2026-12-04
08:00:00.123456"): an exact lookup of such a time missed it. The times are UTC, so the offset goes.
PostgreSQL stores timestamps as such: nothing to do there.
"""

from django.db import migrations

_COLUMNS = ("queued_at", "reserved_at")


def drop_offsets(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    table = apps.get_model("boards", "QueueEntry")._meta.db_table
    for column in _COLUMNS:
        schema_editor.execute(
            f"UPDATE {table} SET {column} = substr({column}, 1, length({column}) - 6) "  # noqa: S608
            f"WHERE {column} LIKE %s",
            ["%+00:00"],
        )


class Migration(migrations.Migration):
    dependencies = [("boards", "0031_image_people_references_by_statement")]

    operations = [migrations.RunPython(drop_offsets, migrations.RunPython.noop)]
