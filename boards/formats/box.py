"""The box every annotation format and service reads and writes; imports nothing of Django."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A box in pixels of the original image; ``label`` is a class name or id."""

    label: str | int
    x: float
    y: float
    width: float
    height: float
