"""Image rows for the catalog tests, made in bulk and without files (the catalog never opens them)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from boards.models import Image, Tag

_numbers = itertools.count(1)


def make_images(project, n: int = 1, *, names=None, tags=(), **fields) -> list[Image]:
    """``n`` images (or one per name in ``names``), uploaded one minute apart in that order."""
    names = list(names) if names is not None else [None] * n
    start = fields.pop("uploaded_at", timezone.now() - timedelta(days=1))
    images = []
    for i, name in enumerate(names):
        number = next(_numbers)
        images.append(
            Image(
                project=project,
                file=f"test/{number}.jpg",
                width=fields.get("width", 640),
                height=fields.get("height", 480),
                sha256=f"{number:064x}",
                original_filename=name or f"image{number:05d}.jpg",
                uploaded_at=start + timedelta(minutes=i),
                **{k: v for k, v in fields.items() if k not in ("width", "height")},
            )
        )
    Image.objects.bulk_create(images)
    for tag_name in tags:
        tag, _ = Tag.objects.get_or_create(project=project, name=tag_name)
        tag.images.add(*images)
    return images


def ids(images) -> set[int]:
    return {image.pk for image in images}
