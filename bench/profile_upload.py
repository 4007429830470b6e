"""Where does an upload request spend its time? An in-process cProfile run.

Uses the JPEGs bench/ingest.py generated (run that first), a fresh temp VAR_DIR
(migrate + seed_demo), and POSTs pre-encoded multipart bodies through Django's
full request path (middleware, multipart parsing, the upload view,
services.upload_images, file storage, SQLite) with the test client. No server,
no network.

    .venv/bin/python bench/profile_upload.py                  # timings, then a cProfile of the same work
    .venv/bin/python bench/profile_upload.py --requests 3 --top 40

The cProfile pass sets UPLOAD_WORKERS=1 so the thumbnail work runs on the
profiled thread (cProfile sees only the thread it was started on).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from _harness import ROOT, bench_env, setup_django, temp_var_dir

IMAGES = ROOT / "bench" / "out" / "ingest-images"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5, help="requests per pass (default 5)")
    parser.add_argument("--per-request", type=int, default=100, help="files per request (default 100)")
    parser.add_argument("--top", type=int, default=30, help="profile rows to print (default 30; 0: no cProfile)")
    args = parser.parse_args()

    paths = sorted(IMAGES.glob("img-*.jpg"))
    # Three passes (two timed, one profiled) each need their own images: the
    # project refuses an image it already holds.
    need = 3 * args.requests * args.per_request
    if len(paths) < need:
        print(f"Need {need} images in {IMAGES}; run bench/ingest.py --count {need} first (it caches them).")
        return 2

    with temp_var_dir("batchboard-profile-") as var_dir:
        return run(args, paths, var_dir)


def run(args, paths: list[Path], var_dir: Path) -> int:
    setup_django(bench_env(var_dir, production=False))
    from django.conf import settings
    from django.core.management import call_command
    from django.http import HttpRequest
    from django.test import Client
    from urllib3.filepost import encode_multipart_formdata

    call_command("migrate", "--noinput", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    client = Client()
    if not client.login(request=HttpRequest(), username="manager@demo.test", password="demo"):
        raise RuntimeError("login failed")

    def bodies(offset: int):
        out = []
        for r in range(args.requests):
            chunk = paths[offset + r * args.per_request : offset + (r + 1) * args.per_request]
            fields = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in chunk]
            out.append(encode_multipart_formdata(fields))
        return out

    def post(body_ct):
        body, ct = body_ct
        r = client.generic(
            "POST", "/w/demo/p/parcels/upload/", data=body, content_type=ct, HTTP_ACCEPT="application/json"
        )
        assert r.status_code == 201, (r.status_code, r.content[:300])
        assert r.json()["landed"] == args.per_request, r.json()

    n = args.requests * args.per_request
    passes = [("timed", settings.UPLOAD_WORKERS), ("phases", 1)] + ([("profiled", 1)] if args.top else [])
    for i, (kind, workers) in enumerate(passes):
        settings.UPLOAD_WORKERS = workers
        prepared = bodies(i * n)
        if kind == "timed":
            c0, w0 = time.process_time(), time.perf_counter()
            for b in prepared:
                post(b)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            print(
                f"UPLOAD_WORKERS={workers}: {n} images in {wall:.2f} s wall = {n / wall:.0f} images/s; "
                f"CPU {cpu:.2f} s = {cpu / n * 1000:.2f} ms/image"
            )
        elif kind == "phases":
            phases = Phases()
            with phases.installed():
                c0, w0 = time.thread_time(), time.perf_counter()
                for b in prepared:
                    post(b)
                cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
            print(
                f"UPLOAD_WORKERS=1: {n} images in {wall:.2f} s wall = {n / wall:.0f} images/s; "
                f"CPU {cpu:.2f} s = {cpu / n * 1000:.2f} ms/image. Per image, by phase (CPU / wall ms):"
            )
            accounted_cpu = accounted_wall = 0.0
            for name, (pcpu, pwall, top) in phases.totals.items():
                print(f"  {name:44s} {pcpu / n * 1000:6.2f} / {pwall / n * 1000:6.2f}")
                if top:
                    accounted_cpu, accounted_wall = accounted_cpu + pcpu, accounted_wall + pwall
            print(
                f"  {'everything else (middleware, DB reads, JSON)':44s} {(cpu - accounted_cpu) / n * 1000:6.2f} / "
                f"{(wall - accounted_wall) / n * 1000:6.2f}"
            )
        else:
            # CPU time, not wall time: other processes on the machine do not inflate it.
            prof = cProfile.Profile(time.process_time)
            prof.enable()
            for b in prepared:
                post(b)
            prof.disable()
            stats = pstats.Stats(prof)
            total = stats.total_tt
            print(
                f"\ncProfile (CPU time), UPLOAD_WORKERS=1, {n} images: {total:.2f} s profiled "
                f"({total / n * 1000:.2f} ms/image, profiler overhead included)"
            )
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
                text = out.getvalue()
                print(f"\n--- by {order} ---")
                print(text[text.find("ncalls") :])
    return 0


class Phases:
    """Wraps the upload path's steps with CPU and wall timers (single thread: UPLOAD_WORKERS=1)."""

    def __init__(self):
        self.totals: dict[str, list] = {}

    def wrap(self, owner, attr: str, label: str, *, top: bool):
        original = getattr(owner, attr)
        self.totals.setdefault(label, [0.0, 0.0, top])

        def timed(*a, **kw):
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                entry = self.totals[label]
                entry[0] += time.thread_time() - c0
                entry[1] += time.perf_counter() - w0

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    @contextlib.contextmanager
    def installed(self):
        from django.db.models.query import QuerySet
        from django.http.multipartparser import MultiPartParser
        from PIL import ImageFile

        from boards.services import uploads

        self._undo = []
        # top=True phases add up, with "everything else", to the request; top=False
        # ones are part of the phase listed above them.
        self.wrap(MultiPartParser, "parse", "multipart parsing (request.FILES)", top=True)
        self.wrap(uploads, "_process_one", "imaging.process (hash, verify, thumbnail)", top=True)
        self.wrap(ImageFile.ImageFile, "load", "  of which Pillow decode (ImageFile.load)", top=False)
        self.wrap(uploads, "_store_upload", "_store_upload (files + DB transaction)", top=True)
        self.wrap(uploads, "_write_files", "  of which _write_files (2 file writes/image)", top=False)
        self.wrap(QuerySet, "bulk_create", "  of which Image bulk_create", top=False)
        try:
            yield self
        finally:
            for owner, attr, original in reversed(self._undo):
                setattr(owner, attr, original)


if __name__ == "__main__":
    sys.exit(main())
