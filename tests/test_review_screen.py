"""The review screen: class names on the boxes, the boxes by class, and earlier comments as history."""

import re
from html.parser import HTMLParser

import pytest

from boards import selectors, services
from boards.formats.box import Box
from boards.models import Image
from tests.review_support import classes, fresh, review_url, submitted

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """The parts of the review page these tests read: SVG texts, the class list, the comment box, history."""

    def __init__(self, html: str):
        super().__init__()
        self.tags, self.groups, self.history, self.comment = [], [], [], None
        self._into = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "g" and attrs.get("class") == "tag":
            self._into = self.tags
        elif tag == "summary":
            self._into = self.groups
            self.groups.append("")
        elif tag == "p" and attrs.get("class") == "what":
            self._into = self.history
            self.history.append("")
        elif tag == "input" and attrs.get("id") == "comment":
            self.comment = attrs.get("value")
        if tag == "text" and self._into is self.tags:
            self.tags.append((attrs["fill"], ""))

    def handle_endtag(self, tag):
        if tag in ("g", "summary", "p"):
            self._into = None

    def handle_data(self, data):
        if self._into is self.tags and self.tags:
            self.tags[-1] = (self.tags[-1][0], self.tags[-1][1] + data)
        elif self._into is not None and self._into is not self.tags:
            self._into[-1] += data


@pytest.fixture
def batch(project, make_batch, manager, labeler, reviewer):
    classes(project)
    return submitted(make_batch, manager, labeler, reviewer)


def page(client, batch, image=None) -> Page:
    url = review_url(batch) + (f"?image={image.pk}" if image else "")
    response = client.get(url)
    assert response.status_code == 200
    return Page(response.content.decode())


def test_it_names_each_box_class_on_the_image_in_a_readable_colour(client, reviewer, batch):
    client.force_login(reviewer)
    shown = page(client, batch)
    # Red "car" takes white text, yellow "person" takes dark text.
    assert sorted(shown.tags) == [("#111827", "person"), ("#ffffff", "car"), ("#ffffff", "car")]


def test_it_lists_the_boxes_by_class_with_counts(client, reviewer, batch):
    client.force_login(reviewer)
    groups = [re.sub(r"\s+", " ", g).strip() for g in page(client, batch).groups]
    assert groups == ["car 2", "person 1"]


def test_the_comment_box_starts_empty_on_a_second_review_with_the_earlier_comment_as_history(
    client, reviewer, labeler, batch
):
    image = Image.objects.filter(placement__batch=batch).order_by("pk").first()
    client.force_login(reviewer)
    assert page(client, batch, image).comment in (None, "")
    services.record_decision(image=image, actor=reviewer, decision="reject", comment="Tighter boxes, please")
    assert page(client, batch, image).comment == "Tighter boxes, please"  # this review's own decision
    services.record_decision(
        image=Image.objects.exclude(pk=image.pk).get(placement__batch=batch), actor=reviewer, decision="approve"
    )
    back = services.review(batch=fresh(batch), actor=reviewer).rejected
    services.save_annotations(image=Image.objects.get(pk=image.pk), actor=labeler, boxes=[Box("car", 2, 2, 9, 9)])
    services.submit(batch=fresh(back), actor=labeler)
    second = page(client, fresh(back), image)
    assert second.comment in (None, "")
    assert second.history == ["“Tighter boxes, please”"]
    html = client.get(review_url(back) + f"?image={image.pk}").content.decode()
    assert "reviewer@acme.test" in html and "Earlier reviews" in html


def test_a_comment_kept_from_before_marks_still_shows_as_history(client, reviewer, batch):
    image = Image.objects.filter(placement__batch=batch).order_by("pk").first()
    Image.objects.filter(pk=image.pk).update(review_comment="An old comment")  # pending, as after a fix
    client.force_login(reviewer)
    shown = page(client, batch, image)
    assert shown.comment in (None, "") and shown.history == ["“An old comment”"]


def test_ink_is_readable_on_light_and_dark_classes():
    assert selectors.ink_on("#ffffff") == "#111827"
    assert selectors.ink_on("#facc15") == "#111827"
    assert selectors.ink_on("#1d4ed8") == "#ffffff"
    assert selectors.ink_on("nonsense") == "#ffffff"


def test_the_review_page_keeps_a_constant_number_of_queries(client, reviewer, batch, django_assert_max_num_queries):
    image = Image.objects.filter(placement__batch=batch).order_by("pk").first()
    for n in range(5):
        services.add_review_mark(image=image, actor=reviewer, comment=f"mark {n}", region=(0, 0, 5 + n, 5))
    client.force_login(reviewer)
    with django_assert_max_num_queries(20):
        client.get(review_url(batch) + f"?image={image.pk}")
