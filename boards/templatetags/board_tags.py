from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def age(value: datetime | None) -> str:
    """A card's age in one short word: "now", "5m", "3h", "2d", "6w"."""
    if not value:
        return ""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"
