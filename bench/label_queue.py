"""Label queue benchmark: "Start labeling" with 20 labelers pulling at once, on 1,000 batches and 250,000 images.

Prints numbers and the target beside them; it never fails on a timing, only
when a request failed or the queue served an image wrongly. Run from the
repository root:

    .venv/bin/python bench/label_queue.py                                   # temp SQLite
    .venv/bin/python bench/label_queue.py --images 5000 --batches 20 --requests 200   # a quick try
    .venv/bin/python bench/label_queue.py --database-url postgres://user@%2Ftmp%2Fsock:5432/db   # an empty database

What it does:

1. A fresh temp VAR_DIR, production-like settings (DEBUG=0, plain HTTP on
   loopback) as ``board.py`` has them, ``migrate`` and ``collectstatic``.
   One workspace with a manager and ``--labelers`` (20) labelers, and one
   review-mode project of ``--batches`` batches holding ``--images`` images
   over the four columns (35 / 30 / 15 / 20 %, sizes log-normal), written with
   bulk_create in chunks (fake file names, no files). The Annotating batches
   are split between the label queue and one more labeler who takes no part
   in the run: ``--queue-share`` of them, and more if that many images could
   run out, go to the queue through ``services.assign(..., queue=True)``, so
   their queue entries are the app's own. PostgreSQL gets ANALYZE after the
   load; SQLite only with ``--analyze``.
2. In this process, with django.test.Client (``board.py``'s ``measure``):
   the board bench's reference row, a bare view rendering a 50-row table,
   before the load and again after it; and "Start labeling" for one more
   labeler alone, as a yardstick for the cost of one request without others.
3. gunicorn (``--workers``, 2, ``--threads``, 1) on a free 127.0.0.1 port. Each labeler logs in
   through the login form (a requests.Session each); then one thread per
   labeler POSTs "Start labeling" ``--requests`` times in all (split evenly,
   after ``--warmup`` untimed requests each), with ``current`` the image it
   was last served (read from the Location header; the redirect is not
   followed), and every ``--done-every``-th request also saves the served
   image as empty through the editor's autosave (so it leaves the queue).
   Timed: each Start labeling request, client side.
4. The table (median, p95, p99, "× ref" over the reference row as
   ``board.py`` prints it), requests/s, then the checks: every request
   answered as expected (no 5xx), no image served to two labelers, none
   served again after it was done, nobody given a new image while holding
   ``reservation_cap``, and the database afterwards agreeing with what each
   labeler was served and finished.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from _harness import (
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
from board import Measure, Row, _split_sizes, add_batches, add_images, measure, reference_urlconf

WS_SLUG = "bench"
PROJECT_SLUG = "queue"
MANAGER_EMAIL = "manager@bench.test"
ASSIGNED_EMAIL = "assigned@bench.test"  # holds the Annotating batches not in the queue; takes no part
SOLO_EMAIL = "solo@bench.test"  # the in-process "one labeler alone" row
PASSWORD = "bench-password-not-secret"
COLUMN_SHARE = [("unassigned", 0.35), ("annotating", 0.30), ("review", 0.15), ("dataset", 0.20)]
TARGET_P95_MS = 30
EDITOR_PATH = re.compile(r"/batches/(\d+)/annotate/(\d+)/$")


def labeler_email(n: int) -> str:
    return f"labeler{n:02d}@bench.test"


# --- data ----------------------------------------------------------------------


@dataclass
class Fixture:
    project: object
    manager: object
    labelers: list  # the users pulling from the queue, in thread order
    solo: object
    queue_batches: int
    queue_entries: int
    column_batches: dict[str, int]
    column_images: dict[str, int]
    build_seconds: float = 0.0
    assign_seconds: float = 0.0


def most_taken(args, cap: int) -> int:
    """The most queue images the run can take: one per save, plus what each labeler (and the solo row) holds."""
    return args.requests // args.done_every + args.labelers + (args.labelers + 1) * cap


def build(args) -> Fixture:

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, User, Workspace
    from accounts.roles import Role
    from boards import services
    from boards.models import (
        MAX_BATCH_IMAGES,
        Batch,
        BatchStatus,
        Project,
        QueueEntry,
    )

    if Batch.objects.exists() or Workspace.objects.filter(slug=WS_SLUG).exists():
        raise SystemExit("The database is not empty: give --database-url an empty database.")

    t0 = time.perf_counter()
    rng = random.Random(args.seed)
    now = timezone.now()

    counts = {s: round(args.batches * share) for s, share in COLUMN_SHARE}
    counts["unassigned"] += args.batches - sum(counts.values())
    statuses = [s for s, _ in COLUMN_SHARE for _ in range(counts[s])]
    rng.shuffle(statuses)
    sizes = _split_sizes(args.images, args.batches, rng, MAX_BATCH_IMAGES)

    # The queue: --queue-share of the Annotating batches, and more while the run could take all their images.
    annotating = [i for i, s in enumerate(statuses) if s == BatchStatus.ANNOTATING]
    need = most_taken(args, Project._meta.get_field("reservation_cap").default) * 2
    queued: set[int] = set()
    for i in annotating:
        if len(queued) >= args.queue_share * len(annotating) and sum(sizes[j] for j in queued) >= need:
            break
        queued.add(i)
    if sum(sizes[j] for j in queued) < need:
        raise SystemExit(
            f"The Annotating batches hold {sum(sizes[j] for j in queued):,} images, fewer than twice the "
            f"{need // 2:,} the run may take from the queue: raise --images or --done-every, or lower --requests."
        )

    with transaction.atomic():
        workspace = Workspace.objects.create(name="Bench", slug=WS_SLUG)
        manager = User.objects.create_user(MANAGER_EMAIL, PASSWORD, full_name="Mara Manager")
        # One password hash for everyone: hashing 22 passwords would take longer than the rest of the users.
        people = [
            User(email=labeler_email(n), full_name=f"Labeler {n:02d}", password=manager.password)
            for n in range(1, args.labelers + 1)
        ]
        people += [
            User(email=ASSIGNED_EMAIL, full_name="Asa Assigned", password=manager.password),
            User(email=SOLO_EMAIL, full_name="Sol Solo", password=manager.password),
        ]
        User.objects.bulk_create(people)
        by_email = {u.email: u for u in User.objects.filter(email__in=[p.email for p in people])}
        labelers = [by_email[labeler_email(n)] for n in range(1, args.labelers + 1)]
        assigned, solo = by_email[ASSIGNED_EMAIL], by_email[SOLO_EMAIL]
        Membership.objects.create(workspace=workspace, user=manager, role=Role.MANAGER)
        Membership.objects.bulk_create(
            Membership(workspace=workspace, user=u, role=Role.LABELER) for u in [*labelers, assigned, solo]
        )
        project = Project.objects.create(workspace=workspace, name="Queue bench", slug=PROJECT_SLUG, review_mode=True)

        # Queue batches start in Unassigned (services.assign takes them to the queue below), as fresh uploads.
        plan = [
            (f"Route {i + 1:04d}", BatchStatus.UNASSIGNED if i in queued else status, rng.randint(1, 5))
            for i, status in enumerate(statuses)
        ]
        batches = add_batches(project, plan, manager=manager, labeler=assigned, rng=rng, now=now)
        add_images(project, batches, list(zip(statuses, sizes, strict=True)), rng, args.chunk, fresh=queued)
    # The services store each batch's card counts whenever its images change;
    # rows loaded in bulk get theirs here, as after an upload.
    services.mark_changed(*(b.pk for b in batches))
    build_seconds = time.perf_counter() - t0

    # The queue, as a manager makes it on the board: one assignment per batch.
    t1 = time.perf_counter()
    for i in sorted(queued):
        services.assign(batch=Batch.objects.get(pk=batches[i].pk), actor=manager, labeler=None, queue=True)
    assign_seconds = time.perf_counter() - t1

    if connection.vendor == "postgresql" or args.analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    return Fixture(
        project=Project.objects.get(pk=project.pk),
        manager=manager,
        labelers=labelers,
        solo=solo,
        queue_batches=len(queued),
        queue_entries=QueueEntry.objects.filter(project=project).count(),
        column_batches={s: counts[s] for s, _ in COLUMN_SHARE},
        column_images={
            s: sum(size for status, size in zip(statuses, sizes, strict=True) if status == s) for s, _ in COLUMN_SHARE
        },
        build_seconds=build_seconds,
        assign_seconds=assign_seconds,
    )


# --- in this process --------------------------------------------------------------


def reference_row(args, fx: Fixture, when: str) -> Row:
    """The board bench's reference row, measured as it measures it: a bare 50-row table view, test Client."""
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    client.force_login(fx.manager)
    m = Measure(
        Row(f"Reference: bare 50-row table view, {when}"),
        lambda: client.get("/bench/reference/"),
        lambda r: None if r.status_code == 200 and b"</table>" in r.content else f"HTTP {r.status_code}",
    )
    with override_settings(ROOT_URLCONF=reference_urlconf(fx.project.pk)):
        return measure(m, args.runs, 3, 0)


def solo_row(args, fx: Fixture, start_path: str) -> Row:
    """Start labeling for one labeler with nobody else asking: the cost of the request itself."""
    from django.test import Client

    client = Client()
    client.force_login(fx.solo)
    on: dict[str, int] = {}

    def run():
        return client.post(start_path, {"current": str(on["image"])} if on else {})

    def check(r) -> str | None:
        found = EDITOR_PATH.search(r.get("Location", "")) if r.status_code == 302 else None
        if found is None:
            return f"HTTP {r.status_code}, Location {r.get('Location')!r}"
        on["image"] = int(found.group(2))
        return None

    m = Measure(
        Row(
            "Start labeling, one labeler alone (in-process)",
            note="django.test.Client in this process, one request at a time: the request's own cost",
        ),
        run,
        check,
    )
    return measure(m, args.runs, 3, 0)


# --- the load ---------------------------------------------------------------------


@dataclass
class Labeler:
    """One client thread's record of what it asked and what it got."""

    index: int
    user_id: int
    session: object = None
    latencies: list[float] = field(default_factory=list)  # timed Start labeling requests, seconds
    save_latencies: list[float] = field(default_factory=list)
    served: list[tuple[int, float, float]] = field(default_factory=list)  # (image id, sent, answered)
    done: dict[int, float] = field(default_factory=dict)  # image id -> when its save was answered
    statuses: Counter = field(default_factory=Counter)  # "start 302", "save 200", ...
    problems: list[str] = field(default_factory=list)
    most_held: int = 0
    new_at_cap: int = 0  # a new image while holding the cap already
    current_again: int = 0  # served the image it said it was on


def pull(lab: Labeler, args, base: str, start_path: str, cap: int, quota: int, ready: threading.Barrier) -> None:
    """One labeler: Start labeling ``quota`` times after the warm-up, saving every Nth image as done."""
    import requests
    from django.urls import reverse

    s = lab.session
    token = s.cookies.get("csrftoken")
    headers = {"Referer": base + start_path}
    save_headers = {"X-CSRFToken": token, "Referer": base + start_path, "Content-Type": "application/json"}
    rng = random.Random(args.seed * 1000 + lab.index)
    current: int | None = None
    holding: set[int] = set()
    for k in range(args.warmup + quota):
        if k == args.warmup:
            ready.wait(timeout=600)
        if args.think_ms and k:
            time.sleep(args.think_ms / 1000 * rng.uniform(0.5, 1.5))
        data = {"csrfmiddlewaretoken": token}
        if current is not None:
            data["current"] = str(current)
        sent = time.perf_counter()
        try:
            r = s.post(base + start_path, data=data, headers=headers, allow_redirects=False, timeout=60)
        except requests.RequestException as exc:
            lab.statuses["start error"] += 1
            lab.problems.append(f"Start labeling: {exc}")
            continue
        answered = time.perf_counter()
        if k >= args.warmup:
            lab.latencies.append(answered - sent)
        lab.statuses[f"start {r.status_code}"] += 1
        found = EDITOR_PATH.search(r.headers.get("Location", "")) if r.status_code == 302 else None
        if found is None:
            lab.problems.append(f"Start labeling: HTTP {r.status_code}, Location {r.headers.get('Location')!r}")
            continue
        batch_id, image_id = int(found.group(1)), int(found.group(2))
        if image_id == current:
            lab.current_again += 1
        if image_id not in holding and len(holding) >= cap:
            lab.new_at_cap += 1
        holding.add(image_id)
        lab.most_held = max(lab.most_held, len(holding))
        lab.served.append((image_id, sent, answered))
        current = image_id
        if (k + 1) % args.done_every:
            continue
        # Done: the editor's autosave of "no boxes on this image", based on version 0 (a fresh image).
        save = reverse("annotate-save", args=[WS_SLUG, PROJECT_SLUG, batch_id, image_id])
        t0 = time.perf_counter()
        try:
            r = s.post(
                base + save, data=b'{"version": 0, "boxes": [], "empty": true}', headers=save_headers, timeout=60
            )
        except requests.RequestException as exc:
            lab.statuses["save error"] += 1
            lab.problems.append(f"save: {exc}")
            continue
        lab.save_latencies.append(time.perf_counter() - t0)
        lab.statuses[f"save {r.status_code}"] += 1
        if r.status_code != 200:
            lab.problems.append(f"save of image {image_id}: HTTP {r.status_code} {r.content[:200]!r}")
            continue
        lab.done[image_id] = time.perf_counter()
        holding.discard(image_id)


@dataclass
class Load:
    labelers: list[Labeler]
    seconds: float
    server_cpu: float
    client_cpu: float
    load_before: float
    pressure: str

    @property
    def latencies(self) -> list[float]:
        return [x for lab in self.labelers for x in lab.latencies]

    @property
    def save_latencies(self) -> list[float]:
        return [x for lab in self.labelers for x in lab.save_latencies]


def load_test(args, env: dict, fx: Fixture, start_path: str) -> Load:
    labs = [Labeler(index=i, user_id=u.pk) for i, u in enumerate(fx.labelers)]
    cap = fx.project.reservation_cap
    # gunicorn's default 30 s worker timeout; its own session, so that it gets a CPU share of its own.
    with Server(env, workers=args.workers, threads=args.threads, timeout=30, own_session=True) as server:
        for n, lab in enumerate(labs, start=1):
            lab.session = login(server.base, labeler_email(n), PASSWORD)
        print(f"  {len(labs)} labelers logged in; pulling ...", flush=True)
        quotas = [args.requests // len(labs) + (1 if i < args.requests % len(labs) else 0) for i in range(len(labs))]
        ready = threading.Barrier(len(labs) + 1)
        threads = [
            threading.Thread(target=pull, args=(lab, args, server.base, start_path, cap, quota, ready), daemon=True)
            for lab, quota in zip(labs, quotas, strict=True)
        ]
        for t in threads:
            t.start()
        ready.wait(timeout=600)  # every labeler has had its warm-up requests
        cpu0 = server.cpu_seconds()
        client_cpu0 = time.process_time()
        load0 = os.getloadavg()[0]
        pressure = cpu_pressure()
        t_start = time.perf_counter()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t_start
        load = Load(
            labelers=labs,
            seconds=seconds,
            server_cpu=server.cpu_seconds() - cpu0,
            client_cpu=time.process_time() - client_cpu0,
            load_before=load0,
            pressure=pressure,
        )
    n = len(load.latencies)
    print(f"  {n} Start labeling requests in {seconds:.1f} s: {n / seconds:.0f} req/s", flush=True)
    return load


# --- checks -----------------------------------------------------------------------


def check(load: Load, fx: Fixture, started: float) -> list[str]:
    """What went wrong, as lines; empty when every request did what the queue promises."""
    from boards.models import AnnotationState, Image, QueueEntry

    failures: list[str] = []
    labs = load.labelers
    cap = fx.project.reservation_cap
    statuses = sum((lab.statuses for lab in labs), Counter())
    five_xx = sum(n for key, n in statuses.items() if key.split()[1].startswith("5"))
    if five_xx:
        failures.append(f"5xx answers: {five_xx}")
    for lab in labs:
        for problem in lab.problems[:3]:
            failures.append(f"labeler {lab.index + 1}: {problem}")
        if len(lab.problems) > 3:
            failures.append(f"labeler {lab.index + 1}: … and {len(lab.problems) - 3} more")

    # A reservation holds until the image is done (saved) or for reservation_minutes; the run is
    # shorter, so an image served to two labelers was reserved for both at once.
    minutes = (time.perf_counter() - started) / 60
    if minutes >= fx.project.reservation_minutes:
        failures.append(
            f"the run took {minutes:.0f} min, longer than a reservation holds ({fx.project.reservation_minutes} min):"
            " the check for an image served to two labelers does not hold"
        )
    served_to: dict[int, set[int]] = defaultdict(set)
    last_served: dict[int, tuple[float, int]] = {}
    done_by: dict[int, tuple[int, float]] = {}
    for lab in labs:
        for image_id, sent, _answered in lab.served:
            served_to[image_id].add(lab.index)
            if sent >= last_served.get(image_id, (-1.0, -1))[0]:
                last_served[image_id] = (sent, lab.index)
        for image_id, when in lab.done.items():
            done_by[image_id] = (lab.index, when)
    shared = {image_id: who for image_id, who in served_to.items() if len(who) > 1}
    if shared:
        sample = ", ".join(f"{i} to {sorted(w)}" for i, w in list(shared.items())[:5])
        failures.append(f"{len(shared)} images were served to two or more labelers: {sample}")
    after_done = [
        image_id
        for lab in labs
        for image_id, sent, _answered in lab.served
        if image_id in done_by and sent > done_by[image_id][1]
    ]
    if after_done:
        failures.append(f"{len(after_done)} images were served again after they were done: {after_done[:5]}")
    new_at_cap = sum(lab.new_at_cap for lab in labs)
    if new_at_cap:
        failures.append(f"{new_at_cap} times a labeler holding {cap} images was given a new one")
    again = sum(lab.current_again for lab in labs)
    if again:
        failures.append(f"{again} times a labeler was served the image it said it was on")

    # The database afterwards: each served image still to do is reserved for the labeler last served it,
    # each done image left the queue, as labeled by whoever saved it.
    user_of = {lab.index: lab.user_id for lab in labs}
    entries = dict(QueueEntry.objects.filter(image_id__in=list(served_to)).values_list("image_id", "reserved_by_id"))
    wrong_holder = [
        image_id
        for image_id, (_sent, index) in last_served.items()
        if image_id not in done_by and entries.get(image_id, "none") != user_of[index]
    ]
    if wrong_holder:
        failures.append(
            f"{len(wrong_holder)} served images still to do are not reserved for the labeler served them: "
            + ", ".join(f"{i} held by {entries.get(i, 'no entry')}" for i in wrong_holder[:5])
        )
    # An image is finished when its labeler moves on (their next Start labeling): one saved after a
    # labeler's last request is still theirs, done, waiting for that next press.
    last_press = {lab.index: max((sent for _i, sent, _a in lab.served), default=0.0) for lab in labs}
    still_queued = [
        image_id
        for image_id, (index, when) in done_by.items()
        if image_id in entries and not (entries[image_id] == user_of[index] and when > last_press[index])
    ]
    if still_queued:
        failures.append(f"{len(still_queued)} done images are still in the queue: {still_queued[:5]}")
    finished = Image.objects.filter(pk__in=list(done_by)).values_list("pk", "annotated_by_id", "annotation_state")
    wrong_done = [pk for pk, by, state in finished if by != user_of[done_by[pk][0]] or state != AnnotationState.EMPTY]
    if wrong_done:
        failures.append(f"{len(wrong_done)} done images are not saved as empty by their labeler: {wrong_done[:5]}")
    holds = Counter(
        QueueEntry.objects.filter(project=fx.project, reserved_by_id__in=list(user_of.values())).values_list(
            "reserved_by_id", flat=True
        )
    )
    over = {user: n for user, n in holds.items() if n > cap}
    if over:
        failures.append(f"labelers hold more than {cap} images at the end: {over}")
    return failures


# --- output --------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def print_table(ref: list[float], rows: list[tuple[str, list[float], str]], extra: list[tuple[str, str]]) -> None:
    """Median, p95, p99; "× ref" is the row's median and p95 over the reference row's, as ``board.py`` prints it."""
    head = ("Measurement", "requests", "median", "p95", "p99", "× ref", "target", "")
    table = [head]
    ref_median, ref_p95 = statistics.median(ref), percentile(ref, 0.95)
    for name, times, target in rows:
        if not times:
            table.append((name, "0", "", "", "", "", target, ""))
            continue
        median, p95, p99 = statistics.median(times), percentile(times, 0.95), percentile(times, 0.99)
        verdict = ""
        if target:
            verdict = "meets" if p95 * 1000 <= TARGET_P95_MS else "MISSES"
        ratio = "" if times is ref else f"{median / ref_median:.1f} / {p95 / ref_p95:.1f}"
        table.append((name, f"{len(times):,}", ms(median), ms(p95), ms(p99), ratio, target, verdict))
    for name, value in extra:
        table.append((name, "", value, "", "", "", "", ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    right = {1, 2, 3, 4, 5}
    for n, row in enumerate(table):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --- main ----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=1000, help="batches in the project (default 1000)")
    parser.add_argument("--images", type=int, default=250_000, help="images in the project (default 250000)")
    parser.add_argument("--labelers", type=int, default=20, help="labelers pulling at once (default 20)")
    parser.add_argument(
        "--requests", type=int, default=4000, help="timed Start labeling requests in all, split evenly (default 4000)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed requests per labeler first (default 1)")
    parser.add_argument(
        "--done-every", type=int, default=3, help="every Nth request also saves its image as done (default 3)"
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="pause of about this long (0.5–1.5×) before each of a labeler's requests (default 0: back to back)",
    )
    parser.add_argument(
        "--queue-share",
        type=float,
        default=0.5,
        help="share of the Annotating batches assigned to the queue, at least (default 0.5)",
    )
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each in-process row (default 50)")
    parser.add_argument(
        "--database-url",
        default="",
        help="run on this (empty) database, e.g. PostgreSQL, instead of a temp SQLite file",
    )
    parser.add_argument("--debug", action="store_true", help="DEBUG=1 instead of production-like DEBUG=0")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading on SQLite too")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (default 1; the README's deployment has 4)"
    )
    parser.add_argument("--chunk", type=int, default=10_000, help="images per bulk_create call (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp VAR_DIR")
    args = parser.parse_args()
    if args.batches < 10:
        parser.error("--batches must be at least 10")
    if args.images < args.batches:
        parser.error("--images must be at least --batches")
    if args.labelers < 1 or args.requests < args.labelers or args.done_every < 1 or args.runs < 1:
        parser.error("--labelers, --done-every and --runs must be at least 1, --requests at least --labelers")

    with temp_var_dir("batchboard-queue-", keep=args.keep) as var_dir:
        return run(args, bench_env(var_dir, production=not args.debug, database_url=args.database_url))


def run(args, env: dict) -> int:
    started = time.perf_counter()
    migrated = prepare(env, static=not args.debug)
    from django.db import connection
    from django.urls import reverse

    print(f"Migrated in {migrated:.1f} s; building the project ...", flush=True)
    fx = build(args)
    vendor, version = database_version()
    columns = ", ".join(f"{s}: {fx.column_batches[s]} / {fx.column_images[s]:,}" for s, _ in COLUMN_SHARE)
    print(
        f"Built {args.batches:,} batches and {args.images:,} images in {fx.build_seconds:.1f} s "
        f"(batches / images per column: {columns}); {fx.queue_batches} batches to the queue with services.assign "
        f"in {fx.assign_seconds:.1f} s: {fx.queue_entries:,} queue entries",
        flush=True,
    )
    print(f"Database: {vendor} {version}; DEBUG={env['DEBUG']}; {os.cpu_count()} cores; {host_load()}", flush=True)
    start_path = reverse("project-start-labeling", args=[WS_SLUG, PROJECT_SLUG])

    print(f"In-process (django.test.Client, {args.runs} timed runs after 3 warm-up):", flush=True)
    before = reference_row(args, fx, "before the load")
    solo = solo_row(args, fx, start_path)
    connection.close()
    print(f"Under gunicorn -w {args.workers} --threads {args.threads}:", flush=True)
    load = load_test(args, env, fx, start_path)
    print("In-process again:", flush=True)
    after = reference_row(args, fx, "after the load")
    failures = check(load, fx, started)

    labs = load.labelers
    n_start = len(load.latencies)
    n_save = len(load.save_latencies)
    served = [image_id for lab in labs for image_id, _s, _a in lab.served]
    statuses = sum((lab.statuses for lab in labs), Counter())
    ref = before.times + after.times
    print()
    print(
        f"Label queue benchmark: {vendor} {version}, DEBUG={env['DEBUG']}, {args.batches:,} batches, "
        f"{args.images:,} images, {fx.queue_entries:,} queue entries in {fx.queue_batches} batches, "
        f"{os.cpu_count()} cores, {host_load()}"
    )
    print()
    print_table(
        ref,
        [
            ("Reference: bare 50-row table view", ref, ""),
            (solo.name, solo.times, ""),
            (f"Start labeling, {len(labs)} labelers at once", load.latencies, f"p95 ≤ {TARGET_P95_MS} ms"),
            ("Save as done (the editor's autosave)", load.save_latencies, ""),
        ],
        [
            ("Start labeling requests/s", f"{n_start / load.seconds:.0f}"),
            ("All requests/s (with the saves)", f"{(n_start + n_save) / load.seconds:.0f}"),
        ],
    )
    print()
    per_request = load.server_cpu / max(1, n_start + n_save)
    cores = min(args.workers, os.cpu_count() or 1)
    print(
        f"- Reference: in-process (test Client), sequential, {len(before.times)} runs before the load "
        f"(median {before.median_ms:.1f} ms, p95 {before.p95_ms:.1f} ms) and {len(after.times)} after it "
        f"(median {after.median_ms:.1f} ms, p95 {after.p95_ms:.1f} ms), pooled; the same row as board.py's."
    )
    print(
        f"- {solo.name}: median {solo.median_ms:.1f} ms, p95 {solo.p95_ms:.1f} ms, CPU median "
        f"{solo.cpu_median_ms:.1f} ms, {solo.queries} queries; a labeler of its own, before the load."
    )
    print(
        f"- Start labeling, {len(labs)} labelers: one requests.Session and thread each in this process, "
        f"{args.warmup} untimed first, then {args.requests:,} timed in all, "
        + (f"each after a pause of ~{args.think_ms:g} ms" if args.think_ms else "back to back")
        + f"; one request in {args.done_every} also saved its image as done; latency is the client's, "
        f"from sending the POST to its 302 (not followed). {n_start:,} timed in {load.seconds:.1f} s; "
        f"server CPU {load.server_cpu / load.seconds * 100:.0f}% of one core ({per_request * 1000:.1f} ms per "
        f"request, so at most ~{cores / per_request:.0f} req/s with {cores} cores to itself), client CPU "
        f"{load.client_cpu / load.seconds * 100:.0f}%; load {load.load_before:.2f}, {load.pressure}."
    )
    print(
        f"- Served {len(served):,} times, {len(set(served)):,} distinct images, {n_save:,} saved as done; "
        f"reservation cap {fx.project.reservation_cap}, most held by one labeler at once "
        f"{max(lab.most_held for lab in labs)}; answers: "
        + ", ".join(f"{key} × {n:,}" for key, n in sorted(statuses.items()))
        + "."
    )
    print()
    if failures:
        print("Checks FAILED:")
        for line in failures:
            print(f"  ! {line}")
    else:
        print(
            "Checks passed: no 5xx, every Start labeling a 302 to the editor and every save a 200; no image served "
            "to two labelers or again after it was done; nobody given a new image at the cap; afterwards every "
            "served image still to do reserved for its labeler and every done one out of the queue once its "
            "labeler moved on."
        )
    print("p95 and p99 are nearest-rank; the target is judged on p95. × ref: median / p95 over the reference row's.")
    return 1 if failures or before.errors or after.errors or solo.errors else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
