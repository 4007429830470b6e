"""API benchmark: list 1,000 batches and upload single images through a real server.

Prints numbers; asserts nothing beyond "every request succeeded". Run from the
repository root:

    .venv/bin/python bench/api.py
    .venv/bin/python bench/api.py --batches 1000 --list-requests 300 --uploads 100

What it does:

1. Makes a fresh VAR_DIR (SQLite + media) in a temp dir, runs ``migrate``,
   and fills a project with ``--batches`` batches (``--images-per-batch``
   image rows each, spread over the four columns, with jobs for the assigned
   ones) and an all-scopes API key, straight through the ORM.
2. Starts gunicorn (``--workers`` 2, production settings: DEBUG off) on a free
   127.0.0.1 port. The rate limit is off for the run.
3. Times ``--list-requests`` sequential ``GET /api/{ws}/{project}/batches``
   after a short warm-up, then ``--uploads`` sequential one-image uploads
   through ``POST /api/dataset/{project}/upload`` (multipart, as the roboflow
   client sends them; 640x480 JPEGs, bodies encoded before the clock starts),
   all into one named batch.
4. Prints median, p95 and max latency of each, the server's CPU time per
   request (from /proc: a figure other load on the host hardly moves), the
   host load, then stops the
   server and deletes the temp dir (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from pathlib import Path

import requests
from _harness import Server, bench_env, load_averages, manage, percentile, temp_var_dir
from PIL import Image, ImageDraw
from urllib3.filepost import encode_multipart_formdata

WORKSPACE, PROJECT = "bench", "parcels"
TARGET_P95_MS = 40
DEADLINE_S = 600  # the whole run stops after this, whatever happens


def build(env: dict, *, batches: int, images_per_batch: int) -> str:
    """Migrate and fill the temp database in a child process; returns the raw API key."""
    manage(env, "migrate", "--noinput")
    raw = "bb" + "".join(random.choice("abcdefghijkmnopqrstuvwxyz23456789") for _ in range(38))
    code = FILL.format(batches=batches, per_batch=images_per_batch, raw=raw, ws=WORKSPACE, project=PROJECT)
    manage(env, "shell", "-c", code, quiet=False)
    return raw


FILL = """
from django.db import transaction
from django.utils import timezone
from accounts.models import ApiKey, ApiScope, Membership, User, Workspace, hash_api_key
from accounts.roles import Role
from boards.models import Batch, BatchStatus, Image, Job, Project

statuses = [BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET]
with transaction.atomic():
    user = User.objects.create_user("bench@bench.test", "bench")
    ws = Workspace.objects.create(name="Bench", slug="{ws}")
    Membership.objects.create(workspace=ws, user=user, role=Role.MANAGER)
    ApiKey.objects.create(workspace=ws, name="bench", prefix="{raw}"[:8], key_hash=hash_api_key("{raw}"),
                          scopes=list(ApiScope.values), created_by=user)
    project = Project.objects.create(workspace=ws, name="Parcels", slug="{project}")
    now = timezone.now()
    made = Batch.objects.bulk_create(
        [Batch(project=project, name=f"Batch {{n:04d}}", uploaded_at=now, priority=1 + n % 5) for n in range({batches})]
    )
    for i, status in enumerate(statuses):
        Batch.objects.filter(pk__in=[b.pk for b in made[i::4]]).update(status=status)
    Image.objects.bulk_create(
        [
            Image(project=project, batch=b, width=640, height=480, sha256=f"{{b.pk:032x}}{{k:032x}}",
                  original_filename=f"{{b.pk}}-{{k}}.jpg", file=f"images/x/{{b.pk}}-{{k}}.jpg")
            for b in made for k in range({per_batch})
        ],
        batch_size=2000,
    )
    Job.objects.bulk_create([Job(batch=b, labeler=user, name=b.name) for n, b in enumerate(made) if n % 4])
print(f"Built {{Batch.objects.count():,}} batches, {{Image.objects.count():,}} images, {{Job.objects.count():,}} jobs")
"""


def jpeg(seed: int) -> bytes:
    rnd = random.Random(seed)
    im = Image.new("RGB", (640, 480), tuple(rnd.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = rnd.randint(0, 560), rnd.randint(0, 400)
        draw.rectangle([x, y, x + 80, y + 60], fill=tuple(rnd.randint(0, 255) for _ in range(3)))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def report(name: str, ms: list[float], extra: str = "") -> None:
    print(
        f"{name}: n={len(ms)}  median {statistics.median(ms):.1f} ms  p95 {percentile(ms, 0.95):.1f} ms  "
        f"max {max(ms):.1f} ms{extra}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--images-per-batch", type=int, default=5)
    parser.add_argument("--list-requests", type=int, default=300)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temp VAR_DIR")
    args = parser.parse_args()
    started = time.monotonic()

    with temp_var_dir("batchboard-bench-api-", keep=args.keep) as var_dir:
        return run(args, var_dir, started)


def run(args, var_dir: Path, started: float) -> int:
    env = bench_env(var_dir, production=True, API_RATE_LIMIT="0")
    # No collectstatic here, so the readiness check asks for a page without static files.
    server = Server(env, workers=args.workers, timeout=120, ready_path="/api/openapi.json")
    failures = 0
    try:
        t0 = time.perf_counter()
        key = build(env, batches=args.batches, images_per_batch=args.images_per_batch)
        print(f"Set up in {time.perf_counter() - t0:.1f} s (VAR_DIR={var_dir})", flush=True)
        server.start()
        print(f"gunicorn: {args.workers} workers on {server.base}, DEBUG off, rate limit off", flush=True)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"

        url = f"{server.base}/api/{WORKSPACE}/{PROJECT}/batches"
        for _ in range(20):  # warm-up: imports, connections, SQLite page cache
            session.get(url, timeout=30).raise_for_status()
        timings, size, listed = [], 0, 0
        cpu = server.cpu_seconds()
        for _ in range(args.list_requests):
            if time.monotonic() - started > DEADLINE_S:
                print("Deadline reached; stopping early.")
                break
            t = time.perf_counter()
            response = session.get(url, timeout=30)
            timings.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                failures += 1
            else:
                size = len(response.content)
                listed = len(response.json()["batches"])
        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(1, len(timings))
        report(
            f"GET /api/{WORKSPACE}/{PROJECT}/batches",
            timings,
            f"  ({listed:,} batches, {size / 1024:.0f} KiB; server CPU {cpu_ms:.1f} ms/request; "
            f"target p95 <= {TARGET_P95_MS} ms)",
        )

        bodies = []
        for n in range(args.uploads):
            body, content_type = encode_multipart_formdata(
                {"name": f"bench-{n:04d}.jpg", "split": "train", "file": (f"bench-{n:04d}.jpg", jpeg(n), "image/jpeg")}
            )
            bodies.append((body, content_type))
        average = sum(len(b) for b, _ in bodies) / max(1, len(bodies))
        upload_url = f"{server.base}/api/dataset/{PROJECT}/upload"
        timings = []
        cpu = server.cpu_seconds()
        for body, content_type in bodies:
            if time.monotonic() - started > DEADLINE_S:
                print("Deadline reached; stopping early.")
                break
            t = time.perf_counter()
            response = session.post(
                upload_url,
                params={"batch": "Bench uploads", "tag": "bench"},
                data=body,
                headers={"Content-Type": content_type},
                timeout=60,
            )
            timings.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200 or not response.json().get("success"):
                failures += 1
        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(1, len(timings))
        report(
            f"POST /api/dataset/{PROJECT}/upload (one image)",
            timings,
            f"  ({average / 1024:.0f} KiB bodies; server CPU {cpu_ms:.1f} ms/request)",
        )
        print(f"Host load average: {load_averages()}; failed requests: {failures}")
    finally:
        server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
