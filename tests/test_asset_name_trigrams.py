"""SQLite's trigram index of the assets' names (migration 0030): the same answers as ``LIKE``, found faster."""

import pytest
from django.db import connection

from boards import catalog
from boards.models import Asset, Dataset
from tests.test_workspace_catalog_views import make_assets

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own trigram index (0030)")

NAMES = [
    "IMG_0001.JPG",
    "img_0001 copy.jpg",
    "img%0001.jpg",
    'it\'s "quoted".jpg',
    "back\\slash.png",
    "Ünïcødé façade.jpg",
    "ÜNÏCØDÉ FAÇADE.JPG",
    "東京タワー_夜景.jpg",
    "😀 party 😀.heic",
    "a*b?c[d].jpg",
    "camera OR lens.jpg",
    "NEAR(cam).jpg",
]
TERMS = [
    "img_0001",
    "IMG_0001",
    "%0001",
    "_000",
    '"quoted"',
    "it's",
    '"',
    "\\sla",
    "ünïcødé",
    "ÜNÏCØDÉ",
    "façade",
    "東京タ",
    "夜景",
    "😀 p",
    "a*b",
    "?c[",
    "OR lens",
    "NEAR(",
    "cam) ",
    "zzz",
    "jp",
    "",
]


@pytest.fixture
def loose(workspace):
    return Dataset.objects.create(workspace=workspace, name="Loose")


def found(dataset, text: str) -> set[str]:
    wanted = catalog.WorkspaceFilter(file=text)
    return set(catalog.workspace_assets(dataset.workspace_id, wanted).values_list("original_filename", flat=True))


def in_trigrams(text: str) -> set[int]:
    """The asset ids the trigram index itself holds for ``text`` (no ``LIKE`` after it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM boards_asset_name_trigrams WHERE boards_asset_name_trigrams MATCH %s",
            ['"' + text.replace('"', '""') + '"'],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("text", TERMS)
def test_a_file_name_filter_finds_what_icontains_finds(loose, text):
    make_assets(loose, names=NAMES)
    make_assets(Dataset.objects.create(workspace=loose.workspace, name="Other"), names=["IMG_0001 elsewhere.jpg"])
    expected = set(
        Asset.objects.filter(workspace_id=loose.workspace_id, original_filename__icontains=text).values_list(
            "original_filename", flat=True
        )
    )
    assert found(loose, text) == expected
    if text in ("img_0001", "façade", "東京タ"):
        assert expected  # the cases that must find something do


def test_the_filter_stays_in_its_workspace(loose):
    from tests.factories import WorkspaceFactory

    elsewhere = Dataset.objects.create(workspace=WorkspaceFactory(), name="Theirs")
    make_assets(elsewhere, names=["secret_gate.jpg"])
    make_assets(loose, names=["my_gate.jpg"])
    assert found(loose, "gate") == {"my_gate.jpg"}


@sqlite_only
def test_the_index_follows_every_insert_rename_and_delete(loose):
    first, second = make_assets(loose, names=["harbour_crane.jpg", "harbour_ship.jpg"])
    assert in_trigrams("harbour") == {first.pk, second.pk}
    Asset.objects.filter(pk=first.pk).update(original_filename="quay_crane.jpg")
    assert in_trigrams("harbour") == {second.pk}
    assert in_trigrams("quay_cr") == {first.pk}
    Asset.objects.filter(pk=second.pk).delete()
    assert in_trigrams("harbour") == set()
    assert found(loose, "crane") == {"quay_crane.jpg"}


@sqlite_only
def test_its_triggers_are_installed():
    """SQLite drops a table's triggers when a migration rebuilds it: such a migration must install them again."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'boards_asset'")
        names = {row[0] for row in cursor.fetchall()}
    assert {f"boards_asset_name_trigrams_{event}" for event in ("insert", "delete", "update")} <= names


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@sqlite_only
def test_a_name_in_few_assets_is_read_by_their_ids_and_one_in_many_as_before(loose, monkeypatch):
    """Without statistics, the few names found drive, each asset read by its id, not the workspace's
    index; a name found in more than ``FEW`` assets, or one of one or two characters, reads the names' index."""
    from boards.catalog import workspace

    make_assets(loose, 5)

    def plan(text: str) -> str:
        assets = catalog.workspace_assets(loose.workspace_id, catalog.WorkspaceFilter(file=text))
        return _plan(assets.order_by().values("pk")[: catalog.paging.FEW + 1])

    few = plan("oose0")
    assert "INTEGER PRIMARY KEY" in few and "boards_asset_name_sqlite_idx" not in few
    assert "COVERING INDEX boards_asset_name_sqlite_idx" in plan("oo")
    monkeypatch.setattr(workspace, "FEW", 4)
    assert workspace.trigram_ids("oose0") is None
    assert "COVERING INDEX boards_asset_name_sqlite_idx" in plan("oose0")
    assert found(loose, "oose0") == set(Asset.objects.values_list("original_filename", flat=True))


@pytest.mark.django_db(transaction=True)
@sqlite_only
def test_migration_0030_indexes_the_names_already_there_and_goes_back():
    from django.db.migrations.executor import MigrationExecutor

    from accounts.models import Workspace
    from tests.test_migration_workspace_catalog import migrate

    before, after = ("boards", "0029_free_images"), ("boards", "0030_asset_names_trigrams_sqlite")
    dataset = Dataset.objects.create(workspace=Workspace.objects.create(name="W", slug="w"), name="D")
    try:
        migrate([before])
        assert "boards_asset_name_trigrams" not in connection.introspection.table_names()
        (old,) = make_assets(dataset, names=["lighthouse_dawn.jpg"])  # written while there is no index
        migrate([after])
        assert in_trigrams("lighthouse") == {old.pk}
        assert found(dataset, "hthouse_d") == {"lighthouse_dawn.jpg"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
