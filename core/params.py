"""One way to read parameters from a request: query string, form fields or a JSON body.

Each reader takes the mapping the value came in (``request.GET``, ``request.POST``
or a dict from ``json_body``) and the parameter's name, and returns a clean
Python value or raises ``BadParameter``: a ``core.errors.InvalidInput``, so
it becomes a 400 whose message a person can act on, wherever it is raised
(the API's error shape, the editor's JSON, or ``core.middleware`` for pages).

The rules, the same everywhere:

- whole numbers are written with the ASCII digits 0-9 (``str.isdigit`` also
  accepts "²" and "٣", which ``int`` refuses or reads differently) and must fit
  a 64-bit database integer; ids are positive and fit the id column;
- text holds no NUL character (PostgreSQL cannot store one) and has a length limit;
- a JSON body is bounded in size and nesting depth, and holds only finite numbers.

A parameter sent twice in a query string is read from its last value, as
``QueryDict.get`` does; a JSON list where one value is expected is refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, QueryDict

from core.errors import InvalidInput, TooLarge

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""A 64-bit signed integer: what SQLite and PostgreSQL's bigint store."""
MAX_ID = INT_MAX
"""Ids are BigAutoField (``DEFAULT_AUTO_FIELD``)."""
MAX_IDS = 25_000
"""The longest list of ids one request may name (a whole batch)."""
TEXT_LIMIT = 1_000
JSON_DEPTH = 20
"""How deeply a JSON body may nest objects and lists; the deepest body the app reads nests 5."""

_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class BadParameter(InvalidInput):
    """A request parameter that cannot be read; ``param`` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error message may quote it: short, one line, no control characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:200]
    text = "".join(ch if ch.isprintable() else "�" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get(data: Mapping, name: str) -> Any:
    """The value sent under ``name``: the last one of a repeated query parameter."""
    return data.get(name)


def _label(name: str, label: str | None) -> str:
    return label or f"“{name}”"


# --- numbers ---------------------------------------------------------------------------


def whole_number(
    value: Any, *, name: str = "value", label: str | None = None, low: int = INT_MIN, high: int = INT_MAX
) -> int:
    """One whole number from a string of ASCII digits (an optional sign) or a JSON integer."""
    what = _label(name, label)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadParameter(name, f"{what} must be a whole number.")
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise BadParameter(name, f"{what} must be a whole number in the digits 0-9, not “{shown(value)}”.")
        if len(text.lstrip("+-")) > 19:
            raise BadParameter(name, f"{what} is too large: {_range(low, high)}.")
        value = int(text)
    if not low <= value <= high:
        raise BadParameter(name, f"{what} is out of range: {_range(low, high)}.")
    return value


def _range(low: int, high: int) -> str:
    bounds = [f"at least {low:,}"] if low > INT_MIN else []
    bounds += [f"at most {high:,}"] if high < INT_MAX else []
    return "it must be a whole number " + " and ".join(bounds) if bounds else "it must fit in 64 bits (19 digits)"


def integer(
    data: Mapping,
    name: str,
    *,
    label: str | None = None,
    default: int | None = None,
    low: int = INT_MIN,
    high: int = INT_MAX,
    required: bool = False,
    number_only: bool = False,
) -> int | None:
    """``data[name]`` as a whole number from ``low`` to ``high``; ``default`` when absent or empty.

    ``number_only``: in a JSON body, only a JSON integer will do (not a string of digits).
    """
    value = _get(data, name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, f"{_label(name, label)} is required.")
        return default
    if number_only and isinstance(value, str):
        raise BadParameter(name, f"{_label(name, label)} must be a whole number (a JSON integer, not a string).")
    return whole_number(value, name=name, label=label, low=low, high=high)


def ident_value(value: Any, *, name: str = "id", label: str | None = None) -> int:
    """One row id: a positive whole number that fits the id column."""
    what = _label(name, label)
    try:
        return whole_number(value, name=name, label=label, low=1, high=MAX_ID)
    except BadParameter:
        raise BadParameter(name, f"{what} is not a valid id: ids are whole numbers from 1 up.") from None


def ident(data: Mapping, name: str, *, label: str | None = None, required: bool = False) -> int | None:
    """``data[name]`` as a row id, or None when absent or empty."""
    value = _get(data, name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, f"{_label(name, label)} is required.")
        return None
    return ident_value(value, name=name, label=label)


def idents(data: Mapping, name: str, *, label: str | None = None, limit: int = MAX_IDS) -> list[int]:
    """Every id sent under ``name``: a repeated form field, or a JSON list; in order, without repeats."""
    if isinstance(data, QueryDict):
        values: Any = data.getlist(name)
    else:
        values = data.get(name)
        if values is None:
            values = []
    if isinstance(values, str | bytes) or not isinstance(values, Iterable) or isinstance(values, Mapping):
        raise BadParameter(name, f"{_label(name, label)} must be a list of ids.")
    values = list(values)
    if len(values) > limit:
        raise BadParameter(name, f"{_label(name, label)} names {len(values):,} ids; at most {limit:,} at once.")
    return list(dict.fromkeys(ident_value(v, name=name, label=label) for v in values))


# --- other scalars -----------------------------------------------------------------------


def day(data: Mapping, name: str, *, label: str | None = None) -> date | None:
    """``data[name]`` as a date written like 2025-03-31, or None when absent or empty."""
    value = _get(data, name)
    if value is None or value == "":
        return None
    what = _label(name, label)
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip(), re.ASCII):
        raise BadParameter(name, f"{what}: “{shown(value)}” is not a date like 2025-03-31.")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadParameter(name, f"{what}: “{shown(value)}” is not a date in the calendar.") from None


def boolean(data: Mapping, name: str, *, label: str | None = None, default: bool | None = False) -> bool | None:
    """``data[name]`` as true or false (true/false, yes/no, on/off, 1/0); ``default`` when absent."""
    value = _get(data, name)
    if value is None:
        return default
    return flag(value, name=name, label=label)


def flag(value: Any, *, name: str = "value", label: str | None = None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise BadParameter(name, f"{_label(name, label)} is true or false, not “{shown(value)}”.")


def choice(
    data: Mapping,
    name: str,
    choices: Iterable[str],
    *,
    label: str | None = None,
    default: str | None = "",
    required: bool = False,
) -> str | None:
    """``data[name]`` if it is one of ``choices``; ``default`` when absent or empty."""
    value = _get(data, name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, f"{_label(name, label)} is required: one of {', '.join(choices)}.")
        return default
    allowed = list(choices)
    if not isinstance(value, str) or value.strip() not in allowed:
        raise BadParameter(name, f"{_label(name, label)} is one of {', '.join(allowed)}; not “{shown(value)}”.")
    return value.strip()


LONE_SURROGATE = "a lone surrogate (\\ud800–\\udfff), which is half of a character, not text"


def holds_surrogate(value: str) -> bool:
    """Whether ``value`` holds a lone surrogate: JSON's and YAML's ``"\\ud800"`` escape reads as one,
    and no database stores it (UTF-8 cannot encode it)."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_PARTS = (str, dict, list, tuple)


def _walk(value: Any):
    """The strings (keys included) and containers of parsed JSON or YAML, each with its depth (1 for
    ``value``); iterative, so any depth is safe. Numbers and the like are passed over."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item if isinstance(key, str))
            stack.extend((inner, depth + 1) for inner in item.values() if isinstance(inner, _PARTS))
        elif isinstance(item, list | tuple):
            stack.extend((inner, depth + 1) for inner in item if isinstance(inner, _PARTS))


def first_surrogate(value: Any) -> str | None:
    """The first string of parsed JSON or YAML (a value or a key, at any depth) that holds a lone
    surrogate, shown with it escaped (``\\ud800``) so that a message may quote it; None when none does."""
    for item, _depth in _walk(value):
        if isinstance(item, str) and holds_surrogate(item):
            return item.encode("utf-8", "backslashreplace").decode("utf-8")
    return None


def clean_text(value: Any, *, name: str = "value", label: str | None = None, limit: int = TEXT_LIMIT) -> str:
    """A string with no NUL character and at most ``limit`` characters, stripped of surrounding space."""
    what = _label(name, label)
    if not isinstance(value, str):
        raise BadParameter(name, f"{what} must be text.")
    if "\x00" in value:
        raise BadParameter(name, f"{what} contains a NUL character (\\0), which text cannot hold.")
    if holds_surrogate(value):
        raise BadParameter(name, f"{what} contains {LONE_SURROGATE}.")
    value = value.strip()
    if len(value) > limit:
        raise BadParameter(name, f"{what} is too long: {len(value):,} characters, {limit:,} at most.")
    return value


def text(
    data: Mapping,
    name: str,
    *,
    label: str | None = None,
    limit: int = TEXT_LIMIT,
    default: str = "",
    required: bool = False,
) -> str:
    """``data[name]`` as text (see ``clean_text``); ``default`` when absent or blank."""
    value = _get(data, name)
    if value is not None:
        value = clean_text(value, name=name, label=label, limit=limit)
    if not value:
        if required:
            raise BadParameter(name, f"{_label(name, label)} is required.")
        return default
    return value


def texts(data: Mapping, name: str, *, label: str | None = None, limit: int = TEXT_LIMIT, count: int = 1000) -> list:
    """Every text sent under ``name`` (a repeated field or a JSON list), each checked as ``clean_text``."""
    values = data.getlist(name) if isinstance(data, QueryDict) else data.get(name) or []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        raise BadParameter(name, f"{_label(name, label)} must be a list of texts.")
    if len(values) > count:
        raise BadParameter(name, f"{_label(name, label)} has {len(values):,} values; at most {count:,}.")
    return [clean_text(v, name=name, label=label, limit=limit) for v in values]


# --- JSON ------------------------------------------------------------------------------------


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond a finite number")
    return number


def _no_constant(text: str):
    raise ValueError(f"{text} is not a JSON number")


_NUL_IN_JSON = "The JSON body contains a NUL character (\\u0000), which text cannot hold."


def _check_tree(value: Any, depth_limit: int) -> None:
    """Nesting within ``depth_limit`` and no NUL or lone surrogate in any string (``_walk``)."""
    for item, depth in _walk(value):
        if isinstance(item, str):
            if "\x00" in item:
                raise BadParameter("body", _NUL_IN_JSON)
            if holds_surrogate(item):
                raise BadParameter("body", f"The JSON body contains {LONE_SURROGATE}.")
        elif isinstance(item, dict | list) and depth > depth_limit:
            raise BadParameter("body", f"The JSON body nests too deeply ({depth_limit} levels at most).")


def parse_json(raw: bytes | str, *, depth: int = JSON_DEPTH, what: str = "The request body") -> Any:
    """JSON text as Python values: finite numbers only, nesting at most ``depth``, no NUL or lone
    surrogate in strings."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise BadParameter("body", f"{what} nests too deeply ({depth} levels at most).") from None
    except ValueError as exc:  # also UnicodeDecodeError and over-long integers
        raise BadParameter("body", f"{what} must be JSON ({shown(str(exc), 120)}).") from None
    _check_tree(value, depth)
    return value


def json_body(request: HttpRequest, *, depth: int = JSON_DEPTH, max_bytes: int | None = None) -> dict:
    """The request's JSON object (``{}`` for an empty body); 400 for anything else, 413 when too large."""
    limit = max_bytes or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        body = request.body
    except RequestDataTooBig:
        raise TooLarge("The request body is too large.") from None
    if limit and len(body) > limit:
        raise TooLarge(f"The request body is too large ({limit / 1e6:g} MB at most).")
    if not body.strip():
        return {}
    data = parse_json(body, depth=depth)
    if not isinstance(data, dict):
        raise BadParameter("body", "The request body must be a JSON object: {…}.")
    return data
