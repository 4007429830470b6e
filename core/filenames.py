"""File names as people send them, made safe to store and to name inside an archive."""

from __future__ import annotations


def safe_filename(name) -> str:
    """A file name without any folder (either slash): the last part, at most 255 characters.

    "" when nothing usable is left ("", "." or ".."), so that the caller picks
    a fallback: a stored name never climbs out of a folder it is written into.
    """
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    return "" if base in (".", "..") else base
