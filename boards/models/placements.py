"""Where each image of a project stands: in a batch (its ``Placement``) or free (its ``FreeImage``).

Every image has exactly one of the two rows. Both tables are narrow, so that
moving thousands of images writes small rows and never the image's own.

- **A move between batches** (a split, the part of a batch a manager assigns,
  what a review sends back) changes the batch of thousands of images at once.
  Stored in the image's own row, each moved image was a new version of a wide
  row with an entry in every one of its indexes on PostgreSQL (name trigram,
  upload order, sizes, the picture once per project): a 12,500-image move spent
  550–800 ms there, against 80–140 ms for the same ``UPDATE`` of the two-column
  placements (``bench/README.md``).
- **A batch taking free images** (from either catalog, an upload queueing
  pictures the project has) deletes their free rows and inserts their
  placements. While "free" was a flag on the image row, with the catalog's
  indexes of free images partial on it, taking 25,000 free images rewrote 25,000
  wide rows: 850 ms in psql, against 140 ms for these two narrow writes.
  The free rows carry what the catalog pages free images by (project, upload
  time, sizes), in one index, so "not in a batch" pages and counts from it alone.
"""

from collections.abc import Mapping
from types import MappingProxyType

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from boards.models.batches import Batch
from boards.models.projects import Project


def free_images(collector, field, sub_objs, using) -> None:
    """``on_delete`` of a placement's batch: the placements go (``CASCADE``), and a receiver of the
    batch's ``pre_delete`` (``_free_before_batch_delete``) makes their images free. The services free
    or delete a batch's images before deleting it; this is for the admin and the ORM."""
    models.CASCADE(collector, field, sub_objs, using)


class Placement(models.Model):
    """An image's batch: the row exists while the image is in one.

    No foreign keys on PostgreSQL: its batch is checked once per statement by a
    trigger, as the image's project and asset are (``migrations/_placements.py``);
    a foreign key would look up and lock the batch once for every image moved.
    """

    image = models.OneToOneField(
        "boards.Image", primary_key=True, on_delete=models.CASCADE, related_name="placement", db_constraint=False
    )
    batch = models.ForeignKey(
        Batch, on_delete=free_images, related_name="placements", db_index=False, db_constraint=False
    )

    class Meta:
        # A batch's images in id order (upload order), from this index alone.
        indexes = [models.Index(fields=["batch", "image"], name="placement_batch_image_idx")]

    def __str__(self) -> str:
        return f"Image {self.image_id} in batch {self.batch_id}"


class FreeImage(models.Model):
    """An image in no batch of its project: the row exists while it is free.

    ``project``, ``uploaded_at``, ``width``, ``height`` and ``original_filename`` are the image's own,
    copied when the row is written (``free``) and kept equal by whatever changes
    them on the image (``refresh_free_rows``), so that the catalog reads free
    images newest first, and by size, from this table's one index.
    """

    image = models.OneToOneField("boards.Image", primary_key=True, on_delete=models.CASCADE, related_name="free")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    uploaded_at = models.DateTimeField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    original_filename = models.CharField(max_length=255)

    class Meta:
        # Newest first, with the sizes in the index: "not in a batch" pages, counts and filters by
        # size without reading a row (SQLite appends the rowid, PostgreSQL gets the image spelled out).
        # By name: "the first 25,000 free images by file name" reads them in order instead of sorting.
        indexes = [
            models.Index(fields=["project", "uploaded_at", "image", "width", "height"], name="free_image_upload_idx"),
            models.Index(fields=["project", "original_filename", "image"], name="free_image_name_idx"),
        ]

    def __str__(self) -> str:
        return f"Image {self.image_id}, free"


def _image_model() -> type[models.Model]:
    """``Image``, through the relation (``boards.models.images`` imports this module)."""
    return FreeImage._meta.get_field("image").related_model


FREE_COLUMNS = ("image_id", "project_id", "uploaded_at", "width", "height", "original_filename")
COPIED = FREE_COLUMNS[1:]
"""The image's columns its free row copies."""


def free(images: models.QuerySet) -> int:
    """Make those of ``images`` that are not free yet free rows (their placements are the caller's to
    delete): one ``INSERT … SELECT``; how many rows it wrote."""
    rows = images.filter(free__isnull=True).order_by().values("pk", *COPIED)
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FreeImage._meta.db_table} ({', '.join(FREE_COLUMNS)}) {sql}",  # noqa: S608 - names from the models
            params,
        )
        return cursor.rowcount


def refresh_free_rows(images: models.QuerySet) -> None:
    """Copy again onto their free rows the upload time and sizes of ``images`` (after an update of those)."""
    Image = _image_model()
    source = Image.objects.filter(pk=models.OuterRef("image_id"))
    FreeImage.objects.filter(image_id__in=images.order_by().values("pk")).update(
        **{name: models.Subquery(source.values(name)[:1]) for name in COPIED}
    )


@receiver(pre_delete, sender=Batch, dispatch_uid="boards_free_before_batch_delete")
def _free_before_batch_delete(sender, instance: Batch, using, **kwargs) -> None:
    """A batch deleted with images in it (the admin, the ORM) leaves them free: their free rows are
    written before the placements go."""
    Image = _image_model()
    free(Image.objects.using(using).filter(pk__in=Placement.objects.filter(batch_id=instance.pk).values("image_id")))


UNARCHIVE = MappingProxyType({"archived_from": None})
"""``place_free``'s ``setting`` of a restore, and of an upload that brings an archived image back."""


def place_free(images: models.QuerySet, batch: Batch, *, setting: Mapping | None = None) -> list[int]:
    """Put those of ``images`` (images, or their ids: ``values("pk")``) that are free in ``batch``; the
    ids of those it took.

    A ``DELETE … RETURNING`` takes their free rows (an image another batch took
    meanwhile has lost its row once the row lock is granted, and is left out),
    an ``INSERT`` gives them their placements, and, with ``setting`` (more of
    their fields, e.g. a restore forgets the archived batch they left), an
    ``UPDATE`` sets those on the images: one statement on PostgreSQL, two or
    three on SQLite (which has no writes inside ``WITH``).
    """
    Image = _image_model()
    # Their ids by ``one_of`` (PostgreSQL: an array, read by primary key; ``IN`` may scan the table to join them).
    ids = images if images._fields == ("pk",) else images.order_by().values("pk")
    query = FreeImage.objects.filter(pk__one_of=ids).query
    try:
        where, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    except EmptyResultSet:  # e.g. ``pk__in=[]``
        return []
    take = f"DELETE FROM {FreeImage._meta.db_table} WHERE {where} RETURNING image_id"  # noqa: S608 - names from the models
    columns, values = [], []
    for name, value in (setting or {}).items():
        field = Image._meta.get_field(name)
        columns.append(f"{connection.ops.quote_name(field.column)} = %s")
        values.append(field.get_db_prep_save(value, connection))
    if connection.vendor == "postgresql":
        placements, images_table = Placement._meta.db_table, Image._meta.db_table
        sql = f"WITH taken AS ({take})"
        if columns:
            sql += (
                f", set AS (UPDATE {images_table} SET {', '.join(columns)} "  # noqa: S608 - names from the models
                "WHERE id IN (SELECT image_id FROM taken))"
            )
        sql += f" INSERT INTO {placements} (image_id, batch_id) SELECT image_id, %s FROM taken RETURNING image_id"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *values, batch.pk])
            return [row[0] for row in cursor.fetchall()]
    with connection.cursor() as cursor:
        cursor.execute(take, params)
        ids = [row[0] for row in cursor.fetchall()]
    if ids and columns:
        Image.objects.filter(pk__one_of=ids).update(**setting)
    _insert_placements_of(ids, batch)
    return ids


def insert_placements(rows_sql: str, params: list, batch: Batch) -> int:
    """Run ``rows_sql`` (a statement ending in ``RETURNING id``, of images) and place those images
    in ``batch``; how many. On PostgreSQL one statement that answers with the count alone: neither
    the ids nor 25,000 rows of them are shipped to and fro."""
    placements = Placement._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH taken AS ({rows_sql}), placed AS (INSERT INTO {placements} (image_id, batch_id) "  # noqa: S608
                "SELECT id, %s FROM taken RETURNING 1) SELECT count(*) FROM placed",
                [*params, batch.pk],
            )
            return cursor.fetchone()[0]
        cursor.execute(rows_sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    _insert_placements_of(ids, batch)
    return len(ids)


def _insert_placements_of(ids: list[int], batch: Batch) -> None:
    """SQLite: the placements of the images ``ids`` (just taken or made) in ``batch``, one ``INSERT … SELECT``."""
    if not ids:
        return
    Image = _image_model()
    sql, id_params = Image.objects.filter(pk__one_of=ids).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Placement._meta.db_table} (image_id, batch_id) "  # noqa: S608 - names from the models
            f"SELECT id, %s FROM {Image._meta.db_table} WHERE id IN ({sql})",
            [batch.pk, *id_params],
        )
