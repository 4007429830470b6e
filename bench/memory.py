"""Memory benchmark: how much a real server's RSS grows while it takes uploads.

Prints numbers; fails (exit 1) only if an upload did not land. Run from the
repository root:

    .venv/bin/python bench/memory.py                  # or: make bench-memory
    .venv/bin/python bench/memory.py --only png --png-side 6000

Two scenarios, each on a fresh gunicorn (``--workers`` x ``--threads``, a temp
VAR_DIR with SQLite and media, as ``bench/ingest.py`` starts it):

a. ``--count`` (1,000) noisy 1024x768 JPEGs of ~145 kB (ingest.py's cached
   images) sent as 10 requests of 100 files from 2 client threads;
b. 4 concurrent requests, each one ``--png-side`` (10,000) square one-colour
   PNG (a few tens of kB that decode to 300 MB of pixels), 4 client threads.

Before each scenario the server is warmed up (a login and four small uploads,
so every worker has imported and run the upload path once), then the kernel's
peak-RSS counters are reset (``/proc/<pid>/clear_refs``) and RSS is sampled
every 20 ms. "Growth" is over the warmed-up RSS of the master and workers:
the sampled peak of their summed RSS, and the sum of each process's own peak
(VmHWM, which catches spikes between samples). Target for (b): < 150 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _harness import RssSampler, load_averages, status_kb
from ingest import OUT, UPLOAD_PATH, DemoServer, encode_bodies, ensure_images
from PIL import Image
from urllib3.filepost import encode_multipart_formdata

PNG_COLOURS = [(200, 80, 40), (40, 160, 90), (30, 60, 200), (220, 200, 30)]
PNG_TARGET_MB = 150


def one_colour_png(side: int, colour: tuple[int, int, int]) -> bytes:
    """A square PNG of one colour, cached in bench/out/ (making one takes a few seconds)."""
    path = OUT / "memory-images" / f"flat-{side}-{'-'.join(map(str, colour))}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        out = io.BytesIO()
        Image.new("RGB", (side, side), colour).save(out, "PNG", optimize=True)
        path.write_bytes(out.getvalue())
    return path.read_bytes()


def multipart(files: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    return encode_multipart_formdata([("files", f) for f in files])


class Peaks(RssSampler):
    """RssSampler plus a per-process baseline and a reset of the kernel's peak counters."""

    def reset(self) -> dict[int, int]:
        baseline = {}
        for pid in self.server.pids():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := current RSS
            baseline[pid] = status_kb(pid, "VmRSS")
        self.peak_sum_kb = 0
        self.hwm_kb = {}
        return baseline


def post_all(server: DemoServer, session, bodies: list[tuple[bytes, str]], concurrency: int) -> list[tuple[int, dict]]:
    local = threading.local()

    def send(body: tuple[bytes, str]) -> tuple[int, dict]:
        if not hasattr(local, "s"):
            import requests

            local.s = requests.Session()
            local.s.cookies.update(session.cookies)
        data, content_type = body
        headers = {
            "Accept": "application/json",
            "Content-Type": content_type,
            "X-CSRFToken": local.s.cookies.get("csrftoken"),
            "Referer": server.base + UPLOAD_PATH,
        }
        r = local.s.post(server.base + UPLOAD_PATH, data=data, headers=headers, timeout=900)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, {"error": r.text[:300]}

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(send, bodies))


def scenario(name: str, args, bodies: list[tuple[bytes, str]], concurrency: int, expected: int) -> dict:
    server = DemoServer(workers=args.workers, threads=args.threads, upload_workers=args.upload_workers, keep=False)
    try:
        server.start()
        session = server.login()
        warm = [multipart([(f"warm{i}.png", one_colour_png(64 + i, PNG_COLOURS[i]), "image/png")]) for i in range(4)]
        post_all(server, session, warm, 4)
        time.sleep(0.5)
        sampler = Peaks(server, interval=0.02)
        baseline = sampler.reset()
        load = os.getloadavg()[0]
        sampler.start()
        t0 = time.perf_counter()
        answers = post_all(server, session, bodies, concurrency)
        seconds = time.perf_counter() - t0
        sampler.stop()
    finally:
        server.stop()
    landed = sum(body.get("landed", 0) for _status, body in answers)
    bad = [(status, body) for status, body in answers if status != 201]
    growth_sum = (sampler.peak_sum_kb - sum(baseline.values())) / 1024
    growth_hwm = sum(max(0, sampler.hwm_kb.get(pid, 0) - kb) for pid, kb in baseline.items()) / 1024
    worst = max((sampler.hwm_kb.get(pid, 0) - kb for pid, kb in baseline.items()), default=0) / 1024
    print(
        f"{name}: {seconds:.1f} s, {landed}/{expected} landed; server RSS growth: sampled peak of the sum "
        f"{growth_sum:.0f} MB, sum of per-process peaks {growth_hwm:.0f} MB (largest one process {worst:.0f} MB), "
        f"over {sum(baseline.values()) / 1024:.0f} MB warmed up; load {load:.2f}",
        flush=True,
    )
    for status, body in bad[:3]:
        print(f"  HTTP {status}: {str(body)[:300]}")
    return {"ok": not bad and landed == expected, "growth": max(growth_sum, growth_hwm)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="JPEGs in scenario (a) (default 1000)")
    parser.add_argument("--requests", type=int, default=10, help="requests they are sent in (default 10)")
    parser.add_argument("--png-side", type=int, default=10_000, help="side of the PNGs of scenario (b) (default 10000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--upload-workers", type=int, default=None, help="UPLOAD_WORKERS for the server")
    parser.add_argument("--only", choices=["jpeg", "png"], help="run one scenario")
    args = parser.parse_args()

    print(f"Host: {os.cpu_count()} cores, load {load_averages()}")
    print(
        f"gunicorn --workers {args.workers} --threads {args.threads}; "
        f"FILE_UPLOAD_MAX_MEMORY_SIZE={os.environ.get('FILE_UPLOAD_MAX_MEMORY_SIZE', 'default')}"
    )
    results = []
    if args.only in (None, "jpeg"):
        paths = ensure_images(args.count, OUT / "ingest-images")
        per_request = -(-args.count // args.requests)
        bodies = [(b.data, b.content_type) for b in encode_bodies(paths, per_request)]
        size = sum(p.stat().st_size for p in paths) / len(paths)
        name = f"(a) {args.count} JPEGs of {size / 1000:.0f} kB in {len(bodies)} requests"
        results.append(scenario(name, args, bodies, 2, args.count))
    if args.only in (None, "png"):
        pngs = [one_colour_png(args.png_side, colour) for colour in PNG_COLOURS]
        bodies = [multipart([(f"flat-{n}.png", data, "image/png")]) for n, data in enumerate(pngs)]
        name = f"(b) 4 concurrent {args.png_side}x{args.png_side} one-colour PNGs of {len(pngs[0]) / 1000:.0f} kB"
        result = scenario(name, args, bodies, 4, 4)
        verdict = "meets" if result["growth"] < PNG_TARGET_MB else "MISSES"
        print(f"    target: adds < {PNG_TARGET_MB} MB -> {verdict}")
        results.append(result)
    print(f"Host load after: {load_averages()}")
    print("Reference row (bench/board.py's bare 50-row view): not measured here; run bench/board.py for it.")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
