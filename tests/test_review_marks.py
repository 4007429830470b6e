"""Review marks: a reviewer's comment pinned to a box or a region, seen by the labeler in the editor."""

import pytest

from boards import services
from boards.formats.box import Box
from boards.models import BatchEvent, EventKind, Image, ReviewMark
from core.errors import InvalidInput, NotAllowed, WrongState
from tests.review_support import classes, editor_url, fresh, review_url, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(project, make_batch, manager, labeler, reviewer):
    classes(project)
    return submitted(make_batch, manager, labeler, reviewer)


@pytest.fixture
def image(batch):
    return Image.objects.filter(placement__batch=batch).order_by("pk").first()


def post_mark(client, batch, **data):
    return client.post(review_url(batch, "review-mark-add"), data)


@pytest.mark.parametrize(
    ("who", "status"),
    [("owner", 302), ("manager", 302), ("reviewer", 302), ("labeler", 403), ("viewer", 403), ("outsider", 404)],
)
def test_it_lets_reviewers_and_up_mark_a_region_and_refuses_the_rest(client, personas, batch, image, who, status):
    client.force_login(personas[who])
    response = post_mark(client, batch, image=image.pk, x=2, y=3, width=10, height=12, comment="Missed a bike here")
    assert response.status_code == status
    marks = list(ReviewMark.objects.filter(image=image))
    if status == 302:
        assert [(m.x, m.y, m.width, m.height, m.comment, m.author) for m in marks] == [
            (2, 3, 10, 12, "Missed a bike here", personas[who])
        ]
        assert BatchEvent.objects.filter(batch=batch, kind=EventKind.MARKED, actor=personas[who]).count() == 1
    else:
        assert marks == []
        assert not BatchEvent.objects.filter(kind=EventKind.MARKED).exists()


def test_it_pins_a_mark_to_a_box_with_the_box_region(client, reviewer, batch, image):
    box = image.annotations.get(label__name="person")
    client.force_login(reviewer)
    response = post_mark(client, batch, image=image.pk, annotation=box.pk, comment="This is a statue")
    assert response.status_code == 302
    mark = ReviewMark.objects.get(image=image)
    assert (mark.annotation, mark.x, mark.y, mark.width, mark.height) == (box, box.x, box.y, box.width, box.height)


def test_the_service_refuses_a_labeler_and_a_batch_not_in_review(labeler, reviewer, manager, batch, image):
    with pytest.raises(NotAllowed):
        services.add_review_mark(image=image, actor=labeler, comment="x", region=(0, 0, 5, 5))
    services.review(batch=fresh(batch), actor=reviewer, all="approve")
    with pytest.raises(WrongState):
        services.add_review_mark(image=Image.objects.get(pk=image.pk), actor=manager, comment="x", region=(0, 0, 5, 5))
    assert not ReviewMark.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"x": 60, "y": 0, "width": 10, "height": 10},  # reaches past the 64-pixel width
        {"x": 0, "y": 40, "width": 10, "height": 9},  # past the 48-pixel height
        {"x": 0, "y": 0, "width": 0, "height": 10},
        {"x": 0, "y": 0, "width": "9" * 30, "height": 10},
        {"x": 0, "y": 0, "width": 2**63, "height": 10},
        {"x": "-1", "y": 0, "width": 5, "height": 5},
        {"x": "1.5", "y": 0, "width": 5, "height": 5},
        {"x": "²", "y": 0, "width": 5, "height": 5},
        {"x": 0, "y": 0, "width": 5},  # no height
        {},  # neither box nor region
        {"annotation": "999999", "x": 0, "y": 0, "width": 5, "height": 5},  # both
        {"annotation": "999999"},  # a box of no image here
        {"x": 0, "y": 0, "width": 5, "height": 5, "comment": ""},
        {"x": 0, "y": 0, "width": 5, "height": 5, "comment": "   "},
        {"x": 0, "y": 0, "width": 5, "height": 5, "comment": "a\x00b"},
        {"x": 0, "y": 0, "width": 5, "height": 5, "comment": "x" * 1001},
        {"x": 0, "y": 0, "width": 5, "height": 5, "image": "9" * 25},
    ],
)
def test_it_refuses_hostile_marks_with_400(client, reviewer, batch, image, data):
    client.force_login(reviewer)
    response = post_mark(client, batch, **({"image": image.pk, "comment": "Look here"} | data))
    assert response.status_code == 400, response.content[:300]
    assert not ReviewMark.objects.exists()


def test_the_service_refuses_regions_outside_and_empty_comments(reviewer, image):
    for region, comment in [
        ((0, 0, 65, 10), "wide"),
        ((-1, 0, 5, 5), "left"),
        ((float("nan"), 0, 5, 5), "nan"),
        ((0, 0, 5), "three"),
        ((0, 0, 5, 5), " "),
        ((0, 0, 5, 5), "a\x00b"),
    ]:
        with pytest.raises(InvalidInput):
            services.add_review_mark(image=image, actor=reviewer, comment=comment, region=region)
    assert not ReviewMark.objects.exists()


def test_a_box_of_another_image_cannot_be_marked(reviewer, batch, image):
    other = Image.objects.filter(placement__batch=batch).exclude(pk=image.pk).first()
    with pytest.raises(InvalidInput):
        services.add_review_mark(image=image, actor=reviewer, comment="x", annotation=other.annotations.first())


def test_a_reviewer_removes_a_mark_of_this_review(client, reviewer, labeler, batch, image):
    mark = services.add_review_mark(image=image, actor=reviewer, comment="Here", region=(0, 0, 5, 5))
    client.force_login(labeler)
    assert client.post(review_url(batch, "review-mark-delete"), {"mark": mark.pk}).status_code == 403
    assert ReviewMark.objects.filter(pk=mark.pk).exists()
    client.force_login(reviewer)
    assert client.post(review_url(batch, "review-mark-delete"), {"mark": mark.pk}).status_code == 302
    assert not ReviewMark.objects.exists()
    assert BatchEvent.objects.filter(batch=batch, kind=EventKind.UNMARKED).count() == 1


def test_rejecting_keeps_the_marks_and_the_labeler_sees_them_in_the_editor(client, reviewer, labeler, batch, image):
    box = image.annotations.get(label__name="person")
    services.add_review_mark(image=image, actor=reviewer, comment="Not a person: a statue", annotation=box)
    services.add_review_mark(image=image, actor=reviewer, comment="Missed the bike", region=(40, 20, 12, 14))
    services.record_decision(image=image, actor=reviewer, decision="reject", comment="Two things to fix")
    other = Image.objects.filter(placement__batch=batch).exclude(pk=image.pk).first()
    services.record_decision(image=other, actor=reviewer, decision="approve")
    result = services.review(batch=fresh(batch), actor=reviewer)
    assert ReviewMark.objects.filter(image=image, annotation=None).count() == 2  # the region and the image comment
    client.force_login(labeler)
    page = client.get(editor_url(result.rejected, image)).content.decode()
    assert "Not a person: a statue" in page and "Missed the bike" in page
    assert page.count('class="mark-region"') == 2
    assert 'class="mark older"' not in page
    assert "earlier review" not in page


def test_marks_of_an_earlier_review_show_as_older(client, reviewer, labeler, batch, image):
    services.add_review_mark(image=image, actor=reviewer, comment="Round one mark", region=(1, 1, 5, 5))
    back = services.review(batch=fresh(batch), actor=reviewer, all="reject", comment="Redo").rejected
    for img in Image.objects.filter(placement__batch=back):
        services.save_annotations(image=img, actor=labeler, boxes=[Box("car", 2, 2, 20, 10)])
    services.submit(batch=fresh(back), actor=labeler)
    image = Image.objects.get(pk=image.pk)
    services.add_review_mark(image=image, actor=reviewer, comment="Round two mark", region=(10, 10, 5, 5))
    with pytest.raises(WrongState):
        services.delete_review_mark(mark=ReviewMark.objects.get(comment="Round one mark"), actor=reviewer)
    services.review(batch=fresh(back), actor=reviewer, all="reject", comment="Again")
    client.force_login(labeler)
    page = client.get(editor_url(back, image)).content.decode()
    assert page.count('class="mark older"') == 1 and page.count('class="mark"') == 1
    assert "Round one mark" in page and "Round two mark" in page and "“Redo”" in page


def test_a_region_over_the_whole_image_stays_a_mark(client, reviewer, batch, image):
    # A drag past the image's corners is clamped to exactly (0, 0, width, height).
    whole = (0, 0, image.width, image.height)
    services.add_review_mark(image=image, actor=reviewer, comment="Wrong scene", region=whole)
    client.force_login(reviewer)
    page = client.get(review_url(batch), {"image": image.pk}).content.decode()
    assert "Wrong scene" in page and page.count('class="mark-region') >= 1
    services.delete_review_mark(mark=ReviewMark.objects.get(comment="Wrong scene"), actor=reviewer)
    assert not ReviewMark.objects.exists()


def test_a_sibling_batch_submitted_later_leaves_this_reviews_marks_current(
    make_batch, manager, labeler, reviewer, project
):
    classes(project)
    batch = make_batch(4, name="Pier")
    first = services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer, first=2)
    rest = first.remainder
    services.assign(batch=fresh(rest), actor=manager, labeler=labeler, reviewer=reviewer)
    for part in (first.batch, rest):
        for img in Image.objects.filter(placement__batch=part):
            services.save_annotations(image=img, actor=labeler, boxes=[Box("car", 1, 1, 20, 10)])
    services.submit(batch=fresh(rest), actor=labeler)
    image = Image.objects.filter(placement__batch=rest).first()
    services.add_review_mark(image=image, actor=reviewer, comment="Tighter, please", region=(1, 1, 5, 5))
    services.submit(batch=fresh(first.batch), actor=labeler)  # the batch it was split from, later
    services.delete_review_mark(mark=ReviewMark.objects.get(comment="Tighter, please"), actor=reviewer)
    assert not ReviewMark.objects.exists()
