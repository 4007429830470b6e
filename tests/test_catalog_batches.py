"""Batches from the catalog: filter, selection, sampling, exclusions, the cap, names; archive,
restore and merge; bulk tags. Every persona, and the database after."""

import pytest
from django.urls import reverse

from boards import catalog, services
from boards.catalog import CatalogFilter, Sample
from boards.models import (
    Batch,
    BatchEvent,
    BatchSource,
    BatchStatus,
    EventKind,
    Image,
    Job,
    JobState,
    Tag,
)
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState
from tests.catalog_data import ids, make_images
from tests.factories import BatchFactory, ProjectFactory, set_images

pytestmark = pytest.mark.django_db

ALL = ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"]
MANAGERS = {"owner", "manager"}


def create(project, actor, name="From the catalog", **kwargs):
    return services.create_batch_from_images(project=project, actor=actor, name=name, **kwargs)


def members(batch) -> set[int]:
    return set(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True))


@pytest.fixture
def cap(monkeypatch):
    """A batch limit of 5, so the cap is tested without 25,000 rows."""

    def set_cap(n=5):
        monkeypatch.setattr(services.catalog, "MAX_BATCH_IMAGES", n)
        monkeypatch.setattr(catalog.sampling, "MAX_BATCH_IMAGES", n)
        monkeypatch.setattr(catalog.preview, "MAX_BATCH_IMAGES", n)

    set_cap()
    return set_cap


# --- creating a batch ----------------------------------------------------------------


@pytest.mark.parametrize("who", ALL)
def test_creating_a_batch_is_for_owners_and_managers(who, personas, project):
    images = make_images(project, 3)
    if who in MANAGERS:
        result = create(project, personas[who], filters=CatalogFilter())
        assert members(result.batch) == ids(images)
    else:
        with pytest.raises(NotAllowed):
            create(project, personas[who], filters=CatalogFilter())
        assert not Batch.objects.exists()
        assert not Image.objects.filter(placement__isnull=False).exists()


def test_a_filter_makes_an_unassigned_catalog_batch_of_its_free_images(manager, project):
    night = make_images(project, 4, tags=["night"])
    make_images(project, 3, tags=["day"])
    result = create(project, manager, name="Night shots", priority=2, filters=CatalogFilter(tag="night"))
    batch = Batch.objects.get(pk=result.batch.pk)
    assert (batch.name, batch.priority, batch.status, batch.source) == (
        "Night shots",
        2,
        BatchStatus.UNASSIGNED,
        BatchSource.CATALOG,
    )
    assert batch.created_by == manager and batch.sample_seed is None
    assert members(batch) == ids(night) and result.taken == 4
    event = BatchEvent.objects.get(batch=batch)
    assert event.kind == EventKind.CREATED and event.to_status == BatchStatus.UNASSIGNED and event.actor == manager
    assert event.detail["images"] == 4 and event.detail["filter"] == {"tag": "night"}


def test_a_selection_of_ids_makes_a_batch_of_exactly_those(manager, project):
    images = make_images(project, 5)
    chosen = {images[0].pk, images[3].pk}
    result = create(project, manager, image_ids=[str(i) for i in chosen])
    assert members(result.batch) == chosen


def test_images_already_in_a_batch_are_left_out_and_counted_by_status(manager, labeler, project):
    free = make_images(project, 3)
    waiting = BatchFactory(project=project, name="Waiting")
    busy = BatchFactory(project=project, name="Busy")
    make_images(project, 2, batch=waiting)
    make_images(project, 1, batch=busy)
    services.assign(batch=busy, actor=manager, labeler=labeler)
    preview = catalog.preview_batch(project, filters=CatalogFilter())
    assert (preview.matching, preview.left_out, preview.free, preview.would_take) == (6, 3, 3, 3)
    assert preview.in_batches == {BatchStatus.UNASSIGNED: 2, BatchStatus.ANNOTATING: 1}
    assert "3 images are already in a batch (2 in Unassigned, 1 in Annotating)" in preview.left_out_reason()

    result = create(project, manager, filters=CatalogFilter())
    assert members(result.batch) == ids(free)
    assert result.preview.left_out == 3 and result.to_dict()["left_out_by_status"] == preview.in_batches
    assert (
        Image.objects.filter(placement__batch=waiting).count() == 2
        and Image.objects.filter(placement__batch=busy).count() == 1
    )
    assert BatchEvent.objects.get(batch=result.batch).detail["left_out"] == 3


def test_an_image_is_never_in_two_batches(manager, project):
    images = make_images(project, 4)
    first = create(project, manager, name="First", image_ids=[i.pk for i in images[:3]])
    second = create(project, manager, name="Second", image_ids=[i.pk for i in images])
    assert members(first.batch) == ids(images[:3])
    assert members(second.batch) == {images[3].pk}
    assert second.preview.left_out == 3


def test_nothing_free_is_an_error_that_says_why(manager, project):
    batch = BatchFactory(project=project, name="Full")
    images = make_images(project, 2, batch=batch)
    with pytest.raises(InvalidInput, match="No free image is selected. 2 images are already in a batch"):
        create(project, manager, image_ids=[i.pk for i in images])
    with pytest.raises(InvalidInput, match="Nothing matches"):
        create(project, manager, filters=CatalogFilter(file="no such file"))
    assert Batch.objects.count() == 1


def test_a_taken_name_is_a_clear_error_and_changes_nothing(manager, project):
    BatchFactory(project=project, name="Week 12")
    make_images(project, 2)
    with pytest.raises(InvalidInput, match="There is already a batch named “Week 12” in this project"):
        create(project, manager, name="  Week 12 ", filters=CatalogFilter())
    assert Batch.objects.count() == 1 and not Image.objects.filter(placement__isnull=False).exists()


def test_the_same_name_in_another_project_is_fine(manager, project, workspace):
    BatchFactory(project=ProjectFactory(workspace=workspace), name="Week 12")
    make_images(project, 1)
    assert create(project, manager, name="Week 12", filters=CatalogFilter()).batch.name == "Week 12"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_batch_needs_a_name_of_at_most_200_characters(name, manager, project):
    make_images(project, 1)
    with pytest.raises(InvalidInput):
        create(project, manager, name=name, filters=CatalogFilter())


@pytest.mark.parametrize("priority", [0, 6, "1", None])
def test_priority_is_1_to_5(priority, manager, project):
    make_images(project, 1)
    with pytest.raises(InvalidInput, match="Priority is a whole number from 1"):
        create(project, manager, priority=priority, filters=CatalogFilter())


def test_a_filter_or_ids_but_not_both_nor_neither(manager, project):
    images = make_images(project, 1)
    with pytest.raises(InvalidInput, match="either by a filter or by a list of ids"):
        create(project, manager)
    with pytest.raises(InvalidInput, match="either by a filter or by a list of ids"):
        create(project, manager, filters=CatalogFilter(), image_ids=[images[0].pk])
    with pytest.raises(InvalidInput, match="Select at least one image"):
        create(project, manager, image_ids=[])


def test_ids_from_another_project_are_refused(manager, project, workspace):
    mine = make_images(project, 1)
    theirs = make_images(ProjectFactory(workspace=workspace), 1)
    with pytest.raises(InvalidInput, match="1 of the 2 selected images are not in this project"):
        create(project, manager, image_ids=[mine[0].pk, theirs[0].pk])
    assert not Batch.objects.exists()


def test_a_filter_that_does_not_parse_is_refused(manager, project):
    make_images(project, 1)
    from django.http import QueryDict

    with pytest.raises(InvalidInput, match="Fix the filter first"):
        create(project, manager, filters=CatalogFilter.from_query(QueryDict("state=lost")))


# --- the cap ----------------------------------------------------------------------------


def test_more_than_the_limit_is_an_error_naming_it_never_a_silent_cut(cap, manager, project):
    make_images(project, 6)
    with pytest.raises(InvalidInput, match="That would put 6 images in one batch; a batch holds at most 5"):
        create(project, manager, filters=CatalogFilter())
    assert not Batch.objects.exists() and not Image.objects.filter(placement__isnull=False).exists()
    assert catalog.preview_batch(project, filters=CatalogFilter()).over_limit


def test_exactly_the_limit_is_fine(cap, manager, project):
    make_images(project, 5)
    assert create(project, manager, filters=CatalogFilter()).taken == 5


def test_left_out_images_do_not_count_against_the_limit(cap, manager, project):
    make_images(project, 5)
    make_images(project, 3, batch=BatchFactory(project=project))
    assert create(project, manager, filters=CatalogFilter()).taken == 5


def test_a_sample_within_the_limit_from_more_images_is_fine(cap, manager, project):
    make_images(project, 9)
    assert create(project, manager, filters=CatalogFilter(), sample={"n": 5, "mode": "ordered"}).taken == 5
    with pytest.raises(InvalidInput, match="at most 5"):
        create(project, manager, name="Other", filters=CatalogFilter(), sample={"n": 6, "mode": "random", "seed": 1})


# --- sampling ----------------------------------------------------------------------------


def test_a_random_sample_with_a_seed_picks_the_same_images_twice(manager, project):
    make_images(project, 40)
    sample = {"n": 10, "mode": "random", "seed": 424242}
    first = create(project, manager, name="First try", filters=CatalogFilter(), sample=sample)
    picked = members(first.batch)
    assert len(picked) == 10 and first.batch.sample_seed == 424242
    services.archive(batch=first.batch, actor=manager)  # the images are free again
    again = create(project, manager, name="Second try", filters=CatalogFilter(), sample=sample)
    assert members(again.batch) == picked
    assert catalog.preview_batch(project, filters=CatalogFilter(), sample=sample).would_take == 10


def test_another_seed_picks_other_images(manager, project):
    make_images(project, 60)
    one = create(project, manager, name="A", filters=CatalogFilter(), sample={"n": 10, "seed": 1})
    services.archive(batch=one.batch, actor=manager)
    two = create(project, manager, name="B", filters=CatalogFilter(), sample={"n": 10, "seed": 2})
    assert members(one.batch) != members(two.batch)


def test_a_random_sample_is_not_just_the_newest_or_oldest(manager, project):
    images = make_images(project, 100)
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 20, "seed": 7})
    order = [i.pk for i in images]
    picked = sorted(order.index(pk) for pk in members(result.batch))
    assert picked != list(range(20)) and picked != list(range(80, 100))
    assert picked[0] < 50 < picked[-1]


def test_a_random_sample_without_a_seed_gets_one_and_stores_it(manager, project):
    make_images(project, 5)
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 2, "mode": "random"})
    assert result.batch.sample_seed is not None
    assert Batch.objects.get(pk=result.batch.pk).sample_seed == result.batch.sample_seed


def test_the_sample_rank_orders_every_image_differently(project):
    images = make_images(project, 200)
    ranks = list(
        Image.objects.filter(pk__in=ids(images)).annotate(r=catalog.sample_rank(99)).values_list("r", flat=True)
    )
    assert len(set(ranks)) == 200  # a permutation: no ties
    assert all(0 <= r < 2**31 for r in ranks)


@pytest.mark.parametrize("seed", [0, 7, 99, 123_456_789])
def test_a_random_sample_drawn_from_ids_is_the_one_the_database_ranks(project, seed):
    images = make_images(project, 300)
    every = Image.objects.filter(pk__in=ids(images))
    sample = catalog.Sample(n=40, seed=seed)
    by_database = list(every.order_by(*sample.ordering()).values_list("pk", flat=True)[:40])
    assert sample.take_from(reversed(list(ids(images)))) == by_database
    assert catalog.Sample(n=1_000, seed=seed).take_from(ids(images)) == list(
        every.order_by(*sample.ordering()).values_list("pk", flat=True)
    )
    with pytest.raises(ValueError, match="random sample"):
        catalog.Sample(n=3, mode=catalog.ORDERED).take_from(ids(images))


def test_a_seed_ranks_ids_as_it_always_has():
    """A batch stores its seed so that the sample can be drawn again: the ranks of a few ids for seed 7,
    as the formula first gave them, in Python and (through the test above) in SQL."""
    from boards.catalog.sampling import _ranking

    ranks = [_ranking(7)(pk) for pk in (1, 2, 3, 1000, 250_000)]
    assert ranks == [1_289_996_125, 309_860_503, 1_763_661_110, 1_780_231_529, 1_613_667_945]
    assert catalog.Sample(n=5, seed=7).take_from([1, 2, 3, 1000, 250_000]) == [2, 1, 250_000, 3, 1000]


def test_ordered_by_upload_takes_the_first_n(manager, project):
    images = make_images(project, 8)
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 3, "mode": "ordered"})
    assert members(result.batch) == ids(images[:3])
    assert result.batch.sample_seed is None


def test_ordered_by_file_name_takes_the_first_n(manager, project):
    make_images(project, names=["d.jpg", "a.jpg", "c.jpg", "b.jpg"])
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 2, "mode": "ordered", "order": "filename"})
    assert set(Image.objects.filter(placement__batch=result.batch).values_list("original_filename", flat=True)) == {
        "a.jpg",
        "b.jpg",
    }


def test_a_sample_is_taken_from_the_free_images_only(manager, project):
    make_images(project, 3, batch=BatchFactory(project=project))
    free = make_images(project, 4)
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 3, "mode": "ordered"})
    assert members(result.batch) == ids(free[:3])
    assert result.preview.left_out == 3


def test_a_sample_larger_than_the_free_images_takes_them_all(manager, project):
    free = make_images(project, 3)
    result = create(project, manager, filters=CatalogFilter(), sample={"n": 10, "seed": 5})
    assert members(result.batch) == ids(free)


@pytest.mark.parametrize(
    "sample",
    [
        {"n": 0},
        {"n": "ten"},
        {"mode": "random"},
        {"n": 3, "mode": "shuffled"},
        {"n": 3, "order": "size"},
        {"n": 3, "k": 1},
    ],
)
def test_a_bad_sample_is_refused(sample, manager, project):
    make_images(project, 3)
    with pytest.raises(InvalidInput):
        create(project, manager, filters=CatalogFilter(), sample=sample)


def test_sample_describes_itself():
    assert Sample.parse({"n": 5, "seed": 9}).describe() == "5 at random (seed 9)"
    assert Sample.parse({"n": 5, "mode": "ordered", "order": "filename"}).describe() == "the first 5 by file name"
    assert Sample.parse({"n": 5, "mode": "ordered", "seed": 3}).seed is None


# --- archive and restore ------------------------------------------------------------------


def test_archive_frees_the_images_for_the_catalog(manager, project):
    images = make_images(project, 3)
    batch = create(project, manager, filters=CatalogFilter()).batch
    assert not catalog.filtered_images(project, CatalogFilter(state="free")).exists()
    services.archive(batch=batch, actor=manager)
    assert set(catalog.filtered_images(project, CatalogFilter(state="free")).values_list("pk", flat=True)) == ids(
        images
    )
    assert set(Image.objects.filter(archived_from=batch).values_list("pk", flat=True)) == ids(images)
    archived = catalog.archived_batches(project).get()
    assert archived.pk == batch.pk and archived.still_free == 3 and int(archived.archived_images_n) == 3


@pytest.mark.parametrize("who", ALL)
def test_restore_is_for_owners_and_managers(who, personas, manager, make_batch):
    batch = make_batch(2)
    services.archive(batch=batch, actor=manager)
    batch = Batch.objects.get(pk=batch.pk)
    if who in MANAGERS:
        services.restore_batch(batch=batch, actor=personas[who])
        assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
    else:
        with pytest.raises(NotAllowed):
            services.restore_batch(batch=batch, actor=personas[who])
        assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ARCHIVED


def test_restore_brings_the_batch_back_with_its_images(manager, make_batch):
    batch = make_batch(3)
    before = members(batch)
    services.archive(batch=batch, actor=manager)
    restored = services.restore_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    assert restored.status == BatchStatus.UNASSIGNED
    assert members(batch) == before
    assert not Image.objects.filter(archived_from=batch).exists()
    event = BatchEvent.objects.filter(batch=batch).first()
    assert (event.kind, event.from_status, event.to_status) == (
        EventKind.RESTORED,
        BatchStatus.ARCHIVED,
        BatchStatus.UNASSIGNED,
    )
    assert event.detail["images_restored"] == 3
    assert [e.kind for e in BatchEvent.objects.filter(batch=batch).order_by("at", "pk")] == [
        EventKind.ARCHIVED,
        EventKind.RESTORED,
    ]


def test_restore_is_refused_once_an_image_joined_another_batch(manager, project, make_batch):
    batch = make_batch(3)
    services.archive(batch=batch, actor=manager)
    one = Image.objects.filter(archived_from=batch).first()
    other = create(project, manager, name="Took one", image_ids=[one.pk]).batch
    with pytest.raises(WrongState, match="1 of the 3 images of .* joined other batches"):
        services.restore_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ARCHIVED
    assert members(other) == {one.pk}
    assert Image.objects.filter(archived_from=batch, free__isnull=False).count() == 2


def test_restore_is_refused_when_an_image_went_on_to_another_archived_batch(manager, project, make_batch):
    """The image is free again, but it left this batch's keeping: restoring would lose it silently."""
    batch = make_batch(2)
    services.archive(batch=batch, actor=manager)
    one = Image.objects.filter(archived_from=batch).first()
    other = create(project, manager, name="Took one", image_ids=[one.pk]).batch
    services.archive(batch=other, actor=manager)
    with pytest.raises(WrongState, match="1 of the 2 images"):
        services.restore_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    services.restore_batch(batch=Batch.objects.get(pk=other.pk), actor=manager)
    assert members(other) == {one.pk}


def test_only_archived_batches_can_be_restored(manager, make_batch):
    with pytest.raises(WrongState, match="cannot be restored"):
        services.restore_batch(batch=make_batch(1), actor=manager)


# --- merge ------------------------------------------------------------------------------


def test_merge_makes_one_batch_with_all_images_and_the_highest_priority(manager, project):
    old = BatchFactory(project=project, name="Old", priority=3)
    urgent = BatchFactory(project=project, name="Urgent", priority=2)
    late = BatchFactory(project=project, name="Late", priority=4)
    images = (
        make_images(project, 2, batch=old) + make_images(project, 3, batch=urgent) + make_images(project, 1, batch=late)
    )
    merged = services.merge_batches(project=project, actor=manager, batches=[old, urgent.pk, late], name="Together")
    assert merged.pk == urgent.pk  # the first on the board keeps its place
    assert (merged.name, merged.priority, merged.status) == ("Together", 2, BatchStatus.UNASSIGNED)
    assert members(merged) == ids(images)
    assert list(Batch.objects.filter(project=project)) == [merged]
    kept = BatchEvent.objects.get(batch=merged, kind=EventKind.MERGED)
    assert kept.detail["images"] == 6 and kept.detail["old_name"] == "Urgent"
    assert {m["name"] for m in kept.detail["merged"]} == {"Old", "Late"}
    gone = BatchEvent.objects.filter(kind=EventKind.MERGED, batch__isnull=True)
    assert {(e.batch_name, e.detail["into_batch"], e.detail["images"]) for e in gone} == {
        ("Old", merged.pk, 2),
        ("Late", merged.pk, 1),
    }


def test_merge_may_keep_one_of_the_merged_names(manager, project):
    a = BatchFactory(project=project, name="A")
    b = BatchFactory(project=project, name="B")
    make_images(project, 1, batch=a)
    make_images(project, 1, batch=b)
    assert services.merge_batches(project=project, actor=manager, batches=[a, b], name="B").name == "B"


def test_merge_refuses_a_name_taken_by_another_batch(manager, project):
    a, b = BatchFactory(project=project, name="A"), BatchFactory(project=project, name="B")
    BatchFactory(project=project, name="C")
    with pytest.raises(InvalidInput, match="already a batch named “C”"):
        services.merge_batches(project=project, actor=manager, batches=[a, b], name="C")
    assert Batch.objects.count() == 3


def test_merge_needs_two_or_more_batches(manager, project):
    a = BatchFactory(project=project)
    with pytest.raises(InvalidInput, match="two or more"):
        services.merge_batches(project=project, actor=manager, batches=[a, a.pk], name="X")


def test_merge_stays_within_the_limit(cap, manager, project):
    a, b = BatchFactory(project=project), BatchFactory(project=project)
    make_images(project, 3, batch=a)
    make_images(project, 3, batch=b)
    with pytest.raises(InvalidInput, match="Together these batches hold 6 images; a batch holds at most 5"):
        services.merge_batches(project=project, actor=manager, batches=[a, b], name="X")
    assert Batch.objects.count() == 2 and Image.objects.filter(placement__batch=a).count() == 3


def test_merge_is_only_for_unassigned_batches(manager, labeler, project):
    a, b = BatchFactory(project=project, name="A"), BatchFactory(project=project, name="B")
    make_images(project, 1, batch=a)
    make_images(project, 1, batch=b)
    services.assign(batch=b, actor=manager, labeler=labeler)
    with pytest.raises(WrongState, match="“B” is in Annotating"):
        services.merge_batches(project=project, actor=manager, batches=[a, b], name="X")
    assert Job.objects.filter(batch=b, state=JobState.ANNOTATING).exists()


def test_merge_refuses_batches_of_another_project(manager, project, workspace):
    a = BatchFactory(project=project)
    elsewhere = BatchFactory(project=ProjectFactory(workspace=workspace))
    with pytest.raises(InvalidInput, match="not in this project"):
        services.merge_batches(project=project, actor=manager, batches=[a, elsewhere], name="X")


@pytest.mark.parametrize("who", ALL)
def test_merge_is_for_owners_and_managers(who, personas, project):
    a, b = BatchFactory(project=project), BatchFactory(project=project)
    if who in MANAGERS:
        services.merge_batches(project=project, actor=personas[who], batches=[a, b], name="X")
        assert Batch.objects.filter(project=project).count() == 1
    else:
        with pytest.raises(NotAllowed):
            services.merge_batches(project=project, actor=personas[who], batches=[a, b], name="X")
        assert Batch.objects.filter(project=project).count() == 2


# --- tags -------------------------------------------------------------------------------


def test_tags_are_added_to_a_selection_and_created_when_new(manager, project):
    images = make_images(project, 4)
    make_images(project, 1, tags=["night"])
    result = services.tag_images(
        project=project, actor=manager, add=["night", " fog "], image_ids=[i.pk for i in images[:3]]
    )
    assert (result.images, result.added) == (3, 6)
    assert set(Tag.objects.get(project=project, name="fog").images.values_list("pk", flat=True)) == ids(images[:3])
    assert Tag.objects.get(project=project, name="night").images.count() == 4


def test_adding_a_tag_an_image_has_adds_nothing_twice(manager, project):
    images = make_images(project, 3, tags=["night"])
    result = services.tag_images(project=project, actor=manager, add=["night"], filters=CatalogFilter())
    assert result.added == 0 and Image.tags.through.objects.count() == 3
    assert ids(images) == set(Tag.objects.get(name="night").images.values_list("pk", flat=True))


def test_tags_follow_a_filter_and_are_removed_in_bulk(manager, project):
    wide = make_images(project, 3, width=1920, tags=["hd", "keep"])
    narrow = make_images(project, 2, width=640, tags=["hd", "keep"])
    result = services.tag_images(project=project, actor=manager, remove=["hd"], filters=CatalogFilter(max_width=800))
    assert result.removed == 2
    assert set(Tag.objects.get(name="hd").images.values_list("pk", flat=True)) == ids(wide)
    assert Tag.objects.get(name="keep").images.count() == 5 and len(narrow) == 2


def test_tags_stay_in_their_project(manager, project, workspace):
    other = ProjectFactory(workspace=workspace)
    theirs = make_images(other, 1, tags=["night"])
    mine = make_images(project, 1)
    services.tag_images(project=project, actor=manager, add=["night"], filters=CatalogFilter())
    assert Tag.objects.filter(name="night").count() == 2
    assert set(Tag.objects.get(project=project).images.values_list("pk", flat=True)) == ids(mine)
    services.tag_images(project=project, actor=manager, remove=["night"], filters=CatalogFilter())
    assert Tag.objects.get(project=other).images.get() == theirs[0]


@pytest.mark.parametrize(
    ("add", "remove", "message"),
    [
        ((), (), "at least one tag"),
        (["a"], ["a"], "both added and removed"),
        (["x" * 101], (), "at most 100"),
        (["  "], (), "non-empty name"),
    ],
)
def test_bad_tag_requests_are_refused(add, remove, message, manager, project):
    make_images(project, 1)
    with pytest.raises(InvalidInput, match=message):
        services.tag_images(project=project, actor=manager, add=add, remove=remove, filters=CatalogFilter())


@pytest.mark.parametrize(
    "filters", [CatalogFilter(tag="nosuchtag"), CatalogFilter(label="nosuchclass"), CatalogFilter(file="zzz")]
)
@pytest.mark.parametrize(("add", "remove"), [(["x"], ()), ((), ["x"])])
def test_tagging_a_filter_that_matches_nothing_says_so_and_creates_no_tag(filters, add, remove, manager, project):
    make_images(project, 2, tags=["x"])
    with pytest.raises(InvalidInput, match="No image matches this selection"):
        services.tag_images(project=project, actor=manager, add=add, remove=remove, filters=filters)
    assert list(Tag.objects.values_list("name", flat=True)) == ["x"] and Image.tags.through.objects.count() == 2


def test_the_tag_form_on_a_filter_that_matches_nothing_explains_it(client, manager, project):
    make_images(project, 1)
    client.force_login(manager)
    url = reverse("catalog-tags", args=[project.workspace.slug, project.slug])
    response = client.post(url, {"scope": "filter", "tag": "nosuchtag", "tags": "x"}, follow=True)
    assert response.status_code == 200
    assert "No image matches this selection: nothing was tagged." in response.content.decode()
    assert not Tag.objects.filter(name="x").exists()


@pytest.mark.parametrize("who", ALL)
def test_tagging_is_for_owners_and_managers(who, personas, project):
    make_images(project, 2)
    if who in MANAGERS:
        assert services.tag_images(project=project, actor=personas[who], add=["x"], filters=CatalogFilter()).added == 2
    else:
        with pytest.raises(NotAllowed):
            services.tag_images(project=project, actor=personas[who], add=["x"], filters=CatalogFilter())
        assert not Tag.objects.exists()


def test_a_concurrent_taker_leaves_nothing_to_take(manager, project, monkeypatch):
    """Images counted free but taken by someone else before the update: an error, not an empty batch."""
    images = make_images(project, 2)
    real_preview = catalog.preview_of

    def preview_then_someone_takes_them(qs, sample, **kwargs):
        preview = real_preview(qs, sample, **kwargs)
        set_images(Image.objects.filter(pk__in=ids(images)), batch=BatchFactory(project=project, name="Quick"))
        return preview

    monkeypatch.setattr(catalog, "preview_of", preview_then_someone_takes_them)
    with pytest.raises(ConcurrentChange):
        create(project, manager, filters=CatalogFilter())
    assert not Batch.objects.filter(name="From the catalog").exists()


def test_the_move_entry_point_restores_with_the_same_rules(manager, project, make_batch):
    """Board and API moves go through services.move_batch: Archived → Unassigned is a restore."""
    kept, broken = make_batch(2), make_batch(2)
    for batch in (kept, broken):
        services.archive(batch=batch, actor=manager)
    one = Image.objects.filter(archived_from=broken).first()
    create(project, manager, name="Took one", image_ids=[one.pk])
    moved = services.move_batch(batch=Batch.objects.get(pk=kept.pk), actor=manager, to=BatchStatus.UNASSIGNED)
    assert moved.status == BatchStatus.UNASSIGNED and moved.images.count() == 2
    with pytest.raises(WrongState, match="joined other batches"):
        services.move_batch(batch=Batch.objects.get(pk=broken.pk), actor=manager, to=BatchStatus.UNASSIGNED)


def test_bulk_tags_keep_the_per_image_limit(manager, project, monkeypatch):
    monkeypatch.setattr(services.tagging, "MAX_TAGS_PER_IMAGE", 3)
    crowded = make_images(project, 2, tags=["a", "b", "c"])
    roomy = make_images(project, 2, tags=["a"])
    with pytest.raises(InvalidInput, match="2 of the selected images would have more than 3 tags"):
        services.tag_images(project=project, actor=manager, add=["d"], filters=CatalogFilter())
    assert not Tag.objects.filter(name="d").exists()
    assert services.tag_images(project=project, actor=manager, add=["d"], image_ids=ids(roomy)).added == 2
    assert services.tag_images(project=project, actor=manager, add=["c"], image_ids=ids(crowded)).added == 0
