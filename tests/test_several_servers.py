"""Two app servers behind one database and one Redis, as a team behind a load balancer runs them.

Each server is its own gunicorn process with its own local folder (VAR_DIR); they share the
database (a fresh one on the PostgreSQL server the tests use, or a SQLite file) and a real
``redis-server``. Everything is checked through HTTP.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest
import redis
import requests
from PIL import Image as PILImage

from bench._harness import ROOT, Server, bench_env, login, manage
from config.settings import cache_settings
from tests.services import S3_KEYS, empty_database, new_bucket, redis_server

SEED = """
from accounts.models import Membership, User, Workspace
from accounts.roles import Role
from accounts.services import create_api_key
from boards.models import Batch, Project

user = User.objects.create_user(email="manager@acme.test", password="a-Long-pass-2026")
workspace = Workspace.objects.create(name="Acme", slug="acme")
Membership.objects.create(user=user, workspace=workspace, role=Role.MANAGER)
project = Project.objects.create(workspace=workspace, name="Parcels", slug="parcels")
for n in range(3):
    Batch.objects.create(project=project, name=f"Upload {n}")
for name, scopes in (("counted", ["read"]), ("uploader", ["read", "upload"])):
    key, raw = create_api_key(workspace=workspace, actor=user, name=name, scopes=scopes)
    print(raw)
"""


def test_without_redis_url_each_process_keeps_its_own_caches():
    caches = cache_settings("", 500)
    assert {c["BACKEND"] for c in caches.values()} == {"django.core.cache.backends.locmem.LocMemCache"}
    assert caches["boards"]["OPTIONS"]["MAX_ENTRIES"] == 500


def test_with_redis_url_both_caches_share_that_redis_under_their_own_prefixes():
    caches = cache_settings("redis://cache.internal:6379/2", 500)
    assert {c["BACKEND"] for c in caches.values()} == {"django.core.cache.backends.redis.RedisCache"}
    assert {c["LOCATION"] for c in caches.values()} == {"redis://cache.internal:6379/2"}
    assert caches["default"]["KEY_PREFIX"] != caches["boards"]["KEY_PREFIX"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_endpoint):
    folder = tmp_path_factory.mktemp("servers")
    bucket = new_bucket(s3_endpoint)
    with redis_server() as redis_url, empty_database(folder) as database_url:
        envs = []
        for name in ("a", "b"):
            (folder / name).mkdir()
            envs.append(
                bench_env(
                    folder / name,
                    production=False,
                    database_url=database_url,
                    REDIS_URL=redis_url,
                    API_RATE_LIMIT="5",
                    API_RATE_WINDOW="3600",
                    S3_BUCKET=bucket,
                    S3_ENDPOINT_URL=s3_endpoint,
                    S3_REGION="us-east-1",
                    S3_ACCESS_KEY_ID=S3_KEYS["access_key"],
                    S3_SECRET_ACCESS_KEY=S3_KEYS["secret_key"],
                )
            )
        manage(envs[0], "migrate", "--noinput")
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED],
            cwd=ROOT,
            env=envs[0],
            capture_output=True,
            text=True,
            check=True,
        )
        counted_key, uploader_key = seeded.stdout.strip().splitlines()[-2:]
        servers = [Server(env, workers=1, threads=2, ready_path="/health/") for env in envs]
        try:
            for server in servers:
                server.start(ready_within=60)
            yield {
                "a": servers[0],
                "b": servers[1],
                "key": counted_key,
                "uploader": uploader_key,
                "redis": redis.Redis.from_url(redis_url),
                "folders": [folder / "a", folder / "b"],
            }
        finally:
            for server in servers:
                server.stop()


def test_a_rate_limit_of_5_holds_exactly_across_both_servers(cluster):
    statuses = []
    for n in range(10):
        server = cluster["a"] if n % 2 == 0 else cluster["b"]
        r = requests.get(f"{server.base}/api/acme", params={"api_key": cluster["key"]}, timeout=30)
        statuses.append(r.status_code)
    assert sorted(statuses) == [200] * 5 + [429] * 5
    assert statuses[:5] == [200] * 5  # the first five pass, whichever server took them


def test_an_image_uploaded_through_one_server_is_served_by_the_other(cluster):
    photo = io.BytesIO()
    PILImage.effect_noise((200, 150), 50).convert("RGB").save(photo, "JPEG")
    sent = photo.getvalue()
    key = {"api_key": cluster["uploader"]}
    r = requests.post(
        f"{cluster['a'].base}/api/dataset/parcels/upload",
        params=key | {"name": "dock.jpg"},
        files={"file": ("dock.jpg", sent, "image/jpeg")},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    image_id = r.json()["id"]

    on_b = f"{cluster['b'].base}/api/acme/parcels/images/{image_id}"
    original = requests.get(f"{on_b}/original", params=key, timeout=30, allow_redirects=False)
    assert original.status_code == 302  # to the bucket, signed
    assert requests.get(original.headers["Location"], timeout=30).content == sent
    thumb = requests.get(f"{on_b}/thumb", params=key, timeout=30)
    assert thumb.status_code == 200
    with PILImage.open(io.BytesIO(thumb.content)) as shown:
        assert max(shown.size) <= 256
    for folder in cluster["folders"]:  # neither server kept a file of its own
        assert not [p for p in (folder / "media").rglob("*") if p.is_file()]


def test_each_server_reports_itself_healthy_with_the_shared_cache(cluster):
    for server in (cluster["a"], cluster["b"]):
        r = requests.get(f"{server.base}/health/", headers={"Accept": "application/json"}, timeout=30)
        assert r.status_code == 200
        assert set(r.json().values()) == {"OK"}
        assert len(r.json()) == 4


def test_a_board_one_server_rendered_is_reused_by_the_other(cluster):
    board = "/w/acme/p/parcels/"
    on_a = login(cluster["a"].base, "manager@acme.test", "a-Long-pass-2026")
    first = on_a.get(cluster["a"].base + board, timeout=30)
    assert first.status_code == 200
    assert "Upload 2" in first.text
    store = cluster["redis"]

    def board_entries() -> set[bytes]:  # not the health checks' probes, which come and go
        return {key for key in store.keys("bb-boards:*") if b"djangohealthcheck" not in key}

    cached = board_entries()
    assert cached  # the cards and the board went to Redis
    time_left = {key: store.pttl(key) for key in cached}
    time.sleep(1.2)

    on_b = requests.Session()
    on_b.cookies.update(on_a.cookies)  # sessions live in the database: one login serves both
    second = on_b.get(cluster["b"].base + board, timeout=30)
    assert second.status_code == 200
    assert "Upload 2" in second.text
    # B drew nothing and stored nothing: every entry A stored is there, none rewritten (each has
    # a second less to live), and there are no others.
    assert board_entries() == cached
    for key, before in time_left.items():
        assert 0 < store.pttl(key) <= before - 1000, key
