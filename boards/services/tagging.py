"""Image tags: one image's (the API) and the catalog's bulk tagging."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Value

from accounts.models import User
from boards import catalog
from boards.models import Image, Project, Tag
from core.errors import InvalidInput, NotFound
from core.permissions import require

MAX_TAGS_PER_IMAGE = 50
MAX_TAG_LENGTH = 100


def _valid_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list | tuple):
        raise InvalidInput("Tags are a list of names.")
    result: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("Every tag is a non-empty name.")
        if len(tag.strip()) > MAX_TAG_LENGTH:
            raise InvalidInput(f"A tag has at most {MAX_TAG_LENGTH} characters.")
        if tag.strip() not in result:
            result.append(tag.strip())
    if len(result) > MAX_TAGS_PER_IMAGE:
        raise InvalidInput(f"An image has at most {MAX_TAGS_PER_IMAGE} tags.")
    return result


def _tags_named(project: Project, names: Sequence[str]) -> dict[str, int]:
    """{name: tag id} for ``names``, creating the tags the project lacks."""
    found = dict(Tag.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    missing = [n for n in names if n not in found]
    if missing:
        Tag.objects.bulk_create([Tag(project=project, name=n) for n in missing], ignore_conflicts=True)
        found = dict(Tag.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    return found


def _add_tags(project: Project, image_ids: Sequence[int], names: Sequence[str]) -> None:
    through = Image.tags.through
    ids = _tags_named(project, names)
    through.objects.bulk_create(
        [through(image_id=i, tag_id=t) for i in image_ids for t in ids.values()], ignore_conflicts=True
    )


TAG_OPERATIONS = ("add", "remove", "set")


@dataclass
class TagResult:
    images: int  # in the selection
    added: int  # (image, tag) pairs made; an image that had the tag already is not counted
    removed: int


def change_image_tags(*, image: Image, actor: User, operation: str, tags: Sequence[str]) -> list[str]:
    """Add, remove or set an image's tags; returns its tags afterwards, sorted.

    Tagging is for the project's managers and owners (``boards.tag_images``), as in the catalog.
    One image's twin of ``tag_images``, kept apart for what it adds: "set", the
    image's row lock and its own refusals (a deleted image is a 404).
    """
    project = image.project
    require(actor, "boards.tag_images", project, message="Only the project's managers and owners may tag images.")
    if operation not in TAG_OPERATIONS:
        raise InvalidInput("The operation is one of add, remove or set.")
    names = _valid_tags(tags)
    through = Image.tags.through
    with transaction.atomic():
        # Only the image's row: tags change no batch, so no batch lock is needed before it.
        image = Image.objects.select_for_update(of=("self",)).filter(pk=image.pk).first()
        if image is None:
            raise NotFound("This image no longer exists; someone deleted it.")
        if operation in ("remove", "set"):
            drop = through.objects.filter(image_id=image.pk)
            drop = drop.filter(tag__name__in=names) if operation == "remove" else drop.exclude(tag__name__in=names)
            drop.delete()
        if operation in ("add", "set") and names:
            if len(set(image.tags.values_list("name", flat=True)) | set(names)) > MAX_TAGS_PER_IMAGE:
                raise InvalidInput(f"An image has at most {MAX_TAGS_PER_IMAGE} tags.")
            _add_tags(project, [image.pk], names)
        return sorted(image.tags.values_list("name", flat=True))


def tag_images(
    *,
    project: Project,
    actor: User,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    filters: catalog.CatalogFilter | None = None,
    image_ids: Iterable[int] | None = None,
) -> TagResult:
    """Add and remove tags (by name) on every image a filter or a list of ids picks.

    The catalog's bulk twin of ``change_image_tags``, with the same rules: a tag
    the project lacks is created, and an image has at most
    ``MAX_TAGS_PER_IMAGE`` tags (an addition that would pass that is refused
    whole, saying how many images are in the way).
    """
    require(actor, "boards.tag_images", project, verb="tag images in this project")
    to_add, to_remove = _valid_tags(list(add)), _valid_tags(list(remove))
    if not to_add and not to_remove:
        raise InvalidInput("Name at least one tag to add or remove.")
    both = [n for n in to_add if n in to_remove]
    if both:
        raise InvalidInput(f"“{both[0]}” is both added and removed; choose one.")
    through = Image.tags.through
    with transaction.atomic():
        images = catalog.selected_images(project, filters=filters, image_ids=image_ids)
        selected = images.count()
        if not selected:  # a filter naming a tag or class the project lacks, or matching nothing
            raise InvalidInput("No image matches this selection: nothing was tagged.")
        added = removed = 0
        if to_remove:
            removed, _ = through.objects.filter(
                tag__project=project, tag__name__in=to_remove, image_id__in=images.values("pk")
            ).delete()
        if to_add:
            full = (
                through.objects.filter(image_id__in=images.values("pk"))
                .exclude(tag__name__in=to_add)
                .values("image_id")
                .annotate(n=Count("pk"))
                .filter(n__gt=MAX_TAGS_PER_IMAGE - len(to_add))
                .count()
            )
            if full:
                raise InvalidInput(
                    f"{full:,} of the selected images would have more than {MAX_TAGS_PER_IMAGE} tags; "
                    "an image has at most that many."
                )
            for tag_id in _tags_named(project, to_add).values():
                added += _link_tag(images, tag_id, through)
    return TagResult(images=selected, added=added, removed=removed)


def _link_tag(images, tag_id: int, through) -> int:
    """INSERT INTO <image tags> (image_id, tag_id) SELECT id, <tag> FROM <images without it>."""
    rows = images.exclude(tags=tag_id).order_by().annotate(tag_ref=Value(tag_id)).values_list("pk", "tag_ref")
    select_sql, params = rows.query.sql_with_params()
    qn = connection.ops.quote_name
    columns = ", ".join(qn(through._meta.get_field(f).column) for f in ("image", "tag"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(through._meta.db_table)} ({columns}) {select_sql}", params)  # noqa: S608
        return cursor.rowcount
