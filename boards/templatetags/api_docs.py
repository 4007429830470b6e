"""Template filters for the API reference page."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

_CODE = re.compile(r"`([^`]+)`")


@register.filter
def inline_code(text: str) -> str:
    """Escape ``text`` and show `backticked` parts as code, as the OpenAPI descriptions write them."""
    escaped = escape(text)
    return mark_safe(_CODE.sub(r"<code>\1</code>", escaped).replace("\n\n", "<br><br>"))  # noqa: S308 - escaped above
