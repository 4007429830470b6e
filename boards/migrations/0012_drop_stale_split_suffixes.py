"""Batches already in Dataset shed a "(rest)" or "(rejected)" left by an older split.

Splits are now named "Name · part N" and a batch reaching Dataset drops such
suffixes; this does the same for batches that reached Dataset before. A batch
whose clean name is taken in its project keeps its name.
"""

import re

from django.db import migrations

_OLD_SUFFIX = r"\((?:rest|rejected)\)(?:\s*\(\d+\))?"
_PART = r"·\s*part\s+\d+"
_STALE_TAIL = re.compile(rf"(?:\s*{_OLD_SUFFIX})+(?=\s*(?:{_PART}\s*)?$)")


def drop_stale_suffixes(apps, schema_editor):
    Batch = apps.get_model("boards", "Batch")
    stale = Batch.objects.filter(status="dataset").filter(name__regex=r"\((rest|rejected)\)")
    for batch in stale.only("pk", "project_id", "name").iterator():
        clean = _STALE_TAIL.sub("", batch.name).strip()
        if not clean or clean == batch.name:
            continue
        if Batch.objects.filter(project_id=batch.project_id, name=clean).exists():
            continue
        Batch.objects.filter(pk=batch.pk).update(name=clean)


class Migration(migrations.Migration):
    dependencies = [("boards", "0011_review_mark_events")]

    operations = [migrations.RunPython(drop_stale_suffixes, migrations.RunPython.noop)]
