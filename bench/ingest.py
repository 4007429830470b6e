"""Ingest benchmark: upload many JPEGs to a real gunicorn server and time it.

Prints numbers, asserts nothing beyond "every request got 201 and every image
landed". Run from the repository root:

    .venv/bin/python bench/ingest.py                      # 1,000 images, 100 per request
    .venv/bin/python bench/ingest.py --workers 1 --threads 1 --concurrency 1 --upload-workers 1
    .venv/bin/python bench/ingest.py --storage both        # local disk, then S3 (moto's server)

What it does:

1. Generates ``--count`` noisy 1024x768 JPEGs (about 145 kB each; the JPEG
   quality is calibrated to hit that) and caches them under bench/out/.
2. Starts a throw-away server: a fresh VAR_DIR (SQLite + media) in a temp dir,
   ``manage.py migrate`` and ``manage.py seed_demo``, then gunicorn on a free
   loopback port with ``--workers``/``--threads``.
3. Logs in as manager@demo.test through /accounts/login/ and POSTs the files to
   /w/demo/p/parcels/upload/ in requests of ``--per-request`` files, from
   ``--concurrency`` client threads. Bodies are multipart-encoded before the
   clock starts, so the time measured is the server's, not the encoder's.
4. Prints total seconds, images/s, median/p90/max request latency and the
   server's peak RSS (master + workers), then stops the server and removes
   the temp dir.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from _harness import ROOT, RssSampler, S3Server, Server, bench_env, login, manage, percentile
from PIL import Image, ImageDraw
from urllib3.filepost import encode_multipart_formdata

OUT = ROOT / "bench" / "out"

WIDTH, HEIGHT = 1024, 768
TARGET_BYTES = 145_000
NOISE_SIGMA = 30
NOISE_WEIGHT = 0.35
GEN_VERSION = 1  # bump when the generator changes, to invalidate the cache

LOGIN_EMAIL = "manager@demo.test"
LOGIN_PASSWORD = "demo"  # seed_demo's password
UPLOAD_PATH = "/w/demo/p/parcels/upload/"


# --- images ------------------------------------------------------------------


def _picture(seed: int) -> Image.Image:
    """Gradients and boxes under Gaussian noise: hard to compress, like a photo."""
    rnd = random.Random(seed)
    size = (WIDTH, HEIGHT)
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(rnd.randint(0, 359)).resize(size)
    blue = Image.radial_gradient("L").resize(size)
    base = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(base)
    for _ in range(rnd.randint(4, 10)):
        w, h = rnd.randint(40, 300), rnd.randint(30, 250)
        x, y = rnd.randint(0, WIDTH - 40), rnd.randint(0, HEIGHT - 30)
        draw.rectangle([x, y, x + w, y + h], fill=tuple(rnd.randint(0, 255) for _ in range(3)))
    # effect_noise draws from Pillow's own RNG; reseeding it is not possible, but
    # every image differs anyway (which is what the upload's dedup needs).
    noise = Image.merge("RGB", [Image.effect_noise(size, NOISE_SIGMA) for _ in range(3)])
    return Image.blend(base, noise, NOISE_WEIGHT)


def _encode(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _calibrate_quality(samples: int = 6) -> int:
    """The JPEG quality whose average size is closest to TARGET_BYTES."""
    pictures = [_picture(10_000_000 + i) for i in range(samples)]
    best, best_err = 80, None
    lo, hi = 50, 95
    while lo <= hi:
        q = (lo + hi) // 2
        avg = sum(len(_encode(p, q)) for p in pictures) / samples
        err = abs(avg - TARGET_BYTES)
        if best_err is None or err < best_err:
            best, best_err = q, err
        if avg < TARGET_BYTES:
            lo = q + 1
        else:
            hi = q - 1
    return best


def _write_one(job: tuple[int, int, str]) -> int:
    index, quality, directory = job
    data = _encode(_picture(index), quality)
    Path(directory, f"img-{index:05d}.jpg").write_bytes(data)
    return len(data)


def ensure_images(count: int, directory: Path) -> list[Path]:
    """Make (or reuse) ``count`` JPEGs in ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    manifest = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    params = {
        "version": GEN_VERSION,
        "size": [WIDTH, HEIGHT],
        "target": TARGET_BYTES,
        "sigma": NOISE_SIGMA,
        "weight": NOISE_WEIGHT,
    }
    if manifest.get("params") != params:
        for old in directory.glob("img-*.jpg"):
            old.unlink()
        manifest = {"params": params, "quality": _calibrate_quality()}
        manifest_path.write_text(json.dumps(manifest))
    quality = manifest["quality"]
    paths = [directory / f"img-{i:05d}.jpg" for i in range(count)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"Generating {len(missing)} JPEGs ({WIDTH}x{HEIGHT}, quality {quality}) in {directory} ...", flush=True)
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(_write_one, [(i, quality, str(directory)) for i in missing], chunksize=16))
        print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return paths


# --- server ------------------------------------------------------------------


class DemoServer(Server):
    """A gunicorn serving ``seed_demo``'s data from a fresh temp VAR_DIR (DEBUG=1), on loopback only."""

    def __init__(self, *, workers: int, threads: int, upload_workers: int | None, keep: bool, extra: dict[str, str]):
        self.keep = keep
        self.var_dir = Path(tempfile.mkdtemp(prefix="batchboard-bench-"))
        extra = {**extra, **({"UPLOAD_WORKERS": str(upload_workers)} if upload_workers else {})}
        super().__init__(
            bench_env(self.var_dir, production=False, **extra), workers=workers, threads=threads, timeout=600
        )

    def start(self, *, ready_within: float = 120) -> None:
        t0 = time.perf_counter()
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "seed_demo")
        super().start(ready_within=ready_within)
        print(f"Server up on {self.base} (setup {time.perf_counter() - t0:.1f} s, VAR_DIR={self.var_dir})", flush=True)

    def stop(self) -> None:
        super().stop()
        if self.keep:
            print(f"Kept {self.var_dir}")
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def login(self) -> requests.Session:
        return login(self.base, LOGIN_EMAIL, LOGIN_PASSWORD)


# --- client ------------------------------------------------------------------


@dataclass
class Body:
    index: int
    files: int
    content_type: str
    data: bytes


def encode_bodies(paths: list[Path], per_request: int) -> list[Body]:
    bodies = []
    for n, start in enumerate(range(0, len(paths), per_request)):
        chunk = paths[start : start + per_request]
        fields = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in chunk]
        data, content_type = encode_multipart_formdata(fields)
        bodies.append(Body(n, len(chunk), content_type, data))
    return bodies


@dataclass
class Outcome:
    index: int
    status: int
    seconds: float
    landed: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str = ""


def run_uploads(server: DemoServer, bodies: list[Body], concurrency: int) -> tuple[float, list[Outcome]]:
    main = server.login()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "s"):
            s = requests.Session()
            s.cookies.update(main.cookies)
            local.s = s
        return local.s

    def send(body: Body) -> Outcome:
        s = session()
        headers = {
            "Accept": "application/json",
            "Content-Type": body.content_type,
            "X-CSRFToken": s.cookies.get("csrftoken"),
            "Referer": server.base + UPLOAD_PATH,
        }
        t0 = time.perf_counter()
        try:
            r = s.post(server.base + UPLOAD_PATH, data=body.data, headers=headers, timeout=600)
        except requests.RequestException as exc:
            return Outcome(body.index, 0, time.perf_counter() - t0, error=str(exc))
        dt = time.perf_counter() - t0
        out = Outcome(body.index, r.status_code, dt)
        try:
            payload = r.json()
            out.landed, out.duplicates, out.rejected = payload["landed"], payload["duplicates"], payload["rejected"]
        except (ValueError, KeyError, TypeError):
            out.error = r.text[:300]
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(send, bodies))
    return time.perf_counter() - t0, outcomes


# --- main --------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="images to upload (default 1000)")
    parser.add_argument("--per-request", type=int, default=100, help="files per POST (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    # 2 workers x 2 threads (gthread) beat 2 sync workers, 1 worker x 2 threads and 4 sync workers on a
    # 2-core machine; see bench/README.md.
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads sending requests (default 2)")
    parser.add_argument(
        "--upload-workers",
        type=int,
        default=None,
        help="UPLOAD_WORKERS for the server (thumbnail threads per request; default: settings)",
    )
    parser.add_argument(
        "--images-dir",
        type=Path,
        default=OUT / "ingest-images",
        help="where the generated JPEGs are cached (default bench/out/ingest-images)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the server's temp VAR_DIR")
    parser.add_argument(
        "--storage",
        choices=("local", "s3", "both"),
        default="local",
        help="where the server keeps files: the local disk, S3 (moto's server on loopback), or both in turn",
    )
    args = parser.parse_args()
    for name in ("count", "per_request", "workers", "threads", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    paths = ensure_images(args.count, args.images_dir)
    sizes = [p.stat().st_size for p in paths]
    avg = sum(sizes) / len(sizes)
    print(
        f"Images: {len(paths)} x {WIDTH}x{HEIGHT} JPEG, average {avg / 1000:.1f} kB "
        f"(min {min(sizes) / 1000:.1f}, max {max(sizes) / 1000:.1f}), total {sum(sizes) / 1e6:.1f} MB"
    )
    bodies = encode_bodies(paths, args.per_request)

    results: dict[str, float] = {}
    failed = False
    s3 = S3Server() if args.storage in ("s3", "both") else None
    try:
        if s3 is not None:
            s3.start()
        for storage in ("local", "s3") if args.storage == "both" else (args.storage,):
            print(f"\n--- files on {'the local disk' if storage == 'local' else 'S3 (moto server on loopback)'}")
            extra = s3.env(s3.bucket()) if storage == "s3" else {}
            rate, ok = measure(args, paths, sizes, bodies, extra)
            results[storage] = rate
            failed = failed or not ok
    finally:
        if s3 is not None:
            s3.stop()
    if len(results) > 1:
        print("\n" + ", ".join(f"{name}: {rate:.1f} images/s" for name, rate in results.items()))
    return 1 if failed else 0


def measure(args, paths: list[Path], sizes: list[int], bodies: list[Body], extra: dict[str, str]) -> tuple[float, bool]:
    """One server, every upload; prints the figures and returns (images/s, every image landed)."""
    server = DemoServer(
        workers=args.workers, threads=args.threads, upload_workers=args.upload_workers, keep=args.keep, extra=extra
    )
    sampler = None
    try:
        server.start()
        sampler = RssSampler(server)
        sampler.sample()
        idle_kb = sampler.peak_sum_kb
        sampler.peak_sum_kb = 0
        load_before = os.getloadavg()[0]
        cpu_before = server.cpu_seconds()
        sampler.start()
        total, outcomes = run_uploads(server, bodies, args.concurrency)
        sampler.stop()
        server_cpu = server.cpu_seconds() - cpu_before
        load_after = os.getloadavg()[0]
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        server.stop()

    bad = [o for o in outcomes if o.status != 201]
    landed = sum(o.landed for o in outcomes)
    latencies = sorted(o.seconds for o in outcomes)
    p90 = percentile(latencies, 0.9)
    print()
    print(
        f"Config: gunicorn --workers {args.workers} --threads {args.threads}, "
        f"UPLOAD_WORKERS={args.upload_workers or 'default'}, client concurrency {args.concurrency}, "
        f"{len(bodies)} requests x {args.per_request} files"
    )
    print(f"Total:            {total:.2f} s")
    print(f"Throughput:       {args.count / total:.1f} images/s ({sum(sizes) / 1e6 / total:.1f} MB/s)")
    print(f"Request latency:  median {statistics.median(latencies):.2f} s, p90 {p90:.2f} s, max {latencies[-1]:.2f} s")
    print(
        f"Server RSS:       peak {sampler.peak_sum_kb / 1024:.0f} MiB summed over master + workers "
        f"(idle {idle_kb / 1024:.0f} MiB; sum of per-process VmHWM {sum(sampler.hwm_kb.values()) / 1024:.0f} MiB)"
    )
    print(
        f"Server CPU:       {server_cpu:.1f} s ({server_cpu / total * 100:.0f}% of one core; "
        f"{args.count / server_cpu if server_cpu else 0:.0f} images per CPU-second; {os.cpu_count()} cores)"
    )
    if server_cpu:
        print(
            f"CPU ceiling:      {args.count / server_cpu * (os.cpu_count() or 1):.0f} images/s if the server had "
            f"every core to itself at this CPU cost per image"
        )
    print(f"Host load (1m):   {load_before:.2f} before, {load_after:.2f} after (other work skews the numbers)")
    print(
        f"Results:          {landed} landed, {sum(o.duplicates for o in outcomes)} duplicates, "
        f"{sum(o.rejected for o in outcomes)} rejected; {len(outcomes) - len(bad)}/{len(outcomes)} requests 201"
    )
    ok = not bad and landed == args.count
    if not ok:
        for o in bad[:5]:
            print(f"  request {o.index}: HTTP {o.status} {o.error}")
        print(f"FAILED: expected {args.count} landed and every request 201")
    return args.count / total, ok


if __name__ == "__main__":
    sys.exit(main())
