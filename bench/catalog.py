"""Catalog benchmark: batches from a filter or a sample, and the catalog pages, on 250,000 images.

Prints numbers and asserts only that each step did what it says. Run from the
repository root:

    .venv/bin/python bench/catalog.py                 # 250,000 images, temporary SQLite database
    .venv/bin/python bench/catalog.py --images 50000 --requests 20
    .venv/bin/python bench/catalog.py --database-url postgres://…/empty_db   # an empty database you own
    .venv/bin/python bench/catalog.py --skip-project-catalog  # only the workspace catalog's rows

What it does:

1. Points VAR_DIR at a new temporary directory (so SQLite lives there), runs
   ``migrate``, and bulk-inserts one project: ``--images`` image rows (no files;
   the page never opens them), 12 tags on about 80% of the images, 6 classes
   with boxes on the annotated ones, and batches of 1,000 images in every
   column for 60% of them; the other 40% are free (as if their batches had been
   archived).
2. Times ``services.create_batch_from_images`` for 25,000 images chosen by a
   filter, by a seeded random sample and by an ordered sample (the median of
   ``--repeats`` runs, each committed and then undone), against a target of 1 s.
3. Times the catalog page through Django's test Client in this process
   (server time: URL routing, session, queries and template), ``--requests``
   times per filter combination after one warm-up, and prints the median and
   p95 against a target p95 of 80 ms.
4. Splits the workspace's catalog (one asset per image, made by the bulk
   insert) into datasets of 25 upload days, adds ``--images`` / 10 assets no
   project uses and a second project that uses the newest dataset, then times
   ``services.add_batch_to_project`` for 25,000 images the second project does
   not have yet, by asset ids, by a dataset and by "in the first project,
   annotated" with a sample (median of ``--repeats`` runs, each committed and
   then undone), against a target of 1 s.
5. Times the workspace catalog page as in 3, beside the board benchmark's
   reference row (a bare 50-row table view) and against the same target.

The temporary directory is removed at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from _harness import bench_env, load_averages, percentile, setup_django, temp_var_dir
from board import Measure, Row, measure, reference_urlconf

BATCH_SIZE = 1_000
TAGS = ["night", "day", "rain", "fog", "snow", "glare", "blurry", "crowd", "highway", "urban", "rural", "tunnel"]
CLASSES = ["car", "truck", "bus", "person", "bike", "sign"]
SIZES = [(640, 480), (800, 600), (1024, 768), (1280, 720), (1920, 1080), (4032, 3024)]
TARGET_CREATE_S = 1.0
TARGET_PAGE_P95_MS = 80.0
DATASET_DAYS = 25  # upload days per dataset of the workspace catalog: 25,000 images
TAKE = 25_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=250_000)
    parser.add_argument("--requests", type=int, default=40, help="page requests per filter combination")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each batch creation")
    parser.add_argument("--database-url", default="", help="an empty database to use instead of SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (and database)")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading (gives SQLite statistics)")
    parser.add_argument(
        "--skip-project-catalog",
        action="store_true",
        help="time only the workspace catalog (add a batch to a project, and its page)",
    )
    return parser.parse_args()


def setup_database(var_dir: Path, database_url: str) -> None:
    """The app in this process, migrated, on SQLite in ``var_dir`` or on ``database_url``."""
    setup_django(bench_env(var_dir, production=False, database_url=database_url))
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build(n_images: int, rnd: random.Random):
    """One project with ``n_images`` images; returns (project, manager, free day ranges)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Membership, User, Workspace
    from accounts.roles import Role
    from boards.models import (
        Annotation,
        AnnotationState,
        Batch,
        BatchSource,
        BatchStatus,
        Image,
        LabelClass,
        Project,
        ReviewState,
        Tag,
    )

    started = time.perf_counter()
    with transaction.atomic():
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        manager = User.objects.create_user("manager@bench.test", "pw")
        Membership.objects.create(workspace=workspace, user=manager, role=Role.MANAGER)
        project = Project.objects.create(workspace=workspace, name="Catalog", slug="catalog")
        tags = Tag.objects.bulk_create(Tag(project=project, name=name) for name in TAGS)
        labels = LabelClass.objects.bulk_create(LabelClass(project=project, name=name) for name in CLASSES)

        n_ranges = (n_images + BATCH_SIZE - 1) // BATCH_SIZE
        # Day d's uploads all fall on one calendar day, so date filters select whole days.
        today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=n_ranges + 1)
        # Each range of 1,000 images is one day's upload; 60% of the days are a batch
        # (spread over the columns 40/27/13/20), the other 40% are free.
        in_columns = [BatchStatus.UNASSIGNED] * 6 + [BatchStatus.ANNOTATING] * 4 + [BatchStatus.REVIEW] * 2
        in_columns += [BatchStatus.DATASET] * 3
        plan = [None if i % 5 in (0, 2) else in_columns[i % len(in_columns)] for i in range(n_ranges)]
        rnd.shuffle(plan)
        batches = {}
        for i, status in enumerate(plan):
            if status is not None:
                batches[i] = Batch(
                    project=project,
                    name=f"Day {i + 1}",
                    status=status,
                    source=BatchSource.API,
                    uploaded_at=start + timedelta(days=i),
                    priority=1 + i % 5,
                )
        Batch.objects.bulk_create(batches.values())

        images = []
        for n in range(n_images):
            day = n // BATCH_SIZE
            batch = batches.get(day)
            state, review = AnnotationState.UNANNOTATED, ReviewState.PENDING
            if batch is not None:
                if batch.status == BatchStatus.ANNOTATING and rnd.random() < 0.5:
                    state = AnnotationState.ANNOTATED
                elif batch.status in (BatchStatus.REVIEW, BatchStatus.DATASET):
                    state = AnnotationState.ANNOTATED if rnd.random() < 0.9 else AnnotationState.EMPTY
                    if batch.status == BatchStatus.DATASET:
                        review = ReviewState.APPROVED
                    elif rnd.random() < 0.2:
                        review = rnd.choice([ReviewState.APPROVED, ReviewState.REJECTED])
            width, height = rnd.choice(SIZES)
            images.append(
                Image(
                    project=project,
                    batch=batch,
                    file=f"bench/{n}.jpg",
                    thumbnail=f"bench/{n}.thumb.jpg",
                    width=width,
                    height=height,
                    sha256=f"{n:064x}",
                    original_filename=f"cam{rnd.randint(1, 40):02d}_{day:04d}_{n:07d}.jpg",
                    uploaded_at=start + timedelta(days=day, seconds=n % BATCH_SIZE),
                    annotation_state=state,
                    review_state=review,
                )
            )
        # In chunks: each call gives its images their workspace assets (``attach_assets``) with one
        # ``sha256 IN (…)`` query, which must stay under SQLite's 250,000 variables.
        for i in range(0, len(images), 5_000):
            Image.objects.bulk_create(images[i : i + 5_000])

        through = Image.tags.through
        links, boxes = [], []
        for image in images:
            roll = rnd.random()
            k = 0 if roll < 0.2 else 1 if roll < 0.8 else 2
            for tag in rnd.sample(tags, k):
                links.append(through(image_id=image.pk, tag_id=tag.pk))
            if image.annotation_state == AnnotationState.ANNOTATED:
                for _ in range(rnd.randint(1, 3)):
                    label = labels[min(int(rnd.expovariate(0.8)), len(labels) - 1)]
                    boxes.append(Annotation(image_id=image.pk, label=label, x=10, y=10, width=50, height=40))
        through.objects.bulk_create(links, batch_size=10_000)
        Annotation.objects.bulk_create(boxes, batch_size=10_000)
    free_days = [i for i, status in enumerate(plan) if status is None]
    took = time.perf_counter() - started
    print(
        f"Built {n_images:,} images ({len(links):,} tag links, {len(boxes):,} boxes, {len(batches)} batches, "
        f"{len(free_days) * BATCH_SIZE:,} free) in {took:.1f} s"
    )
    return project, manager, start, free_days


@dataclass
class CatalogWorkspace:
    """What ``build_workspace`` adds around the first project."""

    datasets: list  # the first project's images by upload time, oldest first; ``second`` uses the last
    second: object  # the second project
    days: int  # upload days of the first project's images
    in_no_project: int


def build_workspace(project, start, rnd: random.Random) -> CatalogWorkspace:
    """The workspace catalog around ``project``: its assets (one per image, made by the bulk insert) split
    into datasets of ``DATASET_DAYS`` upload days (fewer with fewer images: four from 4,000 images up),
    a tenth as many assets again that no project uses, over the same days, and a second project that
    uses the newest dataset's images, all free."""
    from django.db import transaction

    from boards.models import Asset, Dataset, Image, Project

    started = time.perf_counter()
    workspace = project.workspace
    n_images = Asset.objects.filter(workspace=workspace).count()
    days = (n_images + BATCH_SIZE - 1) // BATCH_SIZE
    per = max(1, min(DATASET_DAYS, days // 4))
    with transaction.atomic():
        # The bulk insert put every asset in the dataset the project's first upload makes.
        first = Dataset.objects.get(pk=Project.objects.values_list("dataset_id", flat=True).get(pk=project.pk))
        first.name = "Drive 001"
        first.save(update_fields=["name"])
        others = Dataset.objects.bulk_create(
            Dataset(workspace=workspace, name=f"Drive {k + 1:03d}") for k in range(1, (days + per - 1) // per)
        )
        datasets = [first, *others]
        for k, dataset in enumerate(others, start=1):
            Asset.objects.filter(
                workspace=workspace,
                uploaded_at__gte=start + timedelta(days=k * per),
                uploaded_at__lt=start + timedelta(days=(k + 1) * per),
            ).update(dataset=dataset)

        unsorted = Dataset.objects.create(workspace=workspace, name="Unsorted scans")
        in_no_project = n_images // 10
        assets = []
        for i in range(in_no_project):
            width, height = rnd.choice(SIZES)
            assets.append(
                Asset(
                    workspace=workspace,
                    dataset=unsorted,
                    file=f"bench/scan-{i}.jpg",
                    thumbnail=f"bench/scan-{i}.thumb.jpg",
                    width=width,
                    height=height,
                    sha256=f"{n_images + i:064x}",
                    original_filename=f"scan-{i:07d}.jpg",
                    # Any time of a day, after that day's 1,000 project uploads (seconds 0-999).
                    uploaded_at=start + timedelta(days=rnd.randrange(days), seconds=rnd.randrange(BATCH_SIZE, 86_400)),
                )
            )
        Asset.objects.bulk_create(assets, batch_size=5_000)

        second = Project.objects.create(workspace=workspace, name="Second", slug="second")
        rows = Asset.objects.filter(dataset=datasets[-1]).order_by("pk").values("pk", *Asset.COPIED)
        Image.objects.bulk_create(
            (Image(project=second, asset_id=row.pop("pk"), **row) for row in rows.iterator()), batch_size=5_000
        )
    took = time.perf_counter() - started
    print(
        f"Workspace catalog: {len(datasets)} datasets of {per * BATCH_SIZE:,} images, {in_no_project:,} images "
        f"in no project, a second project using the newest dataset ({rows.count():,}) in {took:.1f} s"
    )
    return CatalogWorkspace(datasets=datasets, second=second, days=days, in_no_project=in_no_project)


def main() -> None:
    args = parse_args()
    with temp_var_dir("batchboard-bench-catalog-", keep=args.keep) as var_dir:
        setup_database(var_dir, args.database_url)
        from django.db import connection

        print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}")
        rnd = random.Random(20240601)
        project, manager, start, free_days = build(args.images, rnd)
        workspace = build_workspace(project, start, rnd)
        if args.analyze:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print("Ran ANALYZE")
        print(f"Load average before timing: {load_averages()} on {os.cpu_count()} CPUs")
        run(args, project, manager, start, free_days, workspace)
        print(f"Load average after timing: {load_averages()}")


def run(args, project, manager, start, free_days, workspace) -> None:
    if not args.skip_project_catalog:
        time_batches(args, project, manager, start, free_days)
        time_sampling(args, project)
        time_pages(args, project, manager, start)
    time_adding_batches(args, project, manager, workspace)
    time_workspace_pages(args, project, manager, start, workspace)


def time_sampling(args, project) -> None:
    """The two ways to pick a seeded random sample: ranked by a hash in SQL, or drawn in Python."""
    from boards import catalog
    from boards.models import Image

    free = Image.objects.filter(free__project=project)
    n = min(25_000, free.count())

    def in_sql():
        return list(free.order_by(catalog.sample_rank(1234), "pk").values_list("pk", flat=True)[:n])

    def in_python():
        ids = list(free.order_by().values_list("pk", flat=True))
        return random.Random(1234).sample(sorted(ids), n)

    print()
    print(f"Choosing {n:,} of the free images at random (median of {args.repeats}; ids only, no update):")
    for label, pick in (
        ("hash of (id, seed) ranked in SQL", in_sql),
        ("ids read into Python, random.sample", in_python),
    ):
        times = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            chosen = pick()
            times.append(time.perf_counter() - began)
        assert len(set(chosen)) == n
        print(f"  {label:42} {statistics.median(times) * 1000:7.0f}ms")
    print("  The SQL ranking is what the service uses: the sample stays in the database (one UPDATE … SELECT),")
    print("  and an image's rank depends only on its id and the seed, not on the Python version.")


def _undo(batch) -> None:
    """Free the batch's images again and drop it (its history rows stay, as after a delete).

    On PostgreSQL each run and its undo leave 25,000 dead rows behind in each
    of the tables an image's place is written to (its placement, its free row,
    the image itself); autovacuum would clear them within a minute or so, long
    before the next 25,000-image batch in real use, so the undo vacuums
    (untimed) rather than let every run, and the catalog pages timed after
    them, pay for the ones before it: left there, six runs' 150,000 dead free
    rows made "state: queued", which looks each image up in them, 200 ms a page.
    """
    batch.images.set_batch(None)
    batch.delete()
    _vacuum()


def _vacuum() -> None:
    """On PostgreSQL, ``VACUUM ANALYZE`` the tables a batch's runs churn (see ``_undo``)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("boards_image", "boards_placement", "boards_freeimage"):
                cursor.execute(f"VACUUM ANALYZE {table}")


def time_batches(args, project, manager, start, free_days) -> None:
    from django.db import connection

    from boards import catalog, services
    from boards.catalog import CatalogFilter

    if len(free_days) < 25:
        print("Too few free images for a 25,000-image batch; skipping the batch timings (use --images 250000).")
        return
    # 25 free days and the days in between, whose images are in batches and are left out.
    first, last = start + timedelta(days=free_days[0]), start + timedelta(days=free_days[24])
    by_date = CatalogFilter(uploaded_from=first.date(), uploaded_to=last.date())
    free = CatalogFilter(state="free")
    cases = [
        ("filter: 25 upload days", by_date, None),
        ("random sample of 25,000 free (seeded)", free, {"n": 25_000, "mode": "random", "seed": 1234}),
        ("first 25,000 free by file name", free, {"n": 25_000, "mode": "ordered", "order": "filename"}),
    ]
    print()
    undo = "undone and, on PostgreSQL, vacuumed" if connection.vendor == "postgresql" else "undone"
    print(f"Creating a 25,000-image batch (median of {args.repeats} runs, each committed, then {undo}):")
    print(f"  {'how':42} {'preview':>9} {'create':>9} {'taken':>7} {'left out':>9}")
    for label, filters, sample in cases:
        previews, creates = [], []
        for run_no in range(args.repeats):
            began = time.perf_counter()
            preview = catalog.preview_batch(project, filters=filters, sample=sample)
            previews.append(time.perf_counter() - began)
            began = time.perf_counter()
            result = services.create_batch_from_images(
                project=project,
                actor=manager,
                name=f"Bench {label} {run_no}",
                priority=1,
                filters=filters,
                sample=sample,
            )
            creates.append(time.perf_counter() - began)
            assert result.taken == 25_000, result.taken
            assert preview.would_take == 25_000
            _undo(result.batch)
        verdict = "ok" if statistics.median(creates) < TARGET_CREATE_S else "OVER TARGET"
        print(
            f"  {label:42} {statistics.median(previews) * 1000:7.0f}ms {statistics.median(creates) * 1000:7.0f}ms "
            f"{result.taken:7,} {preview.left_out:9,}  {verdict} (target < {TARGET_CREATE_S:g} s)"
        )


def _page_cases(project, start):
    from boards.models import Batch

    day = lambda n: (start + timedelta(days=n)).date().isoformat()  # noqa: E731
    batch = Batch.objects.filter(project=project).order_by("pk").first()
    return [
        ("no filter", {}),
        ("file contains", {"file": "cam07"}),
        ("tag", {"tag": "fog"}),
        ("has class (rare)", {"class": "sign"}),
        ("has class (common)", {"class": "car"}),
        ("state: not in a batch", {"state": "free"}),
        ("state: queued", {"state": "queued"}),
        ("state: annotated", {"state": "annotated"}),
        ("state: rejected", {"state": "rejected"}),
        ("batch", {"batch": batch.pk}),
        ("upload dates (30 days)", {"from": day(60), "to": day(89)}),
        ("width range", {"min_width": 1900, "max_width": 2000}),
        ("height at most", {"max_height": 500}),
        ("tag + free + width", {"tag": "fog", "state": "free", "min_width": 1000}),
        ("class + tag + file", {"class": "bus", "tag": "night", "file": "cam1"}),
        ("file + approved + height", {"file": "cam1", "state": "approved", "max_height": 800}),
        (
            "tag + class + dates + sizes",
            {"tag": "rain", "class": "car", "from": day(10), "to": day(150), "min_width": 1000, "max_height": 2000},
        ),
        ("tag + class + rejected (5 matches)", {"tag": "tunnel", "class": "sign", "state": "rejected"}),
        (
            "every filter at once",
            {
                "file": "cam",
                "tag": "day",
                "class": "car",
                "state": "annotated",
                "from": day(0),
                "to": day(400),
                "min_width": 600,
                "max_width": 5000,
                "min_height": 400,
                "max_height": 4000,
            },
        ),
        ("no match (file)", {"file": "zzz"}),
    ]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and p95, in ms."""
    return statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000


def time_pages(args, project, manager, start) -> None:
    from django.test import Client
    from django.urls import reverse

    from boards.models import Image

    client = Client()
    client.force_login(manager)
    url = reverse("catalog", args=[project.workspace.slug, project.slug])
    count_url = reverse("catalog-count", args=[project.workspace.slug, project.slug])
    deep = Image.objects.filter(project=project).order_by("uploaded_at", "pk").values_list("pk", flat=True)[5_000]
    cases = [*_page_cases(project, start), ("no filter, 4,000 pages in", {"before": deep})]
    print()
    print(f"Catalog page, server time in-process ({args.requests} requests each after a warm-up):")
    print(f"  {'filters':36} {'shown':>5} {'matches':>8} {'median':>8} {'p95':>8} {'cpu p95':>8}   {'count*':>8}")
    worst = 0.0
    for label, params in cases:
        response = client.get(url, params)
        assert response.status_code == 200, (label, response.status_code)
        html = response.content.decode()
        shown = html.count('class="thumb pickable')
        known = html.split('id="match-count" data-count="')[1].split('"')[0] if 'data-count="' in html else None
        times, cpu = [], []
        for _ in range(args.requests):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, params)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert response.status_code == 200
        median, p95 = _percentiles(times)
        cpu_p95 = _percentiles(cpu)[1]
        worst = max(worst, p95)
        count_note = ""
        matches = f"{int(known):,}" if known is not None else "many"
        if known is None:
            matches, count_note = _time_count(client, count_url, params, max(5, args.requests // 4))
        print(f"  {label:36} {shown:5} {matches:>8} {median:6.1f}ms {p95:6.1f}ms {cpu_p95:6.1f}ms   {count_note:>8}")
    verdict = "ok" if worst <= TARGET_PAGE_P95_MS else "OVER TARGET"
    print(f"  worst p95: {worst:.1f} ms  {verdict} (target <= {TARGET_PAGE_P95_MS:g} ms)")
    print("  * p95 of the separate count request the page makes (htmx) when more than 2,000 images match.")
    print("  cpu: this process's CPU time per request (all of it with SQLite; without the server's with PostgreSQL).")


def _time_count(client, count_url: str, params: dict, times: int) -> tuple[str, str]:
    """The separate count request a page makes (htmx) when its matches fill more than it shows: what it
    counts ("10,000+" past the cap), and the p95 of ``times`` requests."""
    took = []
    for _ in range(times):
        began = time.perf_counter()
        answer = client.get(count_url, params)
        took.append(time.perf_counter() - began)
    html = answer.content.decode()
    counted = int(html.split('data-count="')[1].split('"')[0])
    matches = f"{counted:,}" + ("+" if 'data-exact="false"' in html else "")
    return matches, f"{_percentiles(took)[1]:6.1f}ms"


def _undo_join(batch, project, last_pk: int) -> None:
    """Take back an ``add_batch_to_project``: the project's new image rows, then the batch (its history
    rows stay). On PostgreSQL vacuumed, untimed, for the reason ``_undo`` gives."""
    from boards.models import Image

    Image.objects.filter(project=project, pk__gt=last_pk).delete()
    batch.delete()
    _vacuum()


def time_adding_batches(args, project, manager, fx: CatalogWorkspace) -> None:
    """``services.add_batch_to_project`` into the second project, for images it does not use yet."""
    from django.db import connection
    from django.db.models import Max, Min
    from django.utils import timezone

    from boards import catalog, services
    from boards.catalog import CatalogState, WorkspaceFilter
    from boards.models import Asset, Image
    from core.errors import ServiceError

    if len(fx.datasets) < 3:
        print("Too few datasets for the workspace batch timings; skipping them (use --images 3000 or more).")
        return
    second, workspace_id = fx.second, project.workspace_id
    last_pk = Image.objects.filter(project=second).aggregate(last=Max("pk"))["last"] or 0
    ids = list(Asset.objects.filter(dataset=fx.datasets[0]).order_by("pk").values_list("pk", flat=True)[:TAKE])
    # In one state in the first project and uploaded before the second project's dataset (so none
    # in it yet): annotated (about 15% of the images, so 25,000 of some 37,000 are sampled), or with
    # fewer images the state that matches most.
    newest = Asset.objects.filter(dataset=fx.datasets[-1]).aggregate(first=Min("uploaded_at"))["first"]
    by_state = {}
    for state in (CatalogState.ANNOTATED, CatalogState.QUEUED, CatalogState.FREE):
        wanted = WorkspaceFilter(
            project=project.slug, state=state, uploaded_to=timezone.localtime(newest).date() - timedelta(days=1)
        )
        by_state[state] = (catalog.workspace_assets(workspace_id, wanted).count(), wanted)
    state = next((s for s, (n, _) in by_state.items() if n >= TAKE), max(by_state, key=lambda s: by_state[s][0]))
    n_state, in_state = by_state[state]
    cases = [
        ("asset ids (one dataset's)", {"asset_ids": ids}, None),
        ("filter: one dataset", {"filters": WorkspaceFilter(dataset=fx.datasets[1].pk)}, None),
        (
            f"filter: in {project.name}, {state}; random sample",
            {"filters": in_state},
            {"n": TAKE if n_state >= TAKE else max(1, n_state // 2), "mode": "random", "seed": 1234},
        ),
    ]
    print()
    undo = "undone and, on PostgreSQL, vacuumed" if connection.vendor == "postgresql" else "undone"
    print(
        f"Adding a {TAKE:,}-image batch to a second project that uses none of the images yet "
        f"(median of {args.repeats} runs, each committed, then {undo}):"
    )
    print(f"  {'how':42} {'preview':>9} {'create':>9} {'matching':>8} {'joined':>7} {'taken':>7}")
    for label, selection, sample in cases:
        previews, creates, failed = [], [], ""
        for run_no in range(args.repeats):
            # What the "Add batch to project" dialog counts before anything is created.
            began = time.perf_counter()
            assets, ids, matching = catalog.selection(workspace_id, **selection)  # as the dialog reads it
            preview = catalog.preview_for_project(
                assets, second, catalog.Sample.parse(sample), matching=matching, asset_ids=ids
            )
            previews.append(time.perf_counter() - began)
            began = time.perf_counter()
            try:
                result = services.add_batch_to_project(
                    project=second,
                    actor=manager,
                    name=f"Bench {label} {run_no}",
                    priority=1,
                    sample=sample,
                    **selection,
                )
            except ServiceError as exc:
                failed = exc.message
                break
            creates.append(time.perf_counter() - began)
            joined = Image.objects.filter(project=second, pk__gt=last_pk).count()
            # The second project had none of them: exactly the images taken join it (a sample's only).
            assert joined == result.taken == preview.would_take, (joined, result.taken, preview.would_take)
            _undo_join(result.batch, second, last_pk)
        if failed:
            print(f"  {label:42} {statistics.median(previews) * 1000:7.0f}ms  FAILED: {failed}")
            continue
        verdict = "ok" if statistics.median(creates) < TARGET_CREATE_S else "OVER TARGET"
        scale = "" if result.taken == TAKE else f" for {TAKE:,} images"
        print(
            f"  {label:42} {statistics.median(previews) * 1000:7.0f}ms {statistics.median(creates) * 1000:7.0f}ms "
            f"{preview.matching:8,} {joined:7,} {result.taken:7,}  {verdict} (target < {TARGET_CREATE_S:g} s{scale})"
        )
    print("  joined: the image rows the second project gained (the images taken: a sample's only).")


def _workspace_page_cases(project, fx: CatalogWorkspace, start):
    from boards.catalog import CatalogState
    from boards.catalog.workspace import NOWHERE, PAGE_SIZE
    from boards.models import Asset, Image

    day = lambda n: (start + timedelta(days=n)).date().isoformat()  # noqa: E731
    first_day = fx.days // 4
    last_day = min(fx.days - 1, first_day + 29)
    # The first project's file names end in _<7-digit number>.jpg: ten of them share the first six digits.
    rare = f"_{Image.objects.filter(project=project).count() // 3 // 10:06d}"
    everything = Asset.objects.filter(workspace_id=project.workspace_id).order_by("-uploaded_at", "-pk")
    pages = (everything.count() + PAGE_SIZE - 1) // PAGE_SIZE
    deep = max(1, pages * 9 // 10)
    # Where "Older →" leads after deep - 1 pages: the page after the last image of the one before.
    cursor = everything.values_list("pk", flat=True)[(deep - 1) * PAGE_SIZE - 1] if deep > 1 else None
    middle = fx.datasets[len(fx.datasets) // 2].pk
    a = project.slug
    return [
        ("no filter", {}),
        ("file contains (common)", {"file": "cam07"}),
        ("file contains (rare)", {"file": rare}),
        ("file contains (no match)", {"file": "zzz"}),
        ("dataset", {"dataset": middle}),
        (f"in {project.name}", {"project": a}),
        (f"in {project.name}: not queued", {"project": a, "state": CatalogState.FREE}),
        (f"in {project.name}: queued", {"project": a, "state": CatalogState.QUEUED}),
        (f"in {project.name}: annotated", {"project": a, "state": CatalogState.ANNOTATED}),
        (f"in {project.name}: approved", {"project": a, "state": CatalogState.APPROVED}),
        ("in no project", {"project": NOWHERE}),
        (f"upload dates ({last_day - first_day + 1} days)", {"from": day(first_day), "to": day(last_day)}),
        (
            "dataset + project + annotated + file",
            {"dataset": middle, "project": a, "state": CatalogState.ANNOTATED, "file": "cam1"},
        ),
        (f"no filter, page {deep:,} of {pages:,}", {"before": cursor} if cursor else {}),
    ]


def time_workspace_pages(args, project, manager, start, fx: CatalogWorkspace) -> None:
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    client = Client()
    client.force_login(manager)
    print()
    print(f"Workspace catalog page, server time in-process ({args.requests} requests each after a warm-up):")
    # board.py's reference row, measured as board.py measures it (3 warm-up requests).
    reference = Measure(
        Row("Reference: bare 50-row table view (board.py)"),
        lambda: client.get("/bench/reference/"),
        lambda r: None if r.status_code == 200 and b"</table>" in r.content else f"HTTP {r.status_code}",
    )
    with override_settings(ROOT_URLCONF=reference_urlconf(project.pk)):
        ref = measure(reference, args.requests, 3, 0)
    url = reverse("workspace-catalog", args=[project.workspace.slug])
    count_url = reverse("workspace-catalog-count", args=[project.workspace.slug])
    print(
        f"  {'filters':36} {'shown':>5} {'matches':>8} {'median':>8} {'p95':>8} {'cpu p95':>8}   {'× ref':>11}"
        f"   {'count*':>8}"
    )
    worst = 0.0
    for label, params in _workspace_page_cases(project, fx, start):
        response = client.get(url, params)
        assert response.status_code == 200, (label, response.status_code)
        html = response.content.decode()
        shown = html.count('class="thumb pickable')
        known = html.split('id="match-count" data-count="')[1].split('"')[0] if 'data-count="' in html else None
        matches, count_note = (f"{int(known):,}", "") if known is not None else ("many", "")
        times, cpu = [], []
        for _ in range(args.requests):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, params)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert response.status_code == 200
        median, p95 = _percentiles(times)
        cpu_p95 = _percentiles(cpu)[1]
        worst = max(worst, p95)
        ratio = f"{median / ref.median_ms:.1f} / {p95 / ref.p95_ms:.1f}"
        if known is None:
            matches, count_note = _time_count(client, count_url, params, max(5, args.requests // 4))
        print(
            f"  {label:36} {shown:5} {matches:>8} {median:6.1f}ms {p95:6.1f}ms {cpu_p95:6.1f}ms   {ratio:>11}"
            f"   {count_note:>8}"
        )
    verdict = "ok" if worst <= TARGET_PAGE_P95_MS else "OVER TARGET"
    print(f"  worst p95: {worst:.1f} ms  {verdict} (target <= {TARGET_PAGE_P95_MS:g} ms)")
    print(
        f"  × ref: median / p95 over the reference row's ({ref.median_ms:.1f} / {ref.p95_ms:.1f} ms); "
        "matches: counted, capped at 10,000."
    )
    print("  * p95 of the separate count request the page makes (htmx) when its matches fill more than a page.")


if __name__ == "__main__":
    main()
