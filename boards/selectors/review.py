"""The review screen: the image in view, its boxes with their class names, and its review marks. Nothing here writes."""

from __future__ import annotations

from django.db.models import Count, Subquery

from boards.models import (
    Annotation,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    ReviewMark,
    ReviewState,
)


def next_to_review(batch: Batch, *, after: int | None = None) -> int | None:
    pending = Image.objects.filter(placement__batch=batch, review_state=ReviewState.PENDING).order_by("pk")
    later = pending.filter(pk__gt=after).values_list("pk", flat=True).first() if after else None
    return later or pending.values_list("pk", flat=True).first()


def review_context(batch: Batch, image_id: int | None = None) -> dict:
    """The review screen: the image in view, its neighbours, and the tally."""
    images = Image.objects.filter(placement__batch=batch).order_by("pk")
    tally = dict(images.order_by().values("review_state").annotate(n=Count("pk")).values_list("review_state", "n"))
    current = None
    if image_id:
        current = images.filter(pk=image_id).first()
    if current is None:
        first = next_to_review(batch)
        current = images.filter(pk=first).first() if first else images.first()
    previous_id = (
        images.filter(pk__lt=current.pk).order_by("-pk").values_list("pk", flat=True).first() if current else None
    )
    next_id = images.filter(pk__gt=current.pk).values_list("pk", flat=True).first() if current else None
    position = images.filter(pk__lte=current.pk).count() if current else 0
    total = sum(tally.values())
    boxes = review_boxes(current) if current else []
    return {
        "batch": batch,
        "image": current,
        "boxes": boxes,
        "box_groups": box_groups(boxes),
        # A decision taken in this round shows its comment; an earlier round's comment is history.
        "comment": current.review_comment if current and current.review_state == ReviewState.REJECTED else "",
        **(review_marks(current, batch) if current else {"marks": [], "history": []}),
        "previous_id": previous_id,
        "next_id": next_id,
        "position": position,
        "total": total,
        "approved": tally.get(ReviewState.APPROVED, 0),
        "rejected": tally.get(ReviewState.REJECTED, 0),
        "pending": tally.get(ReviewState.PENDING, 0),
        "strip": list(images.values_list("pk", "review_state")[:200]),
    }


def ink_on(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (``#rrggbb``)."""
    try:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except (TypeError, ValueError):
        return "#ffffff"
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + 0.05), with near-black (L 0.01) (L + 0.05) / 0.06.
    return "#111827" if (luminance + 0.05) / 0.06 > 1.05 / (luminance + 0.05) else "#ffffff"


def tag_size(image: Image) -> float:
    """A first size for the class labels and mark numbers drawn over an image, in its pixels
    (about 13 screen pixels when the image fills a 1,000-pixel-wide frame); the page's script refines it."""
    return max(8.0, round(max(image.width, image.height) / 75, 1))


def review_boxes(image: Image) -> list[Annotation]:
    """The image's boxes with their class, largest first (a small box inside a large one stays clickable),
    each with ``ink`` (the text colour on its class colour) and a first guess of its tag's size."""
    size = tag_size(image)
    boxes = sorted(image.annotations.select_related("label"), key=lambda a: (-a.width * a.height, a.pk))
    for box in boxes:
        box.ink = ink_on(box.label.color)
        box.tag_height = round(size * 1.4, 1)
        box.tag_width = round(size * (0.62 * len(box.label.name) + 0.6), 1)
        box.tag_y = round(box.y - box.tag_height if box.y >= box.tag_height else box.y, 1)
        box.tag_text_y = round(box.tag_y + size * 1.1, 1)
        box.tag_text_x = round(box.x + size * 0.3, 1)
        box.tag_size = size
    return boxes


def box_groups(boxes: list[Annotation]) -> list[dict]:
    """The boxes by class, most boxes first: ``{"label", "count"}``."""
    groups: dict[int, dict] = {}
    for box in boxes:
        groups.setdefault(box.label_id, {"label": box.label, "count": 0})["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["label"].name.lower()))


def review_round_start(batch: Batch):
    """When the batch's latest review began: its latest submission for review (or that of the batch a
    review split it off). In Annotating after a rejection, the submission before that rejection."""
    submitted = {"kind": EventKind.SUBMITTED, "to_status": BatchStatus.REVIEW}
    events = BatchEvent.objects.filter(batch=batch, **submitted)
    if batch.split_from_id:
        # The batch it was split from: only its submissions before this batch existed.
        born = BatchEvent.objects.filter(batch=batch).order_by("at", "pk").values("at")[:1]
        events = events | BatchEvent.objects.filter(batch_id=batch.split_from_id, at__lte=Subquery(born), **submitted)
    if batch.status != BatchStatus.REVIEW:
        rejected = BatchEvent.objects.filter(batch=batch, kind=EventKind.REJECTED).order_by("-at", "-pk")
        events = events.filter(at__lte=Subquery(rejected.values("at")[:1]))
    return events.order_by("-at", "-pk").values_list("at", flat=True).first()


def review_marks(image: Image, batch: Batch) -> dict:
    """The image's review marks: ``marks`` pinned to a box or region, oldest first and numbered, each
    ``older`` when an earlier review left it; ``history``, the earlier reviews' comments and marks,
    newest first (a finished review keeps each rejected image's comment as a mark on the whole image).
    ``current_marks`` counts the latest review's pinned marks."""
    start = review_round_start(batch)
    size = tag_size(image)
    marks, history, whole = [], [], set()
    for mark in ReviewMark.objects.filter(image=image).select_related("author", "annotation__label"):
        mark.older = start is not None and mark.created_at < start
        mark.whole_image = mark.from_comment
        if not mark.whole_image:
            marks.append(mark)
            mark.number = len(marks)
            mark.tag_size = size
            mark.badge = round(size * 1.5, 1)
            # The number sits in the region's top-right corner, clear of the class name at the top left.
            mark.badge_x = round(max(mark.x, mark.x + mark.width - mark.badge), 1)
            mark.text_x = round(mark.badge_x + mark.badge / 2, 1)
            mark.text_y = round(mark.y + mark.badge * 0.74, 1)
        if mark.older:
            history.append(mark)
        if mark.whole_image:
            whole.add(mark.comment)
    history.reverse()
    if (
        batch.status == BatchStatus.REVIEW
        and image.review_comment
        and image.review_state != ReviewState.REJECTED
        and image.review_comment not in whole
    ):
        # A comment kept from before marks were recorded: no author or time known.
        history.append(ReviewMark(image=image, comment=image.review_comment, created_at=None))
        history[-1].whole_image, history[-1].older = True, True
    return {"marks": marks, "history": history, "current_marks": sum(1 for m in marks if not m.older)}
