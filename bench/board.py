"""Board benchmark: the Annotate board on a project of 1,000 batches and 250,000 images.

Prints numbers and the targets beside them; it never fails on a timing. Run
from the repository root:

    .venv/bin/python bench/board.py                                   # temp SQLite
    .venv/bin/python bench/board.py --runs 20 --batches 300 --images 50000
    .venv/bin/python bench/board.py --database-url postgres://user@%2Ftmp%2Fsock:5432/db   # an empty database

What it does:

1. A fresh temp VAR_DIR. Settings are production-like: DEBUG=0 with a
   SECRET_KEY and ALLOWED_HOSTS, SSL redirect and secure cookies off (the
   load runs over plain HTTP on loopback), ``collectstatic`` for the manifest
   storage; ``--debug`` runs with DEBUG=1 instead. ``manage.py migrate``, then
   one workspace, a manager and a labeler, and one review-mode project of
   ``--batches`` batches holding ``--images`` images over the four columns,
   written with bulk_create in chunks (fake file names, no files). A few big
   batches (25,000, 10,000 and 5,000 images) sit at priority 1, so they are on
   the board's first page; the others share the rest. Every batch outside
   Unassigned has a job. On PostgreSQL it runs ANALYZE after loading (what
   autovacuum would do soon after); on SQLite only with ``--analyze``.
2. In-process timings with django.test.Client logged in as the manager
   (``time.perf_counter`` around each request or service call, after warm-up
   runs, with the thread's CPU time beside it): a bare 50-row table view as a
   yardstick for the host, the board page (full and the htmx partial), the
   version poll, card moves through the move URL (each run a real transition, undone between runs
   through the services, or the ORM where no service exists), a 5,000-image
   subset assignment and a 25,000-image split (``services.assign`` with
   ``image_ids``, and the same through the move URL). One more untimed run of
   each counts its SQL queries. ``--profile`` also prints each measurement's
   slowest queries and a cProfile of one run.
3. gunicorn with 2 workers on a free 127.0.0.1 port (same env, same database);
   ``--load-threads`` client threads with requests.Session, logged in through
   the login form, GET the board for ``--load-seconds``. Prints requests/s and
   latencies, then stops the server.
4. A table of median and p95 beside the targets. Targets that name no
   percentile are judged on p95 too (the stricter reading).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from _harness import (
    ROOT,
    Server,
    bench_env,
    cpu_pressure,
    database_version,
    host_load,
    login,
    percentile,
    prepare,
    temp_var_dir,
)

WS_SLUG = "bench"
PROJECT_SLUG = "board"
MANAGER_EMAIL = "manager@bench.test"
LABELER_EMAIL = "labeler@bench.test"
PASSWORD = "bench-password-not-secret"
FULL_SCALE_IMAGES = 250_000

# (key, status, images at full scale, priority)
BIG_BATCHES = [
    ("split", "unassigned", 25_000, 1),
    ("subset", "unassigned", 10_000, 1),
    ("annotating-5k", "annotating", 5_000, 1),
    ("review-5k", "review", 5_000, 1),
    ("dataset-25k", "dataset", 25_000, 1),
]
COLUMN_SHARE = [("unassigned", 0.35), ("annotating", 0.30), ("review", 0.15), ("dataset", 0.20)]


# --- data ----------------------------------------------------------------------


@dataclass
class Fixture:
    manager: object
    labeler: object
    project: object
    big: dict[str, int]  # key -> batch id
    move_annotating: int  # a typical Annotating batch
    move_unassigned: int  # a typical Unassigned batch
    sizes: dict[int, int]  # batch id -> images
    column_batches: dict[str, int]
    column_images: dict[str, int]
    build_seconds: float = 0.0


def _split_sizes(total: int, n: int, rng: random.Random, cap: int) -> list[int]:
    """``n`` sizes of at least 1 summing to ``total``, spread like real uploads (log-normal)."""
    if n <= 0:
        return []
    weights = [rng.lognormvariate(0, 0.9) for _ in range(n)]
    scale = (total - n) / sum(weights)
    sizes = [1 + int(w * scale) for w in weights]
    short = total - sum(sizes)
    i = 0
    while short > 0:
        if sizes[i % n] < cap:
            sizes[i % n] += 1
            short -= 1
        i += 1
    return [min(s, cap) for s in sizes]


def image_row(project, batch, status: str, n: int, j: int, *, done: int, reviewed: int):
    """The ``j``-th image of a batch in ``status`` (the ``n``-th of the project), unsaved: the first ``done``
    annotated (one in 17 marked empty), the first ``reviewed`` decided (one in 11 rejected while in Review)."""
    import hashlib

    from boards.models import AnnotationState, BatchStatus, Image, ReviewState

    sha = hashlib.sha256(f"bench-{n}".encode()).hexdigest()
    annotation = AnnotationState.UNANNOTATED
    if j < done:
        annotation = AnnotationState.EMPTY if j % 17 == 0 else AnnotationState.ANNOTATED
    review = ReviewState.PENDING
    if j < reviewed:
        review = ReviewState.REJECTED if status == BatchStatus.REVIEW and j % 11 == 0 else ReviewState.APPROVED
    return Image(
        project=project,
        batch=batch,
        file=f"images/{project.pk}/{sha[:2]}/{sha}.jpg",
        thumbnail=f"thumbs/{project.pk}/{sha[:2]}/{sha}.jpg",
        width=1024,
        height=768,
        sha256=sha,
        original_filename=f"IMG_{n:07d}.jpg",
        uploaded_at=batch.uploaded_at,
        annotation_state=annotation,
        review_state=review,
    )


def add_batches(project, plan, *, manager, labeler, rng, now, earlier_cancelled: float = 0.0) -> list:
    """The batches of ``plan`` ((name, status, priority) each), bulk-created, with a job for each one
    outside Unassigned (``labeler`` labels, ``manager`` reviews; an earlier cancelled job before it for
    ``earlier_cancelled`` of them) and the events a board would have written."""
    from boards.models import Batch, BatchEvent, BatchSource, BatchStatus, EventKind, Job, JobState

    batches = [
        Batch(
            project=project,
            name=name,
            priority=priority,
            status=status,
            source=BatchSource.WEB,
            uploaded_at=now - timedelta(minutes=rng.randint(5, 120 * 24 * 60)),
            created_by=manager,
        )
        for name, status, priority in plan
    ]
    Batch.objects.bulk_create(batches, batch_size=500)
    if batches[0].pk is None:  # backends that return no ids from bulk_create
        by_name = dict(Batch.objects.filter(project=project).values_list("name", "pk"))
        for b in batches:
            b.pk = b.id = by_name[b.name]
    jobs, events = [], []
    for b in batches:
        events.append(
            BatchEvent(project=project, batch=b, batch_name=b.name, kind=EventKind.CREATED, to_status="unassigned")
        )
        if b.status == BatchStatus.UNASSIGNED:
            continue
        state = {
            BatchStatus.ANNOTATING: JobState.ANNOTATING,
            BatchStatus.REVIEW: JobState.IN_REVIEW,
            BatchStatus.DATASET: JobState.COMPLETE,
        }[b.status]
        if earlier_cancelled and rng.random() < earlier_cancelled:  # an earlier assignment, taken back
            jobs.append(
                Job(
                    batch=b,
                    name=b.name,
                    labeler=labeler,
                    state=JobState.CANCELLED,
                    created_by=manager,
                    created_at=b.uploaded_at,
                )
            )
        jobs.append(
            Job(
                batch=b,
                name=b.name,
                labeler=labeler,
                reviewer=manager if b.status != BatchStatus.ANNOTATING else None,
                state=state,
                created_by=manager,
                created_at=b.uploaded_at + timedelta(minutes=1),
            )
        )
        events.append(
            BatchEvent(
                project=project,
                batch=b,
                batch_name=b.name,
                kind=EventKind.ASSIGNED,
                from_status="unassigned",
                to_status="annotating",
                actor=manager,
            )
        )
    Job.objects.bulk_create(jobs, batch_size=500)
    BatchEvent.objects.bulk_create(events, batch_size=500)
    return batches


def add_images(project, batches, shapes, rng, chunk_size: int, *, fresh=frozenset()) -> None:
    """Each batch's images ((status, size) each in ``shapes``), bulk-created ``chunk_size`` at a time:
    annotated and reviewed in the shares of the column the status names, the batches at the indexes
    in ``fresh`` unlabeled (fresh uploads)."""
    from boards.models import BatchStatus, Image

    chunk: list = []
    n = 0
    for i, (b, (status, size)) in enumerate(zip(batches, shapes, strict=True)):
        done = size if status in (BatchStatus.REVIEW, BatchStatus.DATASET) else 0
        if status == BatchStatus.ANNOTATING and i not in fresh:
            done = int(size * rng.random())
        reviewed = {BatchStatus.REVIEW: int(size * rng.random()), BatchStatus.DATASET: size}.get(status, 0)
        for j in range(size):
            chunk.append(image_row(project, b, status, n, j, done=done, reviewed=reviewed))
            n += 1
            if len(chunk) >= chunk_size:
                Image.objects.bulk_create(chunk)
                chunk.clear()
    if chunk:
        Image.objects.bulk_create(chunk)


def build(args) -> Fixture:

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, User, Workspace
    from accounts.roles import Role
    from boards.models import (
        MAX_BATCH_IMAGES,
        Batch,
        BatchStatus,
        Project,
    )

    if Batch.objects.exists() or Workspace.objects.filter(slug=WS_SLUG).exists():
        raise SystemExit("The database is not empty: give --database-url an empty database.")

    t0 = time.perf_counter()
    rng = random.Random(args.seed)
    now = timezone.now()
    scale = min(1.0, args.images / FULL_SCALE_IMAGES)
    big_sizes = {key: max(2, int(n * scale)) for key, _s, n, _p in BIG_BATCHES}
    if sum(big_sizes.values()) >= args.images - args.batches:
        raise SystemExit("--images is too small for --batches (the big batches alone need more).")

    # Which column each ordinary batch goes to.
    others = args.batches - len(BIG_BATCHES)
    plan: list[tuple[str, str, int, int]] = []  # (name, status, size, priority)
    counts = {s: round(others * share) for s, share in COLUMN_SHARE}
    counts["unassigned"] += others - sum(counts.values())
    statuses = [s for s, _ in COLUMN_SHARE for _ in range(counts[s])]
    rng.shuffle(statuses)
    sizes = _split_sizes(args.images - sum(big_sizes.values()), others, rng, MAX_BATCH_IMAGES)
    for i, (status, size) in enumerate(zip(statuses, sizes, strict=True)):
        plan.append((f"Route {i + 1:04d}", status, size, rng.randint(1, 5)))
    for key, status, _n, priority in BIG_BATCHES:
        plan.append((f"Big {key}", status, big_sizes[key], priority))

    with transaction.atomic():
        workspace = Workspace.objects.create(name="Bench", slug=WS_SLUG)
        manager = User.objects.create_user(MANAGER_EMAIL, PASSWORD, full_name="Mara Manager")
        labeler = User.objects.create_user(LABELER_EMAIL, PASSWORD, full_name="Lena Labeler")
        Membership.objects.create(workspace=workspace, user=manager, role=Role.MANAGER)
        Membership.objects.create(workspace=workspace, user=labeler, role=Role.LABELER)
        project = Project.objects.create(workspace=workspace, name="Board bench", slug=PROJECT_SLUG, review_mode=True)

        batches = add_batches(
            project,
            [(name, status, priority) for name, status, _size, priority in plan],
            manager=manager,
            labeler=labeler,
            rng=rng,
            now=now,
            earlier_cancelled=0.1,
        )
        add_images(project, batches, [(status, size) for _n, status, size, _p in plan], rng, args.chunk)
    # The services store each batch's card counts whenever its images change;
    # rows loaded in bulk get theirs here, as after an upload or a split.
    from boards.services import mark_changed

    mark_changed(*(b.pk for b in batches))

    if connection.vendor == "postgresql" or args.analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    by_key = {key: b.pk for b, (key, *_rest) in zip(batches[-len(BIG_BATCHES) :], BIG_BATCHES, strict=True)}
    size_of = {b.pk: size for b, (_n, _s, size, _p) in zip(batches, plan, strict=True)}

    def typical(status: str) -> int:
        ordinary = [b for b in batches[: -len(BIG_BATCHES)] if b.status == status]
        ordinary.sort(key=lambda b: size_of[b.pk])
        return ordinary[len(ordinary) // 2].pk

    column_batches = {s: sum(1 for b in batches if b.status == s) for s, _ in COLUMN_SHARE}
    column_images = {s: sum(size_of[b.pk] for b in batches if b.status == s) for s, _ in COLUMN_SHARE}
    return Fixture(
        manager=manager,
        labeler=labeler,
        project=project,
        big=by_key,
        move_annotating=typical(BatchStatus.ANNOTATING),
        move_unassigned=typical(BatchStatus.UNASSIGNED),
        sizes=size_of,
        column_batches=column_batches,
        column_images=column_images,
        build_seconds=time.perf_counter() - t0,
    )


# --- a reference view ------------------------------------------------------------

REFERENCE_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Batches</title></head><body>
<table><thead><tr><th>Name</th><th>Priority</th><th>Status</th><th>Uploaded</th><th>Source</th></tr></thead><tbody>
{% for b in rows %}<tr><td><a href="#b{{ b.pk }}">{{ b.name }}</a></td><td>{{ b.priority }}</td>
<td>{{ b.status }}</td><td>{{ b.uploaded_at|date:"M j, Y" }}</td><td>{{ b.source }}</td></tr>{% endfor %}
</tbody></table></body></html>"""


def reference_urlconf(project_id: int) -> str:
    """A URLconf with one bare view (a 50-row table) beside the app's own, to calibrate the host.

    The issue's yardstick: such a view takes about 18 ms p95 on the target machine.
    """
    import types

    from django.http import HttpResponse
    from django.template import engines
    from django.urls import include, path

    from boards.models import Batch

    template = engines["django"].from_string(REFERENCE_TEMPLATE)

    def table(request):
        rows = Batch.objects.filter(project_id=project_id).order_by("priority", "uploaded_at", "pk")[:50]
        return HttpResponse(template.render({"rows": rows}, request))

    module = types.ModuleType("bench_board_urls")
    module.urlpatterns = [path("bench/reference/", table), path("", include("config.urls"))]
    sys.modules[module.__name__] = module
    return module.__name__


# --- measuring -------------------------------------------------------------------


@dataclass
class Row:
    name: str
    target: str = ""
    limit_ms: float | None = None  # judged on p95
    times: list[float] = field(default_factory=list)  # seconds, wall clock
    cpu: list[float] = field(default_factory=list)  # seconds of this thread's CPU time
    queries: int | None = None
    note: str = ""
    errors: int = 0
    extra: str = ""  # replaces median/p95 (the load test)
    rate_ok: bool | None = None  # the load test's verdict

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.times, 0.95) * 1000

    @property
    def cpu_median_ms(self) -> float:
        return statistics.median(self.cpu) * 1000 if self.cpu else float("nan")

    def verdict(self) -> str:
        if self.errors:
            return f"{self.errors} ERRORS"
        if self.limit_ms is None or not self.times:
            return ""
        return "meets" if self.p95_ms <= self.limit_ms else "MISSES"


@dataclass
class Measure:
    """One thing to time: ``setup`` and ``reset`` run outside the clock."""

    row: Row
    run: object  # () -> result
    check: object  # (result) -> str | None, an error message
    setup: object = None  # () -> None
    reset: object = None  # () -> None


def measure(m: Measure, runs: int, warmup: int, profile_top: int) -> Row:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def once() -> tuple[float, float]:
        if m.setup:
            m.setup()
        c0 = time.thread_time()
        t0 = time.perf_counter()
        result = m.run()
        dt = time.perf_counter() - t0
        cpu = time.thread_time() - c0
        error = m.check(result)
        if m.reset:
            m.reset()
        if error:
            m.row.errors += 1
            if m.row.errors <= 3:
                print(f"  ! {m.row.name}: {error}", flush=True)
        return dt, cpu

    for _ in range(warmup):
        once()
    timings = [once() for _ in range(runs)]
    m.row.times = [wall for wall, _cpu in timings]
    m.row.cpu = [cpu for _wall, cpu in timings]

    # One more run, untimed, to count (and with --profile, show) its queries.
    if m.setup:
        m.setup()
    with CaptureQueriesContext(connection) as captured:
        result = m.run()
    m.check(result)
    if m.reset:
        m.reset()
    m.row.queries = len(captured.captured_queries)
    print(
        f"  {m.row.name}: median {m.row.median_ms:.1f} ms, p95 {m.row.p95_ms:.1f} ms, "
        f"CPU median {m.row.cpu_median_ms:.1f} ms, {m.row.queries} queries",
        flush=True,
    )
    if profile_top:
        slow = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)
        total = sum(float(q["time"]) for q in captured.captured_queries)
        print(f"    SQL: {len(slow)} queries, {total * 1000:.1f} ms in the database; slowest:")
        for q in slow[:6]:
            sql = " ".join(q["sql"].split())
            print(f"    {float(q['time']) * 1000:8.1f} ms  {sql[:400]}{'…' if len(sql) > 400 else ''}")
        if m.setup:
            m.setup()
        prof = cProfile.Profile()
        prof.enable()
        result = m.run()
        prof.disable()
        m.check(result)
        if m.reset:
            m.reset()
        for title, order, restrict in (
            ("own time", "tottime", ()),
            ("cumulative, project code only", "cumulative", (re.escape(str(ROOT)) + "/(boards|accounts|config)/",)),
        ):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(order).print_stats(*restrict, profile_top)
            lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
            start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
            print(f"    cProfile, by {title} (the profiler inflates Python-heavy parts):")
            for ln in lines[start:]:
                print("    " + ln.replace(str(ROOT) + "/", "")[:200])
    return m.row


def in_process(args, fx: Fixture) -> list[Row]:
    from django.core.cache import caches
    from django.test import Client
    from django.urls import reverse

    from boards import services
    from boards.models import UNARCHIVE, Batch, BatchStatus, Image, Job, JobState, Placement, place_free

    client = Client()
    client.force_login(fx.manager)
    htmx = {"HX-Request": "true"}
    board_url = reverse("board", args=[WS_SLUG, PROJECT_SLUG])
    rows: list[Row] = []

    def fresh(pk: int) -> Batch:
        return Batch.objects.get(pk=pk)

    def page_ok(marker: bytes):
        def check(r):
            if r.status_code != 200:
                return f"HTTP {r.status_code}"
            if marker not in r.content:
                return f"{marker!r} missing from the page"
            return None

        return check

    version_url = reverse("board-version", args=[WS_SLUG, PROJECT_SLUG])
    etag = [""]
    probe = client.get(board_url)
    cards = probe.content.count(b'class="batch-card')
    page_kb = len(probe.content) / 1024
    partial_kb = len(client.get(board_url, headers=htmx).content) / 1024

    measures = [
        Measure(
            Row(
                "Reference: bare 50-row table view",
                "(≈18 ms p95)",
                None,
                note="same middleware and session, no app code; the issue's yardstick for a 2-core machine",
            ),
            lambda: client.get("/bench/reference/"),
            lambda r: None if r.status_code == 200 and b"</table>" in r.content else f"HTTP {r.status_code}",
        ),
        Measure(
            Row(
                "Board page, full GET",
                "p95 ≤ 60 ms",
                60,
                note=f"{cards} cards, {page_kb:.0f} kB; nothing changed since the last GET (the rendered board "
                "is reused)",
            ),
            lambda: client.get(board_url),
            page_ok(b'id="column-review"'),
        ),
        Measure(
            Row(
                "Board page, full GET, one card changed",
                "p95 ≤ 60 ms",
                60,
                note="the 5,000-image Annotating batch changed since the last GET (as a service leaves it, "
                "its counts stored): its card and the board are rendered again, the other cards come from the cache",
            ),
            lambda: client.get(board_url),
            page_ok(b'id="column-review"'),
            setup=lambda: services.mark_changed(fx.big["annotating-5k"]),
        ),
        Measure(
            Row(
                "Board page, full GET, nothing cached",
                "p95 ≤ 60 ms",
                60,
                note="the board cache emptied before each run (as after a server start): every card loaded "
                "and rendered, from the counts the services stored",
            ),
            lambda: client.get(board_url),
            page_ok(b'id="column-review"'),
            setup=lambda: caches["boards"].clear(),
        ),
        Measure(
            Row("Board page, htmx partial", "p95 ≤ 60 ms", 60, note=f"{partial_kb:.0f} kB"),
            lambda: client.get(board_url, headers=htmx),
            page_ok(b'id="board"'),
        ),
        Measure(
            Row("Board version poll (304)", "", None, note="If-None-Match with the current ETag"),
            lambda: client.get(version_url, headers={"If-None-Match": etag[0]}),
            lambda r: None if r.status_code == 304 else f"HTTP {r.status_code}",
            setup=lambda: etag.__setitem__(0, client.get(version_url)["ETag"]),
        ),
    ]

    # Card moves. Annotating -> Unassigned (keep annotations), undone with services.assign.
    a_pk = fx.move_annotating
    a_url = reverse("move", args=[WS_SLUG, PROJECT_SLUG, a_pk])

    def reassign() -> None:
        services.assign(batch=fresh(a_pk), actor=fx.manager, labeler=fx.labeler)
        Job.objects.filter(batch_id=a_pk, state=JobState.CANCELLED).delete()

    def moved_to(pk: int, status: str, code: int):
        def check(r):
            if r.status_code != code:
                return f"HTTP {r.status_code}: {r.content[:200]!r}"
            now = Batch.objects.filter(pk=pk).values_list("status", flat=True).first()
            return None if now == status else f"batch is {now}, expected {status}"

        return check

    n_a = fx.sizes[a_pk]
    measures += [
        Measure(
            Row(
                "Card move, htmx POST",
                "p95 ≤ 30 ms",
                30,
                note=f"Annotating→Unassigned, keep annotations, {n_a} images; answers with the board",
            ),
            lambda: client.post(a_url, {"to": "unassigned", "keep_annotations": "1"}, headers=htmx),
            moved_to(a_pk, BatchStatus.UNASSIGNED, 200),
            reset=reassign,
        ),
        Measure(
            Row("Card move, plain form POST", "p95 ≤ 30 ms", 30, note="same move; answers 302"),
            lambda: client.post(a_url, {"to": "unassigned", "keep_annotations": "1"}),
            moved_to(a_pk, BatchStatus.UNASSIGNED, 302),
            reset=reassign,
        ),
    ]

    # Unassigned -> Archived; there is no restore service, so the ORM undoes it.
    u_pk = fx.move_unassigned
    u_url = reverse("move", args=[WS_SLUG, PROJECT_SLUG, u_pk])

    def unarchive() -> None:
        place_free(Image.objects.filter(archived_from_id=u_pk), Batch.objects.get(pk=u_pk), setting=UNARCHIVE)
        Batch.objects.filter(pk=u_pk).update(status=BatchStatus.UNASSIGNED)

    measures.append(
        Measure(
            Row(
                "Card move, htmx POST (archive)",
                "p95 ≤ 30 ms",
                30,
                note=f"Unassigned→Archived, {fx.sizes[u_pk]} images",
            ),
            # Confirmed, as the board's dialog sends it: unconfirmed, the move asks first.
            lambda: client.post(u_url, {"to": "archived", "confirm": "yes"}, headers=htmx),
            moved_to(u_pk, BatchStatus.ARCHIVED, 200),
            reset=unarchive,
        )
    )

    # Assignments of a selection: the rest splits off into a new Unassigned batch.
    def undo_split(pk: int) -> None:
        batch = fresh(pk)
        if batch.status == BatchStatus.ANNOTATING:
            services.move_to_unassigned(batch=batch, actor=fx.manager, keep_annotations=True)
        for rest in Batch.objects.filter(split_from_id=pk):
            Placement.objects.filter(batch=rest).update(batch_id=pk)
            rest.delete()
        Job.objects.filter(batch_id=pk).delete()

    def split_ok(pk: int, total: int, selected: int):
        def check(result):
            if getattr(result, "status_code", 200) not in (200, 302):
                return f"HTTP {result.status_code}: {result.content[:200]!r}"
            rest = Batch.objects.filter(split_from_id=pk).first()
            kept = Placement.objects.filter(batch_id=pk).count()
            left = Placement.objects.filter(batch=rest).count() if rest else 0
            status = fresh(pk).status
            if status != BatchStatus.ANNOTATING or kept != selected or left != total - selected:
                return (
                    f"after the split: {status}, {kept} assigned, {left} left (expected {selected}/{total - selected})"
                )
            return None

        return check

    def assignment(key: str, selected: int, label: str, target: str, limit: float) -> list[Measure]:
        pk = fx.big[key]
        total = fx.sizes[pk]
        ids = list(Placement.objects.filter(batch_id=pk).order_by("image_id").values_list("image_id", flat=True))
        chosen = ids[::2][:selected] if selected <= len(ids) // 2 else ids[:selected]
        how = "the first" if chosen == ids[:selected] else "every other image"
        holder: dict[str, Batch] = {}

        def setup() -> None:
            # One image saved first, on the same connection, as the editor saves them all day: a
            # database that plans the next move by the last statement's size shows it here.
            Image.objects.filter(pk=ids[0]).update(review_comment="")
            holder["b"] = fresh(pk)

        move_url = reverse("move", args=[WS_SLUG, PROJECT_SLUG, pk])
        form = {
            "to": "annotating",
            "labeler": str(fx.labeler.pk),
            "selection": "first",
            "first": str(selected),
        }
        return [
            Measure(
                Row(
                    f"{label}, services.assign",
                    target,
                    limit,
                    note=f"{selected:,} of {total:,} selected ({how}), {total - selected:,} split off",
                ),
                lambda: services.assign(batch=holder["b"], actor=fx.manager, labeler=fx.labeler, image_ids=chosen),
                split_ok(pk, total, selected),
                setup=setup,
                reset=lambda: undo_split(pk),
            ),
            Measure(
                Row(
                    f"{label}, htmx POST move",
                    "",
                    None,
                    note=f"selection=first&first={selected}; request incl. the board re-render",
                ),
                lambda: client.post(move_url, form, headers=htmx),
                split_ok(pk, total, selected),
                setup=setup,
                reset=lambda: undo_split(pk),
            ),
        ]

    subset_total = fx.sizes[fx.big["subset"]]
    split_total = fx.sizes[fx.big["split"]]
    measures += assignment(
        "subset", min(5_000, subset_total // 2), f"{min(5_000, subset_total // 2):,}-image assignment", "≤ 200 ms", 200
    )
    measures += assignment("split", split_total // 2, f"{split_total:,}-image split", "< 0.5 s", 500)

    from django.test.utils import override_settings

    with override_settings(ROOT_URLCONF=reference_urlconf(fx.project.pk)):
        for m in measures:
            rows.append(measure(m, args.runs, args.warmup, args.profile))
    return rows


# --- gunicorn ------------------------------------------------------------------


def load_test(args, env: dict) -> Row:
    import requests

    row = Row(
        f"Board requests/s, gunicorn -w {args.workers}",
        "≥ 100 req/s",
        None,
        note=f"{args.load_threads} client threads in this process, {args.load_seconds:g} s, full page",
    )
    # gunicorn's default 30 s worker timeout; its own session, so that it gets a CPU share of its own.
    with Server(env, workers=args.workers, timeout=30, own_session=True) as server:
        board = f"{server.base}/w/{WS_SLUG}/p/{PROJECT_SLUG}/"
        logged_in = login(server.base, MANAGER_EMAIL, PASSWORD)

        sessions = []
        for _ in range(args.load_threads):
            s = requests.Session()
            s.cookies.update(logged_in.cookies)
            sessions.append(s)
        # Warm both workers (templates, connections).
        for _ in range(4 * args.workers):
            sessions[0].get(board, timeout=30)

        latencies: list[list[float]] = [[] for _ in sessions]
        errors = [0] * len(sessions)
        stop_at = [0.0]
        start = threading.Barrier(len(sessions) + 1)

        def worker(i: int) -> None:
            s = sessions[i]
            start.wait()
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                try:
                    resp = s.get(board, timeout=30)
                    ok = resp.status_code == 200 and b'id="board"' in resp.content
                except requests.RequestException:
                    ok = False
                if ok:
                    latencies[i].append(time.perf_counter() - t0)
                else:
                    errors[i] += 1

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(sessions))]
        for t in threads:
            t.start()
        cpu0 = server.cpu_seconds()
        client_cpu0 = time.process_time()
        load0 = os.getloadavg()[0]
        pressure = cpu_pressure()
        t_start = time.perf_counter()
        stop_at[0] = t_start + args.load_seconds
        start.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t_start
        server_cpu = server.cpu_seconds() - cpu0
        client_cpu = time.process_time() - client_cpu0
        all_lat = [x for lat in latencies for x in lat]
        row.times = all_lat
        row.errors = sum(errors)
        rps = len(all_lat) / elapsed
        row.extra = f"{rps:.0f} req/s"
        per_request = server_cpu / max(1, len(all_lat) + row.errors)
        ceiling = min(args.workers, os.cpu_count() or 1) / per_request if per_request else float("nan")
        row.note += (
            f"; {len(all_lat)} OK in {elapsed:.1f} s, latency median {statistics.median(all_lat) * 1000:.0f} ms"
            f" p95 {percentile(all_lat, 0.95) * 1000:.0f} ms; server CPU {server_cpu / elapsed * 100:.0f}% of one"
            f" core ({per_request * 1000:.0f} ms per request, so at most ~{ceiling:.0f} req/s with"
            f" {min(args.workers, os.cpu_count() or 1)} cores to itself), client CPU {client_cpu / elapsed * 100:.0f}%;"
            f" load {load0:.2f}, {pressure}"
        )
        row.rate_ok = rps >= 100
        print(f"  {row.name}: {rps:.1f} req/s", flush=True)
    return row


# --- output --------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    """The table; "× ref" is each row's median and p95 over the reference row's, measured in the same run."""
    head = ("Measurement", "runs", "median", "p95", "× ref", "target", "", "CPU median", "queries")
    table = [head]
    ref = next((r for r in rows if r.name.startswith("Reference") and r.times), None)
    for r in rows:
        if r.extra:
            verdict = f"{r.errors} ERRORS" if r.errors else ("meets" if r.rate_ok else "MISSES")
            table.append((r.name, str(len(r.times)), r.extra, "", "", r.target, verdict, "", ""))
            continue
        ratio = f"{r.median_ms / ref.median_ms:.1f} / {r.p95_ms / ref.p95_ms:.1f}" if ref and r.times else ""
        table.append(
            (
                r.name,
                str(len(r.times)),
                f"{r.median_ms:.1f} ms",
                f"{r.p95_ms:.1f} ms",
                ratio,
                r.target,
                r.verdict(),
                f"{r.cpu_median_ms:.1f} ms",
                "" if r.queries is None else str(r.queries),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    right = {1, 2, 3, 4, 7, 8}
    for n, row in enumerate(table):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in rows:
        if r.note:
            print(f"- {r.name}: {r.note}")


# --- main ----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1000, help="batches in the project (default 1000)")
    parser.add_argument("--images", type=int, default=250_000, help="images in the project (default 250000)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per measurement (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument(
        "--database-url",
        default="",
        help="run on this (empty) database, e.g. PostgreSQL, instead of a temp SQLite file",
    )
    parser.add_argument("--debug", action="store_true", help="DEBUG=1 instead of production-like DEBUG=0")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading on SQLite too")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--load-threads", type=int, default=4, help="client threads for the load (default 4)")
    parser.add_argument("--load-seconds", type=float, default=10, help="length of the load (default 10)")
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--chunk", type=int, default=10_000, help="images per bulk_create call (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data (default 1)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also print each measurement's slowest queries and the top N cProfile rows",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp VAR_DIR")
    args = parser.parse_args()
    if args.batches < len(BIG_BATCHES) + 8:
        parser.error(f"--batches must be at least {len(BIG_BATCHES) + 8}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with temp_var_dir("batchboard-board-", keep=args.keep) as var_dir:
        return run(args, bench_env(var_dir, production=not args.debug, database_url=args.database_url))


def run(args, env: dict) -> int:
    migrated = prepare(env, static=not args.debug)
    from django.db import connection

    print(f"Migrated in {migrated:.1f} s; building the project ...", flush=True)
    fx = build(args)
    vendor, version = database_version()
    columns = ", ".join(f"{s}: {fx.column_batches[s]} / {fx.column_images[s]:,}" for s, _ in COLUMN_SHARE)
    print(
        f"Built {args.batches:,} batches and {args.images:,} images in {fx.build_seconds:.1f} s "
        f"(batches / images per column: {columns})",
        flush=True,
    )
    print(
        f"Database: {vendor} {version}; DEBUG={env['DEBUG']}; {os.cpu_count()} cores; "
        f"{host_load()}; {args.runs} timed runs after {args.warmup} warm-up",
        flush=True,
    )
    print("In-process (django.test.Client as the manager, time.perf_counter per call):", flush=True)
    rows = in_process(args, fx)
    if not args.no_load:
        print("Under gunicorn:", flush=True)
        connection.close()
        rows.append(load_test(args, env))

    print()
    print(
        f"Board benchmark: {vendor} {version}, DEBUG={env['DEBUG']}, {args.batches:,} batches, "
        f"{args.images:,} images, {os.cpu_count()} cores, {host_load()}"
    )
    print()
    print_table(rows)
    print()
    print("p95 is nearest-rank; every target is judged on p95, the req/s target on the rate.")
    print(
        "CPU median: this thread's CPU time per call"
        + (
            " (SQLite runs in-process, so it includes the database)."
            if vendor == "sqlite"
            else " (excludes the PostgreSQL server's own CPU)."
        )
        + " Wall ≫ CPU means the host was busy."
    )
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
