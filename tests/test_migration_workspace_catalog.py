"""Migrations 0014–0016 (the workspace catalog) on a database of the schema before it: nothing lost, and back.

The data is made with the historical models of 0013 (the app's models already
have ``Image.asset``), as a workspace had it: projects with their own copies of
a picture, batches in every column, a label queue, review history. Then the
database goes to 0016 and every row is compared with what it was.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.test_catalog_indexes import BOTH, POSTGRES_ONLY, SQLITE_ONLY

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("boards", "0013_label_queue")
AFTER = ("boards", "0016_workspace_catalog_image_asset")
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# The rows the migration must not touch, by historical model (app label, model name).
KEPT = [
    ("accounts", "Workspace"),
    ("accounts", "User"),
    ("boards", "Project"),
    ("boards", "LabelClass"),
    ("boards", "Tag"),
    ("boards", "Batch"),
    ("boards", "Job"),
    ("boards", "BatchEvent"),
    ("boards", "Image"),
    ("boards", "Annotation"),
    ("boards", "ReviewMark"),
    ("boards", "QueueEntry"),
]


def sha(n: int) -> str:
    return f"{n:064x}"


def migrate(target):
    """Migrate the test database to ``target`` (a list of nodes); the executor's apps at that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()  # the applied migrations changed
    return executor.loader.project_state(target).apps


@pytest.fixture
def old_apps():
    """The historical models at 0013; afterwards the database is at the latest migration again."""
    try:
        yield migrate([BEFORE])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


NEW_COLUMNS = {"asset_id", "dataset_id"}


def snapshot(apps) -> dict[str, list[dict]]:
    """Every row of the tables the migration must keep, without the new columns (an image's ``asset``,
    a project's upload ``dataset``)."""
    rows = {}
    for app_label, name in KEPT:
        model = apps.get_model(app_label, name)
        rows[name] = [
            {k: v for k, v in row.items() if k not in NEW_COLUMNS} for row in model.objects.order_by("pk").values()
        ]
    through = apps.get_model("boards", "Image").tags.through
    rows["Image.tags"] = sorted(through.objects.values_list("image_id", "tag_id"))
    return rows


def image_indexes() -> set[str]:
    """The names of boards_image's indexes and unique constraints (not its foreign keys)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "boards_image")
    return {name for name, c in found.items() if (c["index"] or c["unique"]) and not c["primary_key"]}


def expected_indexes() -> set[str]:
    """The image indexes of migration 0013 on this database (see tests/test_catalog_indexes.py, and
    0027, which took the batch's indexes off the image rows, and 0029 the free images' partial ones)."""
    at_0013 = BOTH - {"image_asset_once_per_project"} | {"image_sha256_unique_in_project", BATCH_INDEX}
    if connection.vendor == "postgresql":
        return at_0013 | POSTGRES_ONLY | {"boards_image_free_upload_idx", "boards_image_free_filename_idx"}
    return at_0013 | SQLITE_ONLY | {"boards_imag_project_c63c9a_idx"}


BATCH_INDEX = "boards_imag_batch_i_a8243c_idx"  # (batch_id, id), until 0027


class World:
    """A workspace's data at 0013, made with the historical models."""

    def __init__(self, apps):
        self.apps = apps
        self.m = {name: apps.get_model("boards", name) for _app, name in KEPT[2:]}
        User = apps.get_model("accounts", "User")
        Workspace = apps.get_model("accounts", "Workspace")
        Membership = apps.get_model("accounts", "Membership")
        self.manager = User.objects.create(email="manager@acme.test", password="!")
        self.labeler = User.objects.create(email="labeler@acme.test", password="!")
        self.reviewer = User.objects.create(email="reviewer@acme.test", password="!")
        self.acme = Workspace.objects.create(name="Acme", slug="acme")
        self.other = Workspace.objects.create(name="Other", slug="other")
        for user, role in ((self.manager, "manager"), (self.labeler, "labeler"), (self.reviewer, "reviewer")):
            Membership.objects.create(workspace=self.acme, user=user, role=role)

    def project(self, workspace, name, slug):
        return self.m["Project"].objects.create(workspace=workspace, name=name, slug=slug, created_at=T0)

    def batch(self, project, name, status, **kwargs):
        return self.m["Batch"].objects.create(project=project, name=name, status=status, uploaded_at=T0, **kwargs)

    def image(self, project, n, batch=None, **kwargs):
        """An image named as the app stores its files: images/<project id>/<sha[:2]>/<sha>.jpg."""
        digest = sha(n)
        return self.m["Image"].objects.create(
            project=project,
            batch=batch,
            file=f"images/{project.pk}/{digest[:2]}/{digest}.jpg",
            thumbnail=f"thumbs/{project.pk}/{digest[:2]}/{digest}.jpg",
            width=640 + n,
            height=480 + n,
            sha256=digest,
            original_filename=kwargs.pop("original_filename", f"photo {n}, «{project.slug}».jpg"),
            uploaded_at=T0 + timedelta(minutes=n),
            **kwargs,
        )

    def event(self, batch, kind, **kwargs):
        self.m["BatchEvent"].objects.create(
            project_id=batch.project_id, batch=batch, batch_name=batch.name, kind=kind, actor=self.manager, **kwargs
        )


@pytest.fixture
def world(old_apps):
    """Two workspaces at 0013.

    Acme: Parcels (every column, a queue, review history), Signs (a picture of
    Parcels's, by sha256, and one of its own), a second project named Parcels,
    one named "Parcels (2)", one with no image. Other: a Parcels of its own
    holding the picture Acme's projects share.
    """
    w = World(old_apps)
    Job, Annotation, ReviewMark = w.m["Job"], w.m["Annotation"], w.m["ReviewMark"]
    LabelClass, Tag, QueueEntry = w.m["LabelClass"], w.m["Tag"], w.m["QueueEntry"]

    parcels = w.project(w.acme, "Parcels", "parcels")
    signs = w.project(w.acme, "Signs", "signs")
    parcels_again = w.project(w.acme, "Parcels", "parcels-archive")
    parcels_two = w.project(w.acme, "Parcels (2)", "parcels-2")
    empty = w.project(w.acme, "Empty", "empty")
    theirs = w.project(w.other, "Parcels", "parcels")
    w.projects = {
        "parcels": parcels,
        "signs": signs,
        "again": parcels_again,
        "two": parcels_two,
        "empty": empty,
        "theirs": theirs,
    }

    car = LabelClass.objects.create(project=parcels, name="car", color="#ff0000", hotkey=1)
    van = LabelClass.objects.create(project=parcels, name="van")
    sign = LabelClass.objects.create(project=signs, name="stop sign")
    night, rain = Tag.objects.create(project=parcels, name="night"), Tag.objects.create(project=parcels, name="rain")
    blurry = Tag.objects.create(project=signs, name="blurry")

    unassigned = w.batch(parcels, "Morning, «run» 1", "unassigned", upload_name="api run")
    annotating = w.batch(parcels, "Annotating", "annotating", priority=1)
    queued = w.batch(parcels, "Queue", "annotating", priority=2)
    review = w.batch(parcels, "Review", "review")
    dataset = w.batch(parcels, "Dataset", "dataset", sample_seed=42)
    archived = w.batch(parcels, "Archived", "archived")
    split = w.batch(parcels, "Review (part 2)", "review", source="split", split_from=review)

    shared = w.image(parcels, 1, unassigned)
    w.image(parcels, 2, unassigned)
    a = w.image(parcels, 3, annotating, annotation_state="annotated", annotation_version=2, annotated_by=w.labeler)
    w.image(parcels, 4, annotating)
    q1, q2, q3 = (w.image(parcels, n, queued) for n in (5, 6, 7))
    r1 = w.image(
        parcels,
        8,
        review,
        annotation_state="annotated",
        review_state="rejected",
        review_comment="Box the van too",
        annotation_version=3,
        annotated_by=w.labeler,
        rejections=1,
        split="train",
    )
    r2 = w.image(parcels, 9, split, annotation_state="empty", review_state="approved", annotated_by=w.labeler)
    d = w.image(parcels, 10, dataset, annotation_state="annotated", review_state="approved", split="valid")
    w.image(parcels, 11, None, archived_from=archived)  # archived: out of its batch, remembered
    w.image(parcels, 12)  # in no batch

    w.image(signs, 1, w.batch(signs, "Street", "unassigned"), original_filename="same picture.jpg")
    s2 = w.image(signs, 13, w.batch(signs, "Signs in review", "review"), annotation_state="annotated")
    w.image(parcels_again, 14, w.batch(parcels_again, "Old", "unassigned"))
    w.image(parcels_two, 15)
    w.image(theirs, 1, w.batch(theirs, "Theirs", "dataset"))

    boxes = [
        Annotation.objects.create(image=a, label=car, x=1, y=2, width=30.5, height=40),
        Annotation.objects.create(image=r1, label=car, x=5, y=5, width=10, height=10),
        Annotation.objects.create(image=d, label=van, x=0, y=0, width=64, height=48),
        Annotation.objects.create(image=s2, label=sign, x=3, y=3, width=8, height=8),
    ]
    ReviewMark.objects.create(
        image=r1, annotation=boxes[1], x=5, y=5, width=10, height=10, comment="Too loose", author=w.reviewer
    )
    ReviewMark.objects.create(image=r1, x=40, y=40, width=9, height=9, comment="Missed van", author=w.reviewer)
    ReviewMark.objects.create(
        image=r1, x=0, y=0, width=0, height=0, comment="Box the van too", from_comment=True, author=w.reviewer
    )
    shared.tags.add(night, rain)
    d.tags.add(night)
    s2.tags.add(blurry)

    Job.objects.create(batch=annotating, labeler=w.labeler, created_by=w.manager, name="Annotating job")
    Job.objects.create(batch=queued, labeler=None, created_by=w.manager)  # the label queue
    Job.objects.create(batch=review, labeler=w.labeler, reviewer=w.reviewer, state="review")
    Job.objects.create(batch=dataset, labeler=w.labeler, state="complete")
    Job.objects.create(batch=archived, labeler=w.labeler, state="cancelled")
    QueueEntry.objects.create(project=parcels, batch=queued, image=q1, priority=2, queued_at=T0)
    QueueEntry.objects.create(
        project=parcels, batch=queued, image=q2, priority=2, queued_at=T0, reserved_by=w.labeler, reserved_at=T0
    )
    QueueEntry.objects.create(
        project=parcels,
        batch=queued,
        image=q3,
        priority=2,
        queued_at=T0,
        reserved_by=w.labeler,
        reserved_at=T0,
        pinned=True,
    )
    w.event(unassigned, "created", to_status="unassigned", detail={"images": 2, "source": "api"})
    w.event(annotating, "assigned", from_status="unassigned", to_status="annotating", detail={"labeler": "labeler"})
    w.event(review, "rejected", from_status="review", to_status="annotating", detail={"rejected": 1})
    w.event(r2.batch, "split", detail={"from": review.pk})
    w.event(archived, "archived", from_status="unassigned", to_status="archived")
    w.m["BatchEvent"].objects.create(project=parcels, batch=None, batch_name="Gone", kind="deleted")
    return w


def test_it_keeps_every_row_and_gives_each_image_its_workspaces_asset(world):
    before = snapshot(world.apps)
    first_of = {}  # (workspace, sha256) -> the image of the lowest project
    for image in world.m["Image"].objects.select_related("project").order_by("project_id", "pk"):
        first_of.setdefault((image.project.workspace_id, image.sha256), image)

    apps = migrate([AFTER])

    after = snapshot(apps)
    assert after == before
    counts = {name: len(rows) for name, rows in after.items() if name not in ("Workspace", "User", "Project")}
    assert counts == {
        "LabelClass": 3,
        "Tag": 3,
        "Batch": 11,
        "Job": 5,
        "BatchEvent": 6,
        "Image": 17,
        "Annotation": 4,
        "ReviewMark": 3,
        "QueueEntry": 3,
        "Image.tags": 4,
    }
    Image, Asset = apps.get_model("boards", "Image"), apps.get_model("boards", "Asset")
    assert Asset.objects.count() == len(first_of) == 16  # 15 pictures in Acme, 1 in Other
    assert not Image.objects.filter(asset=None).exists()
    for image in Image.objects.select_related("asset", "project"):
        first = first_of[(image.project.workspace_id, image.sha256)]
        asset = image.asset
        assert asset.workspace_id == image.project.workspace_id
        assert (asset.sha256, asset.file.name, asset.thumbnail.name) == (
            first.sha256,
            first.file.name,
            first.thumbnail.name,
        )
        assert (asset.width, asset.height, asset.original_filename, asset.uploaded_at) == (
            first.width,
            first.height,
            first.original_filename,
            first.uploaded_at,
        )
    assert image_indexes() == expected_indexes() | {"image_asset_once_per_project"}


def test_projects_sharing_a_picture_share_its_asset_within_a_workspace_only(world):
    Image = migrate([AFTER]).get_model("boards", "Image")
    p = world.projects
    copies = {i.project_id: i for i in Image.objects.filter(sha256=sha(1)).select_related("asset")}
    assert set(copies) == {p["parcels"].pk, p["signs"].pk, p["theirs"].pk}
    ours, signs, theirs = copies[p["parcels"].pk], copies[p["signs"].pk], copies[p["theirs"].pk]
    assert signs.asset_id == ours.asset_id != theirs.asset_id
    assert ours.asset.file.name == f"images/{p['parcels'].pk}/00/{sha(1)}.jpg"
    assert theirs.asset.file.name == f"images/{p['theirs'].pk}/00/{sha(1)}.jpg"
    assert signs.file.name == f"images/{p['signs'].pk}/00/{sha(1)}.jpg"  # each row keeps its own file
    assert signs.original_filename == "same picture.jpg" != ours.asset.original_filename
    assert Counter(Image.objects.values_list("asset_id", "project_id")).most_common(1)[0][1] == 1


def test_each_project_with_pictures_of_its_own_gets_a_dataset_named_after_it(world):
    apps = migrate([AFTER])
    Asset, Dataset = apps.get_model("boards", "Asset"), apps.get_model("boards", "Dataset")
    p = world.projects
    names = set(Dataset.objects.values_list("workspace_id", "name"))
    # Lowest project first: the second "Parcels" of Acme takes "Parcels (2)", so the project named
    # "Parcels (2)" gets a name of its own too; "Empty" has no picture and gets no dataset.
    assert names == {
        (world.acme.pk, "Parcels"),
        (world.acme.pk, "Signs"),
        (world.acme.pk, "Parcels (2)"),
        (world.acme.pk, "Parcels (2) (2)"),
        (world.other.pk, "Parcels"),
    }
    dataset_of = dict(Asset.objects.values_list("sha256", "dataset__name").filter(workspace=world.acme.pk))
    assert dataset_of[sha(14)] == "Parcels (2)" and dataset_of[sha(15)] == "Parcels (2) (2)"
    by_dataset = Counter(Asset.objects.values_list("dataset__workspace_id", "dataset__name"))
    assert by_dataset[(world.acme.pk, "Parcels")] == 12
    assert by_dataset[(world.acme.pk, "Signs")] == 1  # its copy of Parcels's picture is Parcels's asset
    assert by_dataset[(world.other.pk, "Parcels")] == 1
    assert sum(by_dataset.values()) == Asset.objects.count()
    assert all(a.dataset.workspace_id == a.workspace_id for a in Asset.objects.select_related("dataset"))
    created = dict(Dataset.objects.filter(workspace=world.acme.pk).values_list("name", "created_at"))
    assert created["Signs"] == p["signs"].created_at
    # Each project's later uploads extend its own dataset; one with none gets one at its first upload.
    Project = apps.get_model("boards", "Project")
    upload_to = dict(Project.objects.values_list("pk", "dataset__name"))
    assert upload_to[p["signs"].pk] == "Signs" and upload_to[p["parcels"].pk] == "Parcels"
    assert upload_to[p["empty"].pk] is None


def test_it_goes_back_to_0013_with_every_image(world):
    before = snapshot(world.apps)
    migrate([AFTER])

    apps = migrate([BEFORE])

    assert snapshot(apps) == before
    tables = connection.introspection.table_names()
    assert "boards_asset" not in tables and "boards_dataset" not in tables
    assert "asset_id" not in {
        c.name for c in connection.introspection.get_table_description(connection.cursor(), "boards_image")
    }


def test_going_back_keeps_the_image_indexes_of_0013(world):
    migrate([AFTER])
    migrate([BEFORE])
    assert image_indexes() == expected_indexes()


def test_0019_drops_the_sha256_index_that_asset_and_project_make_redundant_and_keeps_the_others(world):
    migrate([AFTER])
    at_0016 = image_indexes()
    assert "image_sha256_unique_in_project" in at_0016

    migrate([("boards", "0019_image_sha256_constraint_redundant")])
    assert image_indexes() == at_0016 - {"image_sha256_unique_in_project"}

    migrate([("boards", "0018_asset_filename_trigram_index")])
    assert image_indexes() == at_0016
