from datetime import timedelta

import pytest
from django.utils import timezone

from boards.templatetags.board_tags import age


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=30), "now"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=3, minutes=59), "3h"),
        (timedelta(days=2), "2d"),
        (timedelta(weeks=6), "6w"),
        (timedelta(seconds=-90), "now"),  # a clock a little ahead of ours
    ],
)
def test_a_cards_age_is_one_short_word(delta, expected):
    assert age(timezone.now() - delta) == expected


def test_no_date_has_no_age():
    assert age(None) == ""
