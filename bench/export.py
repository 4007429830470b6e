"""Export benchmark: stream each dataset format of a 25,000-image Dataset batch.

Prints numbers; asserts only that every export answered 200. Run from the
repository root:

    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --images 2000
    .venv/bin/python bench/export.py --images 100000 --background

It makes a fresh VAR_DIR (SQLite + media) in a temp dir, migrates, writes one
64x48 JPEG and hard-links it as every image's file (disk stays small), adds
``--images`` image rows with 3 boxes each in one Dataset batch, then fetches
each format through the export view with Django's test client, reading the
streamed body chunk by chunk and throwing it away. For each it prints the
time, the bytes streamed and the process's peak RSS (VmHWM) before and after.
Target: peak RSS under 200 MB at 25,000 images.

With ``--background`` each export is instead queued as a background task and run by a real
worker (``manage.py db_worker --batch``, a process of its own on the same database and media),
whose RSS is sampled from /proc every 50 ms while it writes the archive and stores it. Target:
the worker's peak under 250 MB at 100,000 images.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from _harness import ROOT, bench_env, setup_django, status_kb, temp_var_dir

TARGET_MB = 200
WORKER_TARGET_MB = 250
LINKS_PER_FILE = 50_000


def peak_rss_mb() -> float:
    kb = status_kb(os.getpid(), "VmHWM")
    if not kb:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=25_000)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--background", action="store_true", help="run each export in a worker process")
    args = parser.parse_args()

    with temp_var_dir("batchboard-bench-export-", keep=args.keep) as var:
        run(args, var)


def run(args, var: Path) -> None:
    env = bench_env(var, production=False)
    setup_django(env)  # its own SQLite, never a configured server
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.test.utils import setup_test_environment
    from PIL import Image as PILImage

    from accounts.models import Membership, User, Workspace
    from accounts.roles import Role
    from boards.models import Annotation, Batch, BatchStatus, Image, LabelClass, Project, ReviewState

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    print(f"VAR_DIR {var}; {args.images:,} images, 3 boxes each")

    started = time.perf_counter()
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), (200, 80, 40)).save(buffer, "JPEG")
    media = Path(settings.MEDIA_ROOT)
    folder = media / "images" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source.jpg"
    source.write_bytes(buffer.getvalue())

    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user(email="viewer@bench.test", password="pw")
    Membership.objects.create(workspace=workspace, user=user, role=Role.VIEWER)
    project = Project.objects.create(workspace=workspace, name="Bench", slug="bench", review_mode=True)
    labels = [LabelClass.objects.create(project=project, name=n) for n in ("car", "person", "sign")]
    batch = Batch.objects.create(project=project, name="dataset", status=BatchStatus.DATASET)
    with transaction.atomic():
        for start in range(0, args.images, 2000):
            rows = []
            for n in range(start, min(start + 2000, args.images)):
                name = f"images/bench/{n:06d}.jpg"
                if n % LINKS_PER_FILE == 0 and n:  # a file system allows some 65,000 links to one file
                    source = folder / f"source-{n}.jpg"
                    source.write_bytes(buffer.getvalue())
                os.link(source, media / name)
                rows.append(
                    Image(
                        project=project,
                        batch=batch,
                        file=name,
                        width=64,
                        height=48,
                        sha256=f"{n:064x}",
                        original_filename=f"frame_{n:06d}.jpg",
                        annotation_state="annotated",
                        review_state=ReviewState.APPROVED,
                    )
                )
            Image.objects.bulk_create(rows)
        boxes = []
        for image_id in Image.objects.filter(project=project).values_list("pk", flat=True).iterator():
            for k, label in enumerate(labels):
                boxes.append(Annotation(image_id=image_id, label=label, x=2 + k, y=3, width=20, height=10 + k))
            if len(boxes) >= 6000:
                Annotation.objects.bulk_create(boxes)
                boxes = []
        Annotation.objects.bulk_create(boxes)
    print(f"built in {time.perf_counter() - started:.1f} s; peak RSS so far {peak_rss_mb():.0f} MB")

    if args.background:
        in_worker(env, project, batch, user)
        return
    settings.EXPORT_STREAM_LIMIT = args.images  # stream it, however large
    client = Client()
    client.force_login(user)
    url = f"/w/bench/p/bench/export/?batch={batch.pk}"
    for fmt, extra in (("coco", ""), ("yolo", ""), ("voc", ""), ("yolo", "&split=70,20,10&seed=42")):
        before = peak_rss_mb()
        started = time.perf_counter()
        response = client.get(f"{url}&format={fmt}{extra}")
        assert response.status_code == 200, response.status_code
        total = chunks = 0
        for chunk in response.streaming_content:
            total += len(chunk)
            chunks += 1
        response.close()
        took = time.perf_counter() - started
        after = peak_rss_mb()
        label = fmt + (" split" if extra else "")
        print(
            f"{label:11s} {took:6.1f} s  {total / 1e6:8.1f} MB in {chunks:,} chunks  "
            f"peak RSS {before:.0f} → {after:.0f} MB"
        )
    peak = peak_rss_mb()
    print(f"peak RSS {peak:.0f} MB (target under {TARGET_MB} MB): {'ok' if peak < TARGET_MB else 'OVER'}")


def in_worker(env: dict[str, str], project, batch, user) -> None:
    """Each format as a background task, run by a worker process whose RSS is sampled meanwhile."""
    from boards.models import BackgroundTask
    from boards.services import background

    # The worker runs as in production: with DEBUG on, Django would keep the SQL of its last 9,000 queries.
    worker_env = {**env, "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50, "SECURE_SSL_REDIRECT": "0"}
    for fmt, ratio in (("coco", None), ("yolo", None), ("voc", None), ("yolo", (70, 20, 10))):
        task = background.start_export(project=project, actor=user, fmt=fmt, batch=batch, ratio=ratio, seed=42)
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
            cwd=ROOT,
            env=worker_env,
        )
        idle_kb = peak_kb = 0
        while worker.poll() is None:
            rss = status_kb(worker.pid, "VmRSS")
            idle_kb = idle_kb or rss
            peak_kb = max(peak_kb, status_kb(worker.pid, "VmHWM"), rss)
            time.sleep(0.05)
        took = time.perf_counter() - started
        task = BackgroundTask.objects.get(pk=task.pk)
        assert task.status == "done", (task.status, task.error)
        label = fmt + (" split" if ratio else "")
        print(
            f"{label:11s} {took:6.1f} s  {task.file_size / 1e6:8.1f} MB archive, {task.done:,} images  "
            f"worker RSS first seen {idle_kb / 1024:.0f} MB, peak {peak_kb / 1024:.0f} MB "
            f"(target under {WORKER_TARGET_MB} MB: {'ok' if peak_kb / 1024 < WORKER_TARGET_MB else 'OVER'})"
        )


if __name__ == "__main__":
    main()
