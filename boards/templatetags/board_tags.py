from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def age(value: datetime | None, now: datetime | None = None) -> str:
    """A card's age in one short word: "now", "5m", "3h", "2d", "6w" (``now``: the clock, read once for many)."""
    if not value:
        return ""
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


@register.filter
def event_text(event) -> str:
    """One line of a batch's history: what happened, where the batch went, and what became of its boxes."""
    from boards.models import EventKind

    kind = event.get_kind_display()
    detail = event.detail or {}
    if event.kind == EventKind.UNASSIGNED:
        text = kind
        if event.from_status and event.from_status != event.to_status:
            text += f" from {event.get_from_status_display()}"
        if detail.get("kept_annotations"):
            images = detail.get("prelabeled_images")
            if images is None:
                return f"{text}; boxes kept as pre-labels"
            if not images:
                return f"{text}; no boxes to keep"
            return f"{text}; boxes kept as pre-labels on {images} image{'s' if images != 1 else ''}"
        removed = detail.get("annotations_removed")
        if removed is None:
            return text
        if not removed:
            return f"{text}; no boxes to remove"
        return f"{text}; {removed} box{'es' if removed != 1 else ''} removed"
    if event.to_status and event.from_status != event.to_status:
        target = event.get_to_status_display()
        if not kind.endswith(target):  # "Archived → Archived" says it twice
            return f"{kind} → {target}"
    return kind
