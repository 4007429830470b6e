"""PostgreSQL: the trigram index of image names takes its upkeep off the requests that move images.

An image that changes batch is a new row version with an entry in every index
of the table, the trigram (GIN) index of names included: some twenty keys per
name. GIN queues new entries in a pending list and merges them into the index
when the list outgrows ``gin_pending_list_limit`` (4 MB by default), inside
whatever statement crossed it; a 25,000-image batch crossed it every time and
paid the merge (150–350 ms of 600–1,000 ms). With a 32 MB list (about 80,000
moved images) the merge is left to (auto)vacuum, which this table now gets
after 2 % of its rows changed or arrived instead of 20 %. A name search reads
the pending list as well: about 5 ms per 25,000 images waiting in it.

Nothing to do on SQLite, which has no such index.
"""

from django.db import migrations

FORWARDS = [
    'ALTER INDEX "boards_image_filename_trgm_idx" SET (gin_pending_list_limit = 32768)',
    'ALTER TABLE "boards_image" SET (autovacuum_vacuum_scale_factor = 0.02, '
    "autovacuum_vacuum_insert_scale_factor = 0.02)",
]
BACKWARDS = [
    'ALTER INDEX "boards_image_filename_trgm_idx" RESET (gin_pending_list_limit)',
    'ALTER TABLE "boards_image" RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor)',
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0019_image_sha256_constraint_redundant"),
    ]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS))]
