"""Ingest benchmark: upload many JPEGs to a real gunicorn server and time it.

Prints numbers, asserts nothing beyond "every request got 201 and every image
landed". Run from the repository root:

    .venv/bin/python bench/ingest.py                      # 1,000 images, 100 per request
    .venv/bin/python bench/ingest.py --workers 1 --threads 1 --concurrency 1 --upload-workers 1

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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image, ImageDraw
from urllib3.filepost import encode_multipart_formdata

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent

WIDTH, HEIGHT = 1024, 768
TARGET_BYTES = 145_000
NOISE_SIGMA = 30
NOISE_WEIGHT = 0.35
GEN_VERSION = 1  # bump when the generator changes, to invalidate the cache

LOGIN_EMAIL = "manager@demo.test"
LOGIN_PASSWORD = "demo"  # seed_demo's password
UPLOAD_PATH = "/w/demo/p/parcels/upload/"
LOGIN_PATH = "/accounts/login/"


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


class Server:
    """A gunicorn serving the app from a fresh temp VAR_DIR, on loopback only."""

    def __init__(self, *, workers: int, threads: int, upload_workers: int | None, keep: bool):
        self.workers, self.threads, self.upload_workers, self.keep = workers, threads, upload_workers, keep
        self.var_dir = Path(tempfile.mkdtemp(prefix="batchboard-bench-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = None
        self.env = {
            **os.environ,
            "VAR_DIR": str(self.var_dir),
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        self.env.pop("DATABASE_URL", None)
        self.env.pop("MEDIA_ROOT", None)
        if upload_workers:
            self.env["UPLOAD_WORKERS"] = str(upload_workers)

    def start(self) -> None:
        t0 = time.perf_counter()
        _manage(self.env, "migrate", "--noinput")
        _manage(self.env, "seed_demo")
        self.log = open(self.var_dir / "gunicorn.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--timeout",
                "600",
                "--graceful-timeout",
                "10",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.var_dir}/gunicorn.log")
            try:
                if requests.get(self.base + LOGIN_PATH, timeout=10).status_code == 200:
                    print(
                        f"Server up on {self.base} (setup {time.perf_counter() - t0:.1f} s, VAR_DIR={self.var_dir})",
                        flush=True,
                    )
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 120 s")

    def pids(self) -> list[int]:
        """The master and its workers."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        master = self.proc.pid
        children: list[int] = []
        try:
            text = Path(f"/proc/{master}/task/{master}/children").read_text()
            children = [int(p) for p in text.split()]
        except OSError:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master:
                    children.append(int(stat.parent.name))
        return [master, *children]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()
        if self.keep:
            print(f"Kept {self.var_dir}")
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of the server's processes every ``interval`` s."""

    def __init__(self, server: Server, interval: float = 0.05):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak_sum_kb = 0
        self.hwm_kb: dict[int, int] = {}  # per-process VmHWM, last seen
        self._halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in self.server.pids():
            total += _status_kb(pid, "VmRSS")
            hwm = _status_kb(pid, "VmHWM")
            if hwm:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), hwm)
        self.peak_sum_kb = max(self.peak_sum_kb, total)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self.sample()


# --- client ------------------------------------------------------------------


def login(base: str) -> requests.Session:
    session = requests.Session()
    r = session.get(base + LOGIN_PATH, timeout=30)
    r.raise_for_status()
    token = session.cookies.get("csrftoken")
    r = session.post(
        base + LOGIN_PATH,
        data={"username": LOGIN_EMAIL, "password": LOGIN_PASSWORD, "csrfmiddlewaretoken": token, "next": "/"},
        headers={"Referer": base + LOGIN_PATH},
        allow_redirects=False,
        timeout=30,
    )
    if r.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"Login failed: HTTP {r.status_code}")
    return session


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


def run_uploads(server: Server, bodies: list[Body], concurrency: int) -> tuple[float, list[Outcome]]:
    main = login(server.base)
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

    server = Server(workers=args.workers, threads=args.threads, upload_workers=args.upload_workers, keep=args.keep)
    sampler = None
    try:
        server.start()
        sampler = RssSampler(server)
        sampler.sample()
        idle_kb = sampler.peak_sum_kb
        sampler.peak_sum_kb = 0
        load_before = os.getloadavg()[0]
        cpu_before = {pid: _cpu_seconds(pid) for pid in server.pids()}
        sampler.start()
        total, outcomes = run_uploads(server, bodies, args.concurrency)
        sampler.stop()
        server_cpu = sum(_cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in server.pids())
        load_after = os.getloadavg()[0]
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        server.stop()

    bad = [o for o in outcomes if o.status != 201]
    landed = sum(o.landed for o in outcomes)
    latencies = sorted(o.seconds for o in outcomes)
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
