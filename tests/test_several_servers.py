"""Two app servers and a worker over one database, one Redis and one S3 store, as a team behind a
load balancer runs them.

Each server is its own gunicorn process with its own local folder (VAR_DIR), and the worker is a
``manage.py db_worker`` process with a third; they share the database (a fresh one on the
PostgreSQL server the tests use, or a SQLite file), a real ``redis-server`` and moto's S3 server.
Everything is checked through HTTP.
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import redis
import requests
from PIL import Image as PILImage

from bench._harness import ROOT, Server, bench_env, login, manage
from config.settings import cache_settings
from tests.services import S3_KEYS, empty_database, new_bucket, redis_server

DATASET = 45  # noisy 1200×900 photos, about 1 MB each: an export takes a worker a few seconds
PAGE = 3  # images an export reads per step (EXPORT_PAGE_SIZE): progress every 3 images
SEED = """
import io
DATASET = __DATASET__
from accounts.models import Membership, User, Workspace
from accounts.roles import Role
from accounts.services import create_api_key
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from boards import services
from boards.models import Batch, BatchStatus, Project

user = User.objects.create_user(email="manager@acme.test", password="a-Long-pass-2026")
workspace = Workspace.objects.create(name="Acme", slug="acme")
Membership.objects.create(user=user, workspace=workspace, role=Role.MANAGER)
project = Project.objects.create(workspace=workspace, name="Parcels", slug="parcels", review_mode=False)
for n in range(3):
    Batch.objects.create(project=project, name=f"Upload {n}")


def photo(n):
    out = io.BytesIO()
    PILImage.effect_noise((1200, 900), 60).convert("RGB").save(out, "JPEG", quality=95)
    return SimpleUploadedFile(f"shelf-{n:02d}.jpg", out.getvalue())


photos = [photo(n) for n in range(DATASET)]
done = services.upload_images(project=project, actor=user, files=photos, batch_name="Shelves")
Batch.objects.filter(pk=done.batch.pk).update(status=BatchStatus.DATASET)
for name, scopes in (("counted", ["read"]), ("uploader", ["read", "upload"])):
    key, raw = create_api_key(workspace=workspace, actor=user, name=name, scopes=scopes)
    print(raw)
""".replace("__DATASET__", str(DATASET))


class Worker:
    """``manage.py db_worker`` in its own process, as production runs it; ``kill`` is a SIGKILL."""

    def __init__(self, env: dict[str, str]):
        self.env, self.proc = env, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(f"{self.env['VAR_DIR']}/worker.log", "ab"),  # noqa: SIM115 - the child keeps it
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


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
        for name in ("a", "b", "worker"):
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
                    EXPORT_PAGE_SIZE=str(PAGE),
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
        servers = [Server(env, workers=1, threads=2, ready_path="/health/") for env in envs[:2]]
        worker = Worker(envs[2])
        try:
            for server in servers:
                server.start(ready_within=60)
            worker.start()
            yield {
                "a": servers[0],
                "b": servers[1],
                "worker": worker,
                "key": counted_key,
                "uploader": uploader_key,
                "redis": redis.Redis.from_url(redis_url),
                "folders": [folder / "a", folder / "b", folder / "worker"],
            }
        finally:
            worker.stop()
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


PASSWORD = "a-Long-pass-2026"


def tasks(server, session) -> dict[int, tuple[str, int]]:
    """{task id: (status, images done)} as the Tasks page lists them."""
    page = session.get(f"{server.base}/w/acme/p/parcels/tasks/", headers={"HX-Request": "true"}, timeout=30)
    assert page.status_code == 200
    found = {}
    for pk, status, rest in re.findall(
        r'<tr id="task-(\d+)" class="task-\w+" data-status="(\w+)">(.*?)</tr>', page.text, re.S
    ):
        done = re.search(r"(\d+) of \d+ image", rest)
        found[int(pk)] = (status, int(done.group(1)) if done else 0)
    return found


def export_on(server, session, fmt="yolo") -> int:
    before = set(tasks(server, session))
    form = session.get(f"{server.base}/w/acme/p/parcels/export/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    r = session.post(
        f"{server.base}/w/acme/p/parcels/export/start",
        data={"csrfmiddlewaretoken": token, "run": "background", "format": fmt, "seed": "1"},
        timeout=30,
    )
    assert r.status_code == 200 and r.url.endswith("/tasks/"), r.text[:500]
    [new] = set(tasks(server, session)) - before
    return new


def wait_for(server, session, task_id: int, accept, seconds: float = 90) -> tuple[str, int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = tasks(server, session)[task_id]
        if accept(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still {state} after {seconds} s")


def downloaded(server, session, task_id: int) -> zipfile.ZipFile:
    r = session.get(f"{server.base}/w/acme/p/parcels/tasks/{task_id}/download", allow_redirects=False, timeout=30)
    assert r.status_code == 302  # to the bucket, signed
    body = requests.get(r.headers["Location"], timeout=60)
    assert body.status_code == 200
    assert "attachment" in body.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(body.content))
    assert archive.testzip() is None  # every member whole
    return archive


def test_an_export_asked_of_one_server_is_built_by_the_worker_and_downloads_whole_from_the_other(cluster):
    on_b = login(cluster["b"].base, "manager@acme.test", PASSWORD)
    task_id = export_on(cluster["b"], on_b)
    assert wait_for(cluster["b"], on_b, task_id, lambda s: s[0] != "queued" and s[0] != "running") == ("done", DATASET)

    on_a = requests.Session()
    on_a.cookies.update(on_b.cookies)
    archive = downloaded(cluster["a"], on_a, task_id)
    images = [n for n in archive.namelist() if n.startswith("images/")]
    assert len(images) == DATASET
    assert all(archive.getinfo(n).file_size > 500_000 for n in images)
    for folder in cluster["folders"]:  # nothing kept on any machine's own disk
        assert not [p for p in (folder / "media").rglob("*") if p.is_file()]


def test_a_worker_killed_mid_export_leaves_it_to_run_again_and_the_next_one_succeeds(cluster):
    on_a = login(cluster["a"].base, "manager@acme.test", PASSWORD)
    first = export_on(cluster["a"], on_a)
    status, done = wait_for(cluster["a"], on_a, first, lambda s: s[0] == "running" and s[1] >= PAGE)
    cluster["worker"].kill()
    # The next look at the Tasks page (or a new export) finds that the task's worker is gone (on
    # PostgreSQL its lock is free, on SQLite its process is) and queues the task again.
    assert tasks(cluster["a"], on_a)[first] == ("queued", 0)
    second = export_on(cluster["b"], on_a)
    cluster["worker"].start()
    for task_id in (first, second):
        assert wait_for(cluster["a"], on_a, task_id, lambda s: s[0] not in ("queued", "running")) == ("done", DATASET)
        assert (
            len([n for n in downloaded(cluster["a"], on_a, task_id).namelist() if n.startswith("images/")]) == DATASET
        )
