"""Remove stored files that no image names.

An upload writes its files first and stores its rows in one transaction after
them. If the process dies in between (killed, out of memory, power cut), the
files stay behind with no row: harmless, since a later upload of the same
image checks the bytes before it trusts them, but they take space. So do the
``.part`` files of a write that was cut off before its rename. This command
removes both under the media storage's ``images/`` and ``thumbs/`` once they
are older than a grace period, so that uploads still on their way to their
commit are left alone (an upload that reuses such a file refreshes its time).
It also deletes export archives past their retention, and archives under
``exports/`` that no task names (a worker stopped between storing one and
recording it), once older than the grace period.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from boards.models import Asset, BackgroundTask, Image
from boards.models.background import OPEN_STATUSES
from boards.services import background

FOLDERS = ("images", "thumbs")


def _walk(folder: str) -> Iterator[str]:
    """Every file's name under ``folder`` in the storage."""
    folders, files = default_storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(f"{folder}/{sub}")


def _named(folder: str | None, names: list[str]) -> set[str]:
    """Which of ``names`` (all under ``folder``, ``images/<project id>`` or the like) an image or an asset names."""
    project = folder.split("/")[1] if folder else ""
    if project.isdigit():
        rows = Image.objects.filter(project_id=int(project))
    elif folder:  # not a folder Batchboard makes, but a row might still name a file in it
        rows = Image.objects.filter(Q(file__startswith=f"{folder}/") | Q(thumbnail__startswith=f"{folder}/"))
    else:
        rows = Image.objects.filter(Q(file__in=names) | Q(thumbnail__in=names))
    # The workspace catalog's assets name every stored file any project uses (another
    # project's images name files under this project's folder through their asset).
    if folder:
        assets = Asset.objects.filter(Q(file__startswith=f"{folder}/") | Q(thumbnail__startswith=f"{folder}/"))
    else:
        assets = Asset.objects.filter(Q(file__in=names) | Q(thumbnail__in=names))
    return {
        name
        for query in (rows, assets)
        for pair in query.values_list("file", "thumbnail").iterator(chunk_size=5000)
        for name in pair
    }


class Command(BaseCommand):
    help = (
        "Delete files under the media storage's images/ and thumbs/ that no image names and that are "
        "older than the grace period: files of uploads whose transaction never committed, and .part "
        "files of writes that were cut off."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=24.0,
            help="Leave files younger than this many hours (uploads may still be committing them). Default 24.",
        )
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")

    def handle(self, *args, grace_hours: float, dry_run: bool, verbosity: int, **options):
        if grace_hours < 0:
            raise CommandError("--grace-hours is zero or more.")
        cutoff = timezone.now() - timedelta(hours=grace_hours)
        removed = young = 0
        size = 0
        for top in FOLDERS:
            try:  # an object store has no folders to check for: it lists none
                projects, loose = default_storage.listdir(top)
            except FileNotFoundError:
                continue
            groups = ((f"{top}/{p}", list(_walk(f"{top}/{p}"))) for p in projects)  # one project's names at a time
            for folder, names in itertools.chain(groups, [(None, [f"{top}/{name}" for name in loose])]):
                if not names:
                    continue
                named = _named(folder, names)
                for name in names:
                    if name in named:
                        continue
                    if default_storage.get_modified_time(name) > cutoff:
                        young += 1
                        continue
                    size += default_storage.size(name)
                    removed += 1
                    if verbosity >= 2 or dry_run:
                        self.stdout.write(("would delete " if dry_run else "deleting ") + name)
                    if not dry_run:
                        default_storage.delete(name)
        if not dry_run:
            expired = background.purge_expired_exports()
            if expired:
                self.stdout.write(f"Deleted {expired} export archive{'' if expired == 1 else 's'} past retention.")
        orphans = self._orphan_exports(cutoff, dry_run=dry_run, verbosity=verbosity)
        removed += orphans
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {removed} file{'' if removed == 1 else 's'} ({size / 1e6:.1f} MB) that no image names, "
            f"older than {grace_hours:g} hours."
        )
        if young:
            self.stdout.write(
                f"Left {young} newer file{'' if young == 1 else 's'} that no image names yet: "
                "uploads may still be storing them."
            )

    def _orphan_exports(self, cutoff, *, dry_run: bool, verbosity: int) -> int:
        """Export archives no finished task names (a worker killed between storing one and saying
        so), and kept import files no waiting or running task still needs, older than the grace
        period; how many."""
        kept = set(BackgroundTask.objects.exclude(file="").values_list("file", flat=True))
        kept |= {
            params.get("bundle")
            for params in BackgroundTask.objects.filter(status__in=OPEN_STATUSES).values_list("params", flat=True)
        }
        names = []
        for folder in (background.EXPORT_FOLDER, background.IMPORT_FOLDER):
            try:
                names += _walk(folder)
            except FileNotFoundError:
                continue
        gone = 0
        for name in names:
            if name in kept or default_storage.get_modified_time(name) > cutoff:
                continue
            gone += 1
            if verbosity >= 2 or dry_run:
                self.stdout.write(("would delete " if dry_run else "deleting ") + name)
            if not dry_run:
                default_storage.delete(name)
        return gone
