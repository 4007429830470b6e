"""The catalog's image indexes, which differ by database (migration 0006), and the fixed
number of queries a catalog batch takes whatever its size."""

import pytest
from django.db import connection

from boards import services
from boards.catalog import BY_FILENAME, ORDERED, CatalogFilter, Sample
from boards.models import Batch, FreeImage, Image
from tests.catalog_data import make_images
from tests.test_catalog_batches import create

pytestmark = pytest.mark.django_db

POSTGRES_ONLY = {
    "boards_image_annotated_idx",
    "boards_image_reviewed_idx",
    "boards_image_filename_trgm_idx",
}
SQLITE_ONLY = {
    "boards_imag_project_29d2e3_idx",
    "boards_imag_project_49b92a_idx",
    "boards_imag_project_22c050_idx",
}
BOTH = {
    "boards_imag_project_f7c479_idx",
    "boards_imag_project_6b344f_idx",
    "boards_image_annotated_by_id_cd3b1af9",
    "image_asset_once_per_project",
    "image_archived_from_idx",
}


def image_indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, Image._meta.db_table))


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def test_each_database_has_its_own_catalog_indexes():
    indexes = image_indexes()
    assert indexes >= BOTH
    # Said by (asset, project) since the workspace catalog, and one more write per moved image.
    assert "image_sha256_unique_in_project" not in indexes
    # The batch is the placement's (0027): no index of the image's rows holds it any more.
    assert not indexes & {"boards_imag_batch_i_a8243c_idx", "boards_imag_project_c63c9a_idx"}
    # Free images are their own table's rows (0029): no partial index of the image's rows for them.
    assert not indexes & {
        "boards_image_free_upload_idx",
        "boards_image_free_filename_idx",
        "boards_image_free_sqlite_idx",
    }
    with connection.cursor() as cursor:
        free = connection.introspection.get_constraints(cursor, FreeImage._meta.db_table)
    assert free["free_image_upload_idx"]["columns"] == ["project_id", "uploaded_at", "image_id", "width", "height"]
    assert free["free_image_name_idx"]["columns"] == ["project_id", "original_filename", "image_id"]
    if connection.vendor == "postgresql":
        assert indexes >= POSTGRES_ONLY and not indexes & SQLITE_ONLY
    else:
        assert indexes >= SQLITE_ONLY and not indexes & POSTGRES_ONLY


def free_page(project, **filters):
    """The query choosing a page of the catalog's free images, newest first, as ``catalog_page`` pages them."""
    wanted = CatalogFilter(state="free", **filters)
    time, ident = wanted.keys
    return wanted.images(project, in_upload_order=True).order_by(f"-{time}", f"-{ident}").values("pk")[:61]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_sqlite_reads_the_free_images_newest_first_from_their_index(project):
    """The free images' own rows yield their upload order, sizes included, without a sort."""
    make_images(project, 5)
    sql, params = free_page(project, min_width=10).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        shown = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "free_image_upload_idx" in shown
    assert "TEMP B-TREE" not in shown


def first_free_by_name(project):
    """The query choosing "the first 25,000 free images by file name", as a catalog batch chooses them."""
    sample = Sample(n=25_000, mode=ORDERED, order=BY_FILENAME)
    pool = CatalogFilter(state="free").images(project).filter(free__isnull=False)
    return pool.order_by(*sample.ordering(free=True)).values("pk")[: sample.n]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_sqlite_reads_the_first_free_images_by_name_from_their_name_index(project):
    make_images(project, 5)
    sql, params = first_free_by_name(project).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        shown = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "free_image_name_idx" in shown
    assert "TEMP B-TREE" not in shown


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the partial and trigram indexes are PostgreSQL's")
def test_postgres_serves_each_filter_from_its_partial_or_trigram_index(project):
    make_images(project, 30, names=[f"cam{n:02d}_shot.jpg" for n in range(30)])
    images = Image.objects.filter(project=project)
    with connection.cursor() as cursor:
        # Statistics of these rows, not of what earlier tests committed and autovacuum sampled.
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
        # A few rows: make the planner show what it can use. Bitmap scans only, first,
        # so that no btree index read whole stands in for the trigram index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
    assert "boards_image_filename_trgm_idx" in plan(Image.objects.filter(original_filename__icontains="Cam1"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = on")
        cursor.execute("SET LOCAL enable_indexonlyscan = on")
    assert "boards_image_reviewed_idx" in plan(images.filter(review_state="rejected"))
    assert "boards_image_annotated_idx" in plan(
        images.exclude(annotation_state="unannotated").order_by("-uploaded_at", "-pk")[:10]
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no INCLUDE and keeps its own indexes")
@pytest.mark.django_db(transaction=True)  # VACUUM, which marks the pages all-visible, runs outside a transaction
def test_postgres_reads_the_free_images_sizes_from_their_index(project):
    """With a size bound, the free images ("not in a batch") are chosen from their own rows' index alone (0029)."""
    make_images(project, 30)
    newest = free_page(project, min_width=10)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {FreeImage._meta.db_table}")
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
        try:
            # A few rows: make the planner show what it can use (a hash join and a sort are cheaper for 30).
            for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin", "sort"):
                cursor.execute(f"SET enable_{setting} = off")
            shown = plan(newest)
        finally:
            for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin", "sort"):
                cursor.execute(f"RESET enable_{setting}")
    assert "Index Only Scan Backward using free_image_upload_idx" in shown
    assert "Sort" not in shown
    with connection.cursor() as cursor:
        try:
            for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin", "sort"):
                cursor.execute(f"SET enable_{setting} = off")
            by_name = plan(first_free_by_name(project))
        finally:
            for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin", "sort"):
                cursor.execute(f"RESET enable_{setting}")
    assert "using free_image_name_idx" in by_name and "Sort" not in by_name


def test_only_archived_images_are_in_the_archived_from_index(project, make_batch, manager):
    """A partial index: PostgreSQL writes nothing to it when other images change batch."""
    with connection.cursor() as cursor:
        constraint = connection.introspection.get_constraints(cursor, Image._meta.db_table)["image_archived_from_idx"]
    assert constraint["columns"] == ["archived_from_id"] and constraint["index"]
    assert "boards_image_archived_from_id_ef9f7b02" not in image_indexes()  # the full index it replaces
    batch = make_batch(2)
    services.archive(batch=batch, actor=manager)
    restored = services.restore_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    assert restored.images.count() == 2


@pytest.mark.parametrize("sample", [None, {"n": 5, "mode": "random", "seed": 3}, {"n": 5, "mode": "ordered"}])
def test_a_catalog_batch_takes_the_same_few_queries_for_any_number_of_images(
    sample, manager, project, django_assert_max_num_queries
):
    # Placing the images is one statement on PostgreSQL, two on SQLite (no writes inside WITH).
    most = 12 if connection.vendor == "postgresql" else 13
    make_images(project, 10)
    with django_assert_max_num_queries(most):
        small = create(project, manager, name="Small", filters=CatalogFilter(), sample=sample)
    make_images(project, 300)
    with django_assert_max_num_queries(most):
        large = create(project, manager, name="Large", filters=CatalogFilter(), sample=sample)
    assert small.taken == (5 if sample else 10)
    assert large.taken == (5 if sample else 300)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's")
def test_postgres_searches_the_workspace_catalogs_names_through_a_trigram_index(project):
    from boards.models import Asset

    make_images(project, 30, names=[f"cam{n:02d}_shot.jpg" for n in range(30)])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Asset._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
    assert "boards_asset_filename_trgm_idx" in plan(Asset.objects.filter(original_filename__icontains="Cam1"))
