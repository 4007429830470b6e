"""Read a rendered board back into columns and cards, as a person would read the page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class CardView:
    id: int
    name: str
    moves: list[str]
    thumbnails: int = 0
    people: list[str] = field(default_factory=list)  # the avatars' titles, e.g. "Labeler: a@b.c"
    jobs: int = 0
    images: int = 0
    prelabeled: int = 0  # images with boxes kept as pre-labels
    progress: tuple[int, int, str] | None = None  # done, total, "annotated" / "reviewed"


@dataclass
class ColumnView:
    status: str
    count: int = 0
    cards: list[CardView] = field(default_factory=list)
    has_more: bool = False

    @property
    def names(self) -> list[str]:
        return [card.name for card in self.cards]


class _BoardParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.columns: dict[str, ColumnView] = {}
        self.column: ColumnView | None = None
        self.card: CardView | None = None
        self.text_into: str | None = None
        self.depth = 0  # <li>s open inside the card (its menu's items)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section" and "column" in classes:
            self.column = self.columns[a["id"].removeprefix("column-")] = ColumnView(a["id"].removeprefix("column-"))
        elif tag == "span" and "count" in classes:
            self.text_into = "count"
        elif tag == "li" and "batch-card" in classes:
            self.card = CardView(int(a["id"].removeprefix("batch-")), a["data-name"], a["data-moves"].split())
            self.column.cards.append(self.card)
        elif tag == "li" and "show-more" in classes:
            self.column.has_more = True
        elif self.card is not None:
            if tag == "li":
                self.depth += 1
            elif tag == "img":
                self.card.thumbnails += 1
            elif "avatar" in classes:
                self.card.people.append(a["title"])
            elif a.get("title", "").startswith("Jobs"):
                self.text_into = "jobs"
            elif "prelabeled" in classes:
                self.text_into = "prelabeled"
            elif a.get("role") == "progressbar":
                self.card.progress = (int(a["aria-valuenow"]), int(a["aria-valuemax"]), a["aria-label"])
            elif tag == "span" and not a and self.card.images == 0:
                self.text_into = "images"

    def handle_endtag(self, tag):
        if tag == "li" and self.card is not None:
            if self.depth:
                self.depth -= 1
            else:
                self.card = None

    def handle_data(self, data):
        if self.text_into is None:
            return
        number = re.match(r"\s*(\d+)", data)
        if number:
            value = int(number.group(1))
            if self.text_into == "count":
                self.column.count = value
            else:
                setattr(self.card, self.text_into, value)
        self.text_into = None


def parse_board(html: bytes | str) -> dict[str, ColumnView]:
    """The board's columns in page order, by status."""
    parser = _BoardParser()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    return parser.columns
