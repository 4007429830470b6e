"""Real servers for the tests that need them: Redis, an S3 server, and a database of their own for
app servers.

Each starts the real program on this machine (Debian's ``redis-server``, moto's S3 server in its
server mode), listening on a unix socket or loopback only, keeping nothing on disk, and stops it
afterwards. When the program is not installed the test skips and says so; ``.ci/run`` installs
every one of them, so there none skips: it sets ``REQUIRE_TEST_SERVICES=1``, which turns a
missing program into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._harness import S3Server


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server on a unix socket of its own, persisting nothing; yields its ``unix://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it")
    folder = Path(tempfile.mkdtemp(prefix="bb-redis-"))
    socket = folder / "redis.sock"
    process = subprocess.Popen(
        [
            binary,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start (exit code {process.poll()})")
            time.sleep(0.05)
        yield f"unix://{socket}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


S3_KEYS = {"access_key": S3Server.KEYS["S3_ACCESS_KEY_ID"], "secret_key": S3Server.KEYS["S3_SECRET_ACCESS_KEY"]}


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port, holding everything in memory; yields its endpoint URL."""
    server = S3Server()
    try:
        server.start()
    except FileNotFoundError as missing:
        _missing(f"{missing} (in requirements-dev.txt)")
    except RuntimeError as failed:
        pytest.fail(str(failed))
    try:
        yield server.endpoint
    finally:
        server.stop()


def new_bucket(endpoint: str) -> str:
    """A new, empty, private bucket on the S3 server at ``endpoint``; its name."""
    name = f"bb-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str):
    return S3Server.client_of(endpoint)


def psycopg_params(**changes) -> dict:
    """What psycopg needs to open a connection of its own to the database the tests use (PostgreSQL)."""
    from django.db import connection

    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return params | changes


def _missing(reason: str) -> None:
    if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def empty_database(folder: Path) -> Iterator[str]:
    """A database no test transaction holds, for app servers in other processes: a new database on
    the PostgreSQL server the tests use, or a SQLite file in ``folder``. Yields its URL; dropped after."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield f"sqlite:///{folder / 'servers.sqlite3'}"
        return
    import psycopg

    name = f"bb_servers_{uuid.uuid4().hex[:12]}"
    params = psycopg_params(dbname="postgres")
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _postgres_url(params | {"dbname": name})
    finally:
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url(params: dict) -> str:
    from urllib.parse import quote

    user = quote(params.get("user") or "", safe="")
    password = params.get("password")
    auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@" if user else ""
    host = quote(params.get("host") or "", safe="")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgres://{auth}{host}{port}/{params['dbname']}"
