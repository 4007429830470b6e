"""Catalog filters, each alone and combined; parsing from a URL; keyset paging; counts."""

from datetime import date, timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from boards import catalog
from boards.catalog import CatalogFilter, CatalogState
from boards.models import Annotation, AnnotationState, BatchStatus, LabelClass, ReviewState
from tests.catalog_data import ids, make_images
from tests.factories import BatchFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def matching(project, **fields) -> set[int]:
    return set(catalog.filtered_images(project, CatalogFilter(**fields)).values_list("pk", flat=True))


@pytest.fixture
def states(project):
    """One image in each catalog state, plus an annotated-empty one."""
    unassigned = BatchFactory(project=project, name="Waiting")
    working = BatchFactory(project=project, name="Working", status=BatchStatus.ANNOTATING)
    return {
        "free": make_images(project, 1)[0],
        "queued": make_images(project, 1, batch=unassigned)[0],
        "annotated": make_images(project, 1, batch=working, annotation_state=AnnotationState.ANNOTATED)[0],
        "empty": make_images(project, 1, batch=working, annotation_state=AnnotationState.EMPTY)[0],
        "approved": make_images(
            project, 1, batch=working, annotation_state=AnnotationState.ANNOTATED, review_state=ReviewState.APPROVED
        )[0],
        "rejected": make_images(
            project, 1, batch=working, annotation_state=AnnotationState.ANNOTATED, review_state=ReviewState.REJECTED
        )[0],
    }


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14, UTC-11
def test_dates_at_the_ends_of_the_calendar_are_no_bound(project, settings, zone):
    settings.TIME_ZONE = zone
    images = make_images(project, 2)
    assert matching(project, uploaded_to=date.max) == ids(images)
    assert matching(project, uploaded_from=date.min, uploaded_to=date.max) == ids(images)
    assert matching(project, uploaded_from=date.max) == set()
    assert matching(project, uploaded_to=date.min) == set()


def test_no_filter_matches_every_image_of_the_project_only(project):
    mine = make_images(project, 3)
    make_images(ProjectFactory(workspace=project.workspace), 2)
    assert matching(project) == ids(mine)


def test_file_name_contains_ignores_case(project):
    hits = make_images(project, names=["Cam3_0001.jpg", "site/cam3-b.png"])
    make_images(project, names=["cam4_0001.jpg"])
    assert matching(project, file="CAM3") == ids(hits)


def test_tag_matches_images_with_that_tag_in_this_project(project):
    night = make_images(project, 2, tags=["night"])
    make_images(project, 2, tags=["day"])
    make_images(ProjectFactory(workspace=project.workspace), 1, tags=["night"])
    assert matching(project, tag="night") == ids(night)
    assert matching(project, tag="nope") == set()


def test_has_class_matches_images_with_a_box_of_that_class(project):
    car, bus = (LabelClass.objects.create(project=project, name=n) for n in ("car", "bus"))
    with_car, with_bus, with_both = make_images(project, 3)
    make_images(project, 1)
    Annotation.objects.bulk_create(
        [
            Annotation(image=with_car, label=car, x=0, y=0, width=5, height=5),
            Annotation(image=with_car, label=car, x=9, y=9, width=5, height=5),
            Annotation(image=with_bus, label=bus, x=0, y=0, width=5, height=5),
            Annotation(image=with_both, label=car, x=0, y=0, width=5, height=5),
            Annotation(image=with_both, label=bus, x=0, y=0, width=5, height=5),
        ]
    )
    assert matching(project, label="car") == {with_car.pk, with_both.pk}
    assert matching(project, label="bus", tag="") == {with_bus.pk, with_both.pk}


def test_a_tag_and_a_class_together_match_each_image_having_both_once_whichever_way_it_is_read(project):
    """``matching_ids`` starts from the tag's links on PostgreSQL, from the images elsewhere: the same ids,
    each once however many boxes of the class an image has, with the other fields applied as well."""
    car = LabelClass.objects.create(project=project, name="car")
    both = make_images(project, 3, tags=["night", "rain"])
    wide = make_images(project, 1, tags=["night"], width=2000)  # both, but too wide
    make_images(project, 1, tags=["night"])  # the tag without the class
    car_only = make_images(project, 1, tags=["rain"])
    elsewhere = ProjectFactory(workspace=project.workspace)
    their_car = LabelClass.objects.create(project=elsewhere, name="car")
    theirs = make_images(elsewhere, 1, tags=["night"])
    boxes = [Annotation(image=i, label=car, x=0, y=0, width=5, height=5) for i in both + wide + car_only]
    boxes += [Annotation(image=both[0], label=car, x=9, y=9, width=5, height=5)]  # two boxes, one image
    boxes += [Annotation(image=theirs[0], label=their_car, x=0, y=0, width=5, height=5)]
    Annotation.objects.bulk_create(boxes)
    wanted = CatalogFilter(tag="night", label="car", max_width=1000)

    found = list(wanted.matching_ids(project))
    assert sorted(found) == sorted(ids(both))  # not the tag alone, the class alone, too wide or elsewhere
    assert sorted(CatalogFilter(tag="night", label="car").matching_ids(project)) == sorted(ids(both + wide))
    assert list(CatalogFilter(tag="night", label="bus").matching_ids(project)) == []
    assert catalog.count_matching(project, wanted) == (3, True)
    page = catalog.catalog_page(project, wanted, size=2)
    rest = catalog.catalog_page(project, wanted, before=page.older, size=2)
    assert [i.pk for i in page.images + rest.images] == [i.pk for i in reversed(both)]


def test_postgresql_reads_fewer_ids_first_than_sqlite(project, monkeypatch):
    """PostgreSQL, which plans a page in upload order by its statistics, reads the matching ids first only up
    to PLANNED_FEW, to catch a rare filter; SQLite, steered to the upload order, up to FEW (``catalog_page``)."""
    from django.db import connection

    monkeypatch.setattr(catalog.paging, "FEW", 4)
    monkeypatch.setattr(catalog.paging, "PLANNED_FEW", 2)
    images = make_images(project, 3)
    page = catalog.catalog_page(project, CatalogFilter(state="free"), size=2)
    assert [i.pk for i in page.images] == [images[2].pk, images[1].pk] and page.older == images[1].pk
    assert page.count == (None if connection.vendor == "postgresql" else 3)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (CatalogState.FREE, {"free"}),
        (CatalogState.QUEUED, {"queued"}),
        (CatalogState.ANNOTATED, {"annotated", "empty"}),
        (CatalogState.APPROVED, {"approved"}),
        (CatalogState.REJECTED, {"rejected"}),
    ],
)
def test_each_state_matches_its_images(state, expected, project, states):
    assert matching(project, state=state) == {states[name].pk for name in expected}


def test_the_states_split_the_images_with_none_left_over(project, states):
    seen = [matching(project, state=s) for s in CatalogState.values]
    assert sum(len(s) for s in seen) == len(states)
    assert set().union(*seen) == {i.pk for i in states.values()}
    for image in catalog.catalog_page(project, CatalogFilter()).images:
        assert image.pk in matching(project, state=image.catalog_state)


def test_batch_matches_the_images_in_that_batch(project):
    batch = BatchFactory(project=project)
    inside = make_images(project, 2, batch=batch)
    make_images(project, 2)
    assert matching(project, batch=batch.pk) == ids(inside)


def test_upload_dates_are_whole_days_inclusive(project, settings):
    today = timezone.localdate()
    start = timezone.make_aware(timezone.datetime.combine(today - timedelta(days=3), timezone.datetime.min.time()))
    day0, day1, day2 = (make_images(project, 1, uploaded_at=start + timedelta(days=d, hours=23))[0] for d in range(3))
    first = today - timedelta(days=3)
    assert matching(project, uploaded_from=first + timedelta(days=1)) == {day1.pk, day2.pk}
    assert matching(project, uploaded_to=first + timedelta(days=1)) == {day0.pk, day1.pk}
    assert matching(project, uploaded_from=first + timedelta(days=1), uploaded_to=first + timedelta(days=1)) == {
        day1.pk
    }


def test_width_and_height_ranges_are_inclusive(project):
    small = make_images(project, 1, width=320, height=240)[0]
    hd = make_images(project, 1, width=1280, height=720)[0]
    tall = make_images(project, 1, width=720, height=1280)[0]
    assert matching(project, min_width=720) == {hd.pk, tall.pk}
    assert matching(project, max_width=720) == {small.pk, tall.pk}
    assert matching(project, min_height=720, max_height=720) == {hd.pk}
    assert matching(project, min_width=300, max_width=800, max_height=300) == {small.pk}


def test_filters_combine_with_and(project):
    car = LabelClass.objects.create(project=project, name="car")
    batch = BatchFactory(project=project, name="Queue")
    target = make_images(project, names=["cam1_a.jpg"], tags=["night"], width=1920, height=1080)[0]
    decoys = [
        make_images(project, names=["cam2_a.jpg"], tags=["night"], width=1920, height=1080)[0],  # file
        make_images(project, names=["cam1_b.jpg"], tags=["day"], width=1920, height=1080)[0],  # tag
        make_images(project, names=["cam1_c.jpg"], tags=["night"], width=640, height=480)[0],  # size
        make_images(project, names=["cam1_d.jpg"], tags=["night"], width=1920, height=1080, batch=batch)[0],  # state
    ]
    Annotation.objects.bulk_create(
        Annotation(image=i, label=car, x=0, y=0, width=5, height=5) for i in [target, *decoys]
    )
    combined = {
        "file": "cam1",
        "tag": "night",
        "label": "car",
        "state": "free",
        "min_width": 1000,
        "uploaded_from": timezone.localdate() - timedelta(days=5),
        "uploaded_to": timezone.localdate(),
    }
    assert matching(project, **combined) == {target.pk}
    assert matching(project, **{**combined, "label": "bus"}) == set()
    assert matching(project, **{**combined, "state": "queued"}) == {decoys[3].pk}


# --- the URL ------------------------------------------------------------------------


def test_a_filter_round_trips_through_its_query_string():
    query = QueryDict(
        "file=cam+3&tag=night&class=car&state=free&batch=12&from=2025-03-01&to=2025-03-31"
        "&min_width=640&max_width=1920&min_height=480&max_height=1080"
    )
    filters = CatalogFilter.from_query(query)
    assert filters == CatalogFilter(
        file="cam 3",
        tag="night",
        label="car",
        state="free",
        batch=12,
        uploaded_from=date(2025, 3, 1),
        uploaded_to=date(2025, 3, 31),
        min_width=640,
        max_width=1920,
        min_height=480,
        max_height=1080,
    )
    assert not filters.errors
    assert CatalogFilter.from_query(QueryDict(filters.querystring)) == filters


def test_empty_parameters_are_no_filter():
    filters = CatalogFilter.from_query(QueryDict("file=&tag=&state=&min_width="))
    assert filters.is_empty and filters.querystring == "" and not filters.errors


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("state=lost", "state"),
        ("batch=abc", "batch"),
        ("from=31/03/2025", "from"),
        ("min_width=-3", "min_width"),
        ("max_height=big", "max_height"),
        ("from=2025-03-31&to=2025-03-01", "to"),
    ],
)
def test_a_value_that_does_not_parse_is_dropped_and_explained(query, param):
    filters = CatalogFilter.from_query(QueryDict(query))
    assert param in filters.errors
    assert param not in dict(filters.items())


# --- paging and counting ------------------------------------------------------------


@pytest.mark.parametrize("few", [1_000, 3])
def test_pages_go_newest_first_without_gaps_or_repeats(few, project, monkeypatch):
    """Both ways of reading a page: by the matching ids (few) and in upload order (many)."""
    monkeypatch.setattr(catalog.paging, "FEW", few)
    images = make_images(project, 11)
    newest_first = [i.pk for i in reversed(images)]
    filters = CatalogFilter(state="free")
    pages, before = [], None
    while True:
        page = catalog.catalog_page(project, filters, before=before, size=4)
        pages.append([i.pk for i in page.images])
        if page.older is None:
            break
        before = page.older
    assert pages == [newest_first[0:4], newest_first[4:8], newest_first[8:11]]
    back = catalog.catalog_page(project, filters, after=pages[2][0], size=4)
    assert [i.pk for i in back.images] == pages[1]
    assert back.newer == pages[1][0] and back.older == pages[1][-1]
    first = catalog.catalog_page(project, filters, after=pages[1][0], size=4)
    assert [i.pk for i in first.images] == pages[0] and first.newer is None


def test_images_uploaded_at_the_same_moment_page_by_id(project):
    same = timezone.now()
    images = make_images(project, 5)
    from boards.models import Image

    Image.objects.filter(pk__in=ids(images)).update(uploaded_at=same)
    first = catalog.catalog_page(project, CatalogFilter(), size=3)
    rest = catalog.catalog_page(project, CatalogFilter(), before=first.older, size=3)
    assert [i.pk for i in first.images + rest.images] == sorted(ids(images), reverse=True)


def test_the_page_counts_few_matches_and_leaves_many_to_count_matching(project, monkeypatch):
    make_images(project, 5)
    assert catalog.catalog_page(project, CatalogFilter()).count == 5
    monkeypatch.setattr(catalog.paging, "FEW", 3)
    assert catalog.catalog_page(project, CatalogFilter()).count == 5  # more than FEW, but every one on the page
    assert catalog.catalog_page(project, CatalogFilter(), size=4).count is None
    older = catalog.catalog_page(project, CatalogFilter(), size=4).older
    assert catalog.catalog_page(project, CatalogFilter(), before=older, size=4).count is None  # the last page
    assert catalog.count_matching(project, CatalogFilter()) == (5, True)
    assert catalog.count_matching(project, CatalogFilter(), cap=4) == (4, False)


def test_a_page_with_no_match_is_empty(project):
    make_images(project, 2)
    page = catalog.catalog_page(project, CatalogFilter(file="nothing-like-this"))
    assert page.images == [] and page.count == 0 and page.newer is None and page.older is None


@pytest.mark.parametrize("kind", ["project", "workspace"])
def test_an_end_date_before_the_start_is_dropped_with_its_reason_in_either_catalog(kind):
    from boards.catalog.workspace import WorkspaceFilter

    read = CatalogFilter.from_query if kind == "project" else WorkspaceFilter.from_query
    wanted = read({"from": "2025-03-31", "to": "2025-03-01", "file": "cam"})
    assert wanted.errors == {"to": "The end date is before the start date."}
    assert wanted.uploaded_to is None and wanted.uploaded_from.isoformat() == "2025-03-31" and wanted.file == "cam"
    same_day = read({"from": "2025-03-01", "to": "2025-03-01"})
    assert not same_day.errors and same_day.uploaded_to == same_day.uploaded_from
