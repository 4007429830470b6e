"""PostgreSQL sessions plan for data in memory, without parallel workers (config/settings.py)."""

import pytest
from django.db import connection

from config.settings import PG_PLANNER_OPTIONS, database_settings


def test_a_postgresql_url_gets_the_planner_options_before_its_own():
    plain = database_settings("postgres://bb@db.internal:5432/batchboard", PG_PLANNER_OPTIONS)
    assert plain["OPTIONS"] == {"options": PG_PLANNER_OPTIONS}
    own = database_settings("postgres://bb@db/bb?options=-c%20random_page_cost%3D2&sslmode=require", PG_PLANNER_OPTIONS)
    assert own["OPTIONS"] == {"options": f"{PG_PLANNER_OPTIONS} -c random_page_cost=2", "sslmode": "require"}


def test_an_empty_setting_leaves_the_servers_planner_and_sqlite_never_gets_it():
    assert "options" not in database_settings("postgres://bb@db/bb", "  ").get("OPTIONS", {})
    assert "options" not in database_settings("sqlite:////tmp/bb.sqlite3", PG_PLANNER_OPTIONS).get("OPTIONS", {})


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner settings")
def test_its_postgresql_sessions_run_with_them():
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
