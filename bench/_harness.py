"""What every benchmark needs around its measurement: an isolated app, a real server, the host's load.

One copy of each, so the scripts measure the same way:

- ``bench_env``: the environment for a throw-away instance (its own VAR_DIR, so
  its own SQLite and media, unless a DATABASE_URL is given), production-like
  (DEBUG=0 over plain HTTP on loopback) or DEBUG=1; ``temp_var_dir`` makes and
  removes that directory; ``manage`` runs ``manage.py`` in it; ``setup_django``
  runs the app in this process instead.
- ``Server``: gunicorn on a free 127.0.0.1 port in such an environment, up once
  it answers, with its processes' pids, CPU seconds and RSS from /proc, stopped
  with its workers; ``RssSampler`` follows its RSS while it works.
- ``S3Server``: moto's S3 server (its server mode) on a free loopback port, with a bucket, and
  the environment that points the app at it (``S3_*``).
- ``percentile`` (nearest rank), and the host's load average and CPU pressure,
  which say how far other work on the machine skews the numbers.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOGIN_PATH = "/accounts/login/"


# --- the app's environment -------------------------------------------------------


def bench_env(var_dir: Path, *, production: bool, database_url: str = "", **extra: str) -> dict[str, str]:
    """This process's environment pointed at ``var_dir``, for a server or for ``setup_django``.

    Production-like means DEBUG=0 with a random SECRET_KEY and without the SSL
    redirect, secure cookies and HSTS: the benchmarks talk plain HTTP on
    loopback. Without ``database_url`` the database is SQLite inside ``var_dir``,
    never one configured in the caller's environment; media always is there too.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    }
    env.pop("MEDIA_ROOT", None)
    if production:
        env.update(
            {
                "DEBUG": "0",
                "SECRET_KEY": "bench-" + secrets.token_hex(24),
                "SECURE_SSL_REDIRECT": "0",
                "SESSION_COOKIE_SECURE": "0",
                "CSRF_COOKIE_SECURE": "0",
                "SECURE_HSTS_SECONDS": "0",
            }
        )
    else:
        env["DEBUG"] = "1"
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def temp_var_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh VAR_DIR, removed afterwards unless ``keep`` (then its path is printed, to look inside)."""
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield var_dir
    finally:
        if keep:
            print(f"Kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> None:
    """``manage.py`` in a child process, so this one can still choose its own settings."""
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def setup_django(env: dict[str, str]) -> None:
    """Run the app in this process with ``env`` (from ``bench_env``) as the whole environment."""
    os.environ.clear()
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- processes, from /proc ------------------------------------------------------------


def prepare(env: dict[str, str], *, static: bool) -> float:
    """``migrate`` (and ``collectstatic`` when ``static``: DEBUG=0 serves from the manifest), then Django
    set up in this process; the seconds it took."""
    began = time.perf_counter()
    manage(env, "migrate", "--noinput")
    if static:
        manage(env, "collectstatic", "--noinput")
    setup_django(env)
    return time.perf_counter() - began


def database_version() -> tuple[str, str]:
    """(vendor, server version) of the database Django is set up with."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version")
        return connection.vendor, cursor.fetchone()[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def status_kb(pid: int, key: str) -> int:
    """A kB figure from /proc/<pid>/status (VmRSS, VmHWM, ...); 0 if there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: look for the parent in every process
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found


# --- the server ---------------------------------------------------------------------


class Server:
    """gunicorn serving the app in ``env`` on a free 127.0.0.1 port; its log goes to VAR_DIR/gunicorn.log.

    It is up once ``ready_path`` answers 200: the login page by default, which
    with DEBUG=0 needs ``collectstatic`` first (the manifest storage), so
    without it pick a path that renders no template. ``own_session`` starts it
    in a session of its own: with the kernel's autogroup scheduling it then gets
    its own CPU share instead of splitting this script's.
    """

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        threads: int = 1,
        timeout: int = 120,
        ready_path: str = LOGIN_PATH,
        own_session: bool = False,
    ):
        self.env, self.workers, self.threads, self.timeout = env, workers, threads, timeout
        self.ready_path, self.own_session = ready_path, own_session
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(env["VAR_DIR"]) / "gunicorn.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, *, ready_within: float = 120) -> None:
        """Start gunicorn and return once ``ready_path`` answers 200."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
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
                str(self.timeout),
                "--graceful-timeout",
                "10",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_session,
        )
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.base + self.ready_path, timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {ready_within:g} s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The master and its workers; none once it has stopped."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss_kb(self) -> int:
        """VmRSS of the master and its workers, summed."""
        return sum(status_kb(pid, "VmRSS") for pid in self.pids())

    def stop(self) -> None:
        """SIGTERM and wait for the graceful stop; a master that hangs is killed, and its workers with it."""
        if self.proc is not None and self.proc.poll() is None:
            workers = children(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                for pid in workers:  # orphaned by the kill; only if it is still a gunicorn
                    with contextlib.suppress(OSError):
                        if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                            os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class S3Server:
    """moto's S3 server (``moto[server]``) on a free 127.0.0.1 port, holding everything in memory.

    ``env(bucket)`` is the environment that keeps an app's files in ``bucket`` on it, which
    ``bucket()`` makes (empty, private)."""

    KEYS = {"S3_ACCESS_KEY_ID": "test-key", "S3_SECRET_ACCESS_KEY": "test-secret"}  # moto takes any

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, *, ready_within: float = 30) -> None:
        binary = VENV_BIN / "moto_server"
        if not binary.exists():
            raise FileNotFoundError("moto's server is not installed: pip install 'moto[server]'")
        self.proc = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + ready_within
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not start (exit code {self.proc.poll()})") from None
                time.sleep(0.1)

    @classmethod
    def client_of(cls, endpoint: str):
        """A boto3 S3 client of the moto server at ``endpoint``."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=cls.KEYS["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=cls.KEYS["S3_SECRET_ACCESS_KEY"],
        )

    def client(self):
        return self.client_of(self.endpoint)

    def bucket(self) -> str:
        name = f"bb-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str) -> dict[str, str]:
        return {"S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.endpoint, "S3_REGION": "us-east-1", **self.KEYS}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of the server's processes every ``interval`` s, and each one's VmHWM."""

    def __init__(self, server: Server, interval: float = 0.05):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak_sum_kb = 0
        self.hwm_kb: dict[int, int] = {}  # per-process VmHWM, last seen
        self._halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in self.server.pids():
            total += status_kb(pid, "VmRSS")
            hwm = status_kb(pid, "VmHWM")
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


def login(base: str, email: str, password: str) -> requests.Session:
    """A session logged in through the login form, as a person would (session cookie + CSRF cookie)."""
    session = requests.Session()
    session.get(base + LOGIN_PATH, timeout=30).raise_for_status()
    r = session.post(
        base + LOGIN_PATH,
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken"),
            "next": "/",
        },
        headers={"Referer": base + LOGIN_PATH},
        allow_redirects=False,
        timeout=30,
    )
    if r.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"login through the form failed: HTTP {r.status_code}")
    return session


# --- numbers and the host ----------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def load_averages() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``0.52 0.61 0.70``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_pressure() -> str:
    """The host's CPU pressure (Linux PSI): the share of time runnable tasks waited for a CPU."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "CPU pressure n/a"
    values = dict(part.split("=") for part in line.split()[1:])
    return f"CPU pressure {float(values['avg10']):.0f}% (10 s) / {float(values['avg60']):.0f}% (60 s)"


def host_load() -> str:
    """``load average 1.23, CPU pressure 4% (10 s) / 3% (60 s)``: how busy the machine is right now."""
    return f"load average {os.getloadavg()[0]:.2f}, {cpu_pressure()}"
