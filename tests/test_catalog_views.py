"""Catalog pages: the grid and its filters, "Add batch", tags, archived batches, merge; tenancy is 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards import catalog, services
from boards.models import Annotation, Batch, BatchStatus, Image, LabelClass, Tag
from tests.catalog_data import ids, make_images
from tests.factories import BatchFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def url(name, project, *args):
    return reverse(name, args=[project.workspace.slug, project.slug, *args])


def members(batch) -> set[int]:
    return set(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True))


# --- the grid ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "labeler", "viewer"])
def test_every_member_sees_the_catalog(who, personas, client, project):
    make_images(project, 3, names=["a.jpg", "b.jpg", "c.jpg"])
    client.force_login(personas[who])
    response = client.get(url("catalog", project))
    assert response.status_code == 200
    assert [i.original_filename for i in response.context["page"].images] == ["c.jpg", "b.jpg", "a.jpg"]
    assert (b"Add batch" in response.content) is (who in ("owner", "manager"))
    assert (b"Add to selection" in response.content) is (who in ("owner", "manager"))


def test_the_url_carries_the_filters(client, manager, project):
    hits = make_images(project, 2, names=["cam3_1.jpg", "cam3_2.jpg"], tags=["night"])
    make_images(project, 2, names=["cam3_3.jpg", "cam4_1.jpg"])
    client.force_login(manager)
    response = client.get(url("catalog", project), {"file": "cam3", "tag": "night", "state": "free"})
    assert ids(response.context["page"].images) == ids(hits)
    assert response.context["filters"].querystring == "file=cam3&tag=night&state=free"
    content = response.content.decode()
    assert '<input type="hidden" name="tag" value="night">' in content
    assert 'value="cam3"' in content and '<option value="night" selected>night</option>' in content


def test_the_menus_name_each_batch_and_tag_escaped_and_keep_the_chosen_one(client, manager, project):
    hostile = BatchFactory(project=project, name='<script>alert("b")</script>')
    other = BatchFactory(project=project, name="Tuesday & Wednesday")
    make_images(project, 1, tags=['"><img src=x>'])
    client.force_login(manager)

    content = client.get(url("catalog", project), {"batch": hostile.pk}).content.decode()

    escaped = "&lt;script&gt;alert(&quot;b&quot;)&lt;/script&gt;"
    assert f'<option value="{hostile.pk}" selected>{escaped}</option>' in content
    assert f'<option value="{other.pk}">Tuesday &amp; Wednesday</option>' in content
    assert '<option value="&quot;&gt;&lt;img src=x&gt;">&quot;&gt;&lt;img src=x&gt;</option>' in content
    assert "<script>alert" not in content and "<img src=x>" not in content


def test_a_bad_filter_value_is_explained_not_guessed(client, manager, project):
    make_images(project, 2)
    client.force_login(manager)
    response = client.get(url("catalog", project), {"from": "yesterday", "state": "free"})
    assert response.status_code == 200
    assert "is not a date like 2025-03-31" in response.content.decode()
    assert len(response.context["page"].images) == 2


def test_paging_links_keep_the_filters(client, manager, project, monkeypatch):
    monkeypatch.setattr(catalog.paging, "PAGE_SIZE", 2)
    images = make_images(project, 5, tags=["night"])
    client.force_login(manager)
    first = client.get(url("catalog", project), {"tag": "night"})
    older = first.context["page"].older
    assert f"?tag=night&amp;before={older}" in first.content.decode()
    second = client.get(url("catalog", project), {"tag": "night", "before": older})
    assert [i.pk for i in second.context["page"].images] == [images[2].pk, images[1].pk]


def test_the_grid_needs_a_constant_number_of_queries(client, manager, project, django_assert_max_num_queries):
    def load():
        with django_assert_max_num_queries(11):
            response = client.get(url("catalog", project), {"state": "free", "min_width": "100"})
        assert response.status_code == 200
        return response

    client.force_login(manager)
    for n in range(5):
        BatchFactory(project=project, name=f"Batch {n}")
    make_images(project, 3, tags=["a"])
    assert len(load().context["page"].images) == 3
    for n in range(5):
        make_images(project, 20, tags=[f"t{n}"], batch=BatchFactory(project=project, name=f"More {n}"))
    make_images(project, 100)
    assert len(load().context["page"].images) == catalog.PAGE_SIZE
    response = client.get(url("catalog", project))
    # A tag alone: its id, then its images counted and read as a list (CatalogFilter.listed).
    with django_assert_max_num_queries(13):
        client.get(url("catalog", project), {"before": response.context["page"].older, "tag": "t1"})


def test_a_tag_and_a_class_are_looked_up_once_however_many_queries_the_page_builds(
    client, manager, project, monkeypatch
):
    monkeypatch.setattr(catalog.paging, "FEW", 1)  # more than a page's worth: the ids, then upload order
    car = LabelClass.objects.create(project=project, name="car")
    both = make_images(project, 3, tags=["night"])
    make_images(project, 2, tags=["night"])  # the tag without the class
    for image in both:
        Annotation.objects.create(image=image, label=car, x=1, y=1, width=5, height=5)
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("catalog", project), {"tag": "night", "class": "car", "min_width": "100"})

    assert [image.pk for image in response.context["page"].images] == [image.pk for image in reversed(both)]
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum(sql.startswith('SELECT "boards_tag"."id"') for sql in statements) == 1
    assert sum(sql.startswith('SELECT "boards_labelclass"."id"') for sql in statements) == 1


def test_many_matches_are_counted_on_their_own(client, manager, project, monkeypatch):
    monkeypatch.setattr(catalog.paging, "FEW", 3)
    monkeypatch.setattr(catalog.paging, "PAGE_SIZE", 3)
    make_images(project, 5)
    client.force_login(manager)
    page = client.get(url("catalog", project))
    assert page.context["page"].count is None
    assert url("catalog-count", project) in page.content.decode()
    count = client.get(url("catalog-count", project), {"state": "free"}, headers={"HX-Request": "true"})
    assert count.status_code == 200
    assert 'data-count="5"' in count.content.decode() and "<strong>5</strong> images match" in count.content.decode()


def test_the_thumbnails_use_the_image_view(client, manager, project):
    image = make_images(project, 1)[0]
    client.force_login(manager)
    assert reverse("image-file", args=[image.pk, "thumb"]) in client.get(url("catalog", project)).content.decode()


# --- "Add batch" ---------------------------------------------------------------------------


def test_the_preview_counts_before_anything_is_created(client, manager, project):
    free = make_images(project, 3)
    taken = make_images(project, 2, batch=BatchFactory(project=project, name="Busy"))
    client.force_login(manager)
    response = client.post(
        url("catalog-batch", project),
        {"scope": "ids", "images": [i.pk for i in free + taken], "name": "New one", "priority": "2"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "<dt>Selected</dt><dd>5</dd>" in content and "<dt>Left out</dt><dd>2</dd>" in content
    assert "<dt>New batch</dt><dd>3</dd>" in content
    assert "2 images are already in a batch (2 in Unassigned) and will be left out" in content
    assert "Create “New one” with 3 images" in content
    assert "<html" not in content  # the dialog's partial only
    assert Batch.objects.count() == 1


def test_the_preview_says_a_name_is_taken(client, manager, project):
    make_images(project, 1)
    BatchFactory(project=project, name="Taken")
    client.force_login(manager)
    response = client.post(
        url("catalog-batch", project), {"scope": "filter", "name": "Taken"}, headers={"HX-Request": "true"}
    )
    assert "There is already a batch named “Taken”" in response.content.decode()
    assert "Create “" not in response.content.decode()


def test_the_preview_names_the_limit(client, manager, project, monkeypatch):
    monkeypatch.setattr(catalog.sampling, "MAX_BATCH_IMAGES", 2)
    monkeypatch.setattr(catalog.preview, "MAX_BATCH_IMAGES", 2)
    make_images(project, 3)
    client.force_login(manager)
    response = client.post(
        url("catalog-batch", project), {"scope": "filter", "name": "Big"}, headers={"HX-Request": "true"}
    )
    assert "That would put 3 images in one batch; a batch holds at most 2" in response.content.decode()
    assert "Create “" not in response.content.decode()


def test_select_all_matching_posts_the_filter_and_takes_every_match(client, manager, project, monkeypatch):
    monkeypatch.setattr(catalog.paging, "PAGE_SIZE", 2)
    night = make_images(project, 5, tags=["night"])
    make_images(project, 3, tags=["day"])
    client.force_login(manager)
    response = client.post(
        url("catalog-batch", project),
        {
            "scope": "filter",
            "tag": "night",
            "images": [night[0].pk],  # ticked boxes are ignored when "all matching" is chosen
            "name": "All night",
            "priority": "1",
            "step": "create",
            "next": url("catalog", project) + "?tag=night",
        },
    )
    assert response.status_code == 302 and response["Location"] == url("catalog", project) + "?tag=night"
    batch = Batch.objects.get(name="All night")
    assert members(batch) == ids(night) and batch.priority == 1
    message = str(list(response.wsgi_request._messages)[0])
    assert "Created “All night” with 5 images (priority 1)" in message


def test_a_sample_from_the_dialog_stores_its_seed(client, manager, project):
    make_images(project, 20)
    client.force_login(manager)
    client.post(
        url("catalog-batch", project),
        {
            "scope": "filter",
            "name": "Ten",
            "priority": "1",
            "sample": "random",
            "n": "10",
            "seed": "77",
            "step": "create",
        },
    )
    batch = Batch.objects.get(name="Ten")
    assert batch.sample_seed == 77 and batch.images.count() == 10


def test_a_refused_create_shows_the_form_again_with_the_reason(client, manager, project):
    images = make_images(project, 2)
    BatchFactory(project=project, name="Taken")
    client.force_login(manager)
    response = client.post(
        url("catalog-batch", project),
        {"scope": "ids", "images": [i.pk for i in images], "name": "Taken", "priority": "3", "step": "create"},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "There is already a batch named “Taken” in this project; choose another name." in content
    assert f'<input type="hidden" name="images" value="{images[0].pk}">' in content
    assert Batch.objects.count() == 1


def test_without_javascript_add_batch_is_a_page_that_confirms(client, manager, project):
    images = make_images(project, 2)
    client.force_login(manager)
    response = client.post(url("catalog-batch", project), {"scope": "ids", "images": [images[0].pk], "step": "form"})
    assert response.status_code == 200
    assert "boards/catalog_batch.html" in [t.name for t in response.templates]
    assert "Name the batch to create it." in response.content.decode()


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_add_batch_is_refused_to_non_managers(who, personas, client, project):
    images = make_images(project, 1)
    client.force_login(personas[who])
    response = client.post(
        url("catalog-batch", project), {"scope": "ids", "images": [images[0].pk], "name": "X", "step": "create"}
    )
    assert response.status_code == 403
    assert not Batch.objects.exists()


# --- tags ------------------------------------------------------------------------------


def test_tags_are_added_to_the_ticked_images(client, manager, project):
    images = make_images(project, 3)
    client.force_login(manager)
    response = client.post(
        url("catalog-tags", project),
        {"scope": "ids", "images": [images[0].pk, images[1].pk], "tags": "night, fog", "tag_action": "add"},
    )
    assert response.status_code == 302
    assert set(Tag.objects.get(name="fog").images.values_list("pk", flat=True)) == ids(images[:2])


def test_tags_are_removed_from_all_matching(client, manager, project):
    make_images(project, 3, tags=["night"], width=100)
    make_images(project, 2, tags=["night"], width=2000)
    client.force_login(manager)
    client.post(
        url("catalog-tags", project), {"scope": "filter", "max_width": "500", "tags": "night", "tag_action": "remove"}
    )
    assert Tag.objects.get(name="night").images.count() == 2


def test_tagging_is_refused_to_viewers(client, viewer, project):
    image = make_images(project, 1)[0]
    client.force_login(viewer)
    response = client.post(
        url("catalog-tags", project), {"scope": "ids", "images": [image.pk], "tags": "x", "tag_action": "add"}
    )
    assert response.status_code == 403 and not Tag.objects.exists()


# --- archived and restore -----------------------------------------------------------------


def test_the_archived_list_shows_what_can_be_restored(client, manager, project, make_batch):
    kept = make_batch(2, name="Kept whole")
    broken = make_batch(2, name="Broken up")
    for batch in (kept, broken):
        services.archive(batch=batch, actor=manager)
    one = Image.objects.filter(archived_from=broken).first()
    services.create_batch_from_images(project=project, actor=manager, name="Took one", image_ids=[one.pk])
    client.force_login(manager)
    response = client.get(url("archived", project))
    rows = {b.name: b for b in response.context["page"]}
    assert rows["Kept whole"].restorable and (rows["Kept whole"].had, rows["Kept whole"].still_free) == (2, 2)
    assert not rows["Broken up"].restorable and rows["Broken up"].gone == 1
    content = response.content.decode()
    assert url("restore", project, kept.pk) in content and url("restore", project, broken.pk) not in content
    assert "1 joined other batches; cannot be restored" in content


def test_restore_through_the_page(client, manager, project, make_batch):
    batch = make_batch(2, name="Back again")
    services.archive(batch=batch, actor=manager)
    client.force_login(manager)
    response = client.post(url("restore", project, batch.pk), follow=True)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
    assert "Restored “Back again” to Unassigned with its 2 images." in response.content.decode()


def test_a_refused_restore_says_why(client, manager, project, make_batch):
    batch = make_batch(2)
    services.archive(batch=batch, actor=manager)
    one = Image.objects.filter(archived_from=batch).first()
    services.create_batch_from_images(project=project, actor=manager, name="Took one", image_ids=[one.pk])
    client.force_login(manager)
    response = client.post(url("restore", project, batch.pk), follow=True)
    assert "1 of the 2 images" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ARCHIVED


def test_restore_is_refused_to_reviewers(client, manager, reviewer, make_batch, project):
    batch = make_batch(1)
    services.archive(batch=batch, actor=manager)
    client.force_login(reviewer)
    assert client.post(url("restore", project, batch.pk)).status_code == 403
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ARCHIVED


# --- merge --------------------------------------------------------------------------------


def test_merge_through_the_page(client, manager, project, make_batch):
    a = make_batch(2, name="A", priority=4)
    b = make_batch(1, name="B", priority=2)
    make_batch(1, name="C")
    client.force_login(manager)
    page = client.get(url("merge", project))
    assert [x.name for x in page.context["batches"]] == ["B", "C", "A"]
    response = client.post(url("merge", project), {"batches": [a.pk, b.pk], "name": "A and B"})
    merged = Batch.objects.get(name="A and B")
    assert response.status_code == 302 and response["Location"] == url("batch", project, merged.pk)
    assert merged.priority == 2 and merged.images.count() == 3
    assert set(Batch.objects.values_list("name", flat=True)) == {"A and B", "C"}


def test_a_refused_merge_keeps_the_choice_and_says_why(client, manager, project, make_batch):
    a = make_batch(1, name="A")
    client.force_login(manager)
    response = client.post(url("merge", project), {"batches": [a.pk], "name": "Alone"})
    assert response.status_code == 400 and "Choose two or more batches to merge." in response.content.decode()
    assert "checked" in response.content.decode()


def test_viewers_see_the_merge_list_but_cannot_merge(client, viewer, project, make_batch):
    a, b = make_batch(1), make_batch(1)
    client.force_login(viewer)
    page = client.get(url("merge", project))
    assert page.status_code == 200 and b"Merge selected batches" not in page.content
    assert client.post(url("merge", project), {"batches": [a.pk, b.pk], "name": "X"}).status_code == 403
    assert Batch.objects.count() == 2


# --- tenancy -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["catalog", "catalog-count", "archived", "merge"])
def test_other_workspaces_pages_are_404(name, client, outsider, project):
    client.force_login(outsider)
    assert client.get(url(name, project)).status_code == 404


@pytest.mark.parametrize("name", ["catalog-batch", "catalog-tags", "merge"])
def test_other_workspaces_forms_are_404_and_change_nothing(name, client, outsider, project, make_batch):
    batch = make_batch(2)
    image_ids = list(batch.images.values_list("pk", flat=True))
    client.force_login(outsider)
    response = client.post(
        url(name, project),
        {"scope": "filter", "name": "Mine", "step": "create", "tags": "x", "batches": [batch.pk], "images": image_ids},
    )
    assert response.status_code == 404
    assert list(Batch.objects.values_list("name", flat=True)) == [batch.name] and not Tag.objects.exists()


def test_restoring_another_workspaces_batch_is_404(client, outsider, manager, project, make_batch):
    batch = make_batch(1)
    services.archive(batch=batch, actor=manager)
    client.force_login(outsider)
    assert client.post(url("restore", project, batch.pk)).status_code == 404


def test_anonymous_visitors_go_to_login(client, project):
    response = client.get(url("catalog", project))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_home_page_links_to_the_catalog_and_archived(client, manager, project):
    client.force_login(manager)
    content = client.get(reverse("home")).content.decode()
    assert url("catalog", project) in content and url("archived", project) in content


def test_the_filter_forms_empty_fields_redirect_to_a_clean_address(client, manager, project):
    client.force_login(manager)
    response = client.get(url("catalog", project), {"file": "", "tag": "night", "state": "", "min_width": ""})
    assert response.status_code == 302 and response["Location"] == url("catalog", project) + "?tag=night"
    kept = client.get(url("catalog", project), {"tag": "", "from": "soon"})
    assert kept.status_code == 200  # a value to explain is shown, not dropped by a redirect


@pytest.mark.parametrize("way", ["by id", "list of the class", "upload order"])
def test_a_class_pages_the_same_whichever_way_the_grid_reads_it(way, client, manager, project, monkeypatch):
    """Few matches are read by id; more among a class's few images, through the list of that class's
    images (CatalogFilter.listed); more among many, in upload order. Every way: the same pages, newest
    first, with an image of two boxes once, and the other project's images never."""
    from boards.catalog import filters
    from boards.models import Annotation, LabelClass

    monkeypatch.setattr(catalog.paging, "PAGE_SIZE", 2)
    monkeypatch.setattr(catalog.paging, "FEW", 100 if way == "by id" else 3)
    monkeypatch.setattr(filters, "LIST_MAX", 100 if way != "upload order" else 4)
    images = make_images(project, 9)
    car = LabelClass.objects.create(project=project, name="car")
    boxed = [images[i] for i in (0, 2, 3, 5, 8)]
    Annotation.objects.bulk_create(Annotation(image=i, label=car, x=0, y=0, width=4, height=4) for i in boxed)
    Annotation.objects.create(image=boxed[1], label=car, x=9, y=9, width=4, height=4)  # two boxes, one image
    elsewhere = ProjectFactory(workspace=project.workspace, name="Signs", slug="signs")
    their_car = LabelClass.objects.create(project=elsewhere, name="car")
    Annotation.objects.bulk_create(
        Annotation(image=i, label=their_car, x=0, y=0, width=4, height=4) for i in make_images(elsewhere, 3)
    )
    listed, real_listed = [], filters.CatalogFilter.listed
    monkeypatch.setattr(
        filters.CatalogFilter, "listed", lambda self, p: listed.append(real_listed(self, p)) or listed[-1]
    )
    client.force_login(manager)
    seen, before = [], None
    for _ in range(4):
        query = {"class": "car"} | ({"before": before} if before else {})
        page = client.get(url("catalog", project), query).context["page"]
        seen += [image.pk for image in page.images]
        before = page.older
        if before is None:
            break
    assert seen == [image.pk for image in reversed(boxed)]
    # The list of the class's images was read (and is what the page used) unless it was too long.
    expected = None if way == "upload order" else sorted(image.pk for image in boxed)
    assert listed and all(ids == expected for ids in listed)
    count = client.get(url("catalog-count", project), {"class": "car"}, headers={"HX-Request": "true"})
    assert 'data-count="5"' in count.content.decode()
