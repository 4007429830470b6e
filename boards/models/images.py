"""Images, the batch each is in (its placement), their boxes (annotations) and the marks reviewers pin to them."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.utils import timezone

from boards.models.assets import Asset, Dataset
from boards.models.batches import Batch
from boards.models.choices import AnnotationState, ReviewState, Split
from boards.models.placements import COPIED as FREE_COPIED
from boards.models.placements import FreeImage, Placement, free, place_free, refresh_free_rows
from boards.models.placements import free_images as free_images  # migration 0027's on_delete names it here
from boards.models.projects import LabelClass, Project, Tag


def original_upload_to(image: "Image", filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"images/{image.project_id}/{image.sha256[:2]}/{image.sha256}.{ext}"


def thumbnail_upload_to(image: "Image", filename: str) -> str:
    return f"thumbs/{image.project_id}/{image.sha256[:2]}/{image.sha256}.jpg"


def project_dataset(project: Project) -> Dataset:
    """The dataset a project's uploads extend unless told otherwise (``Project.dataset``); the first
    upload makes one named after the project (a number added if the name is taken)."""
    if project.dataset_id is not None:
        dataset = Dataset.objects.filter(pk=project.dataset_id).first()
        if dataset is not None:
            return dataset
    base = project.name[:190] or project.slug
    name, n = base, 2
    while Dataset.objects.filter(workspace_id=project.workspace_id, name=name).exists():
        name, n = f"{base} ({n})", n + 1
    dataset = Dataset.objects.create(workspace_id=project.workspace_id, name=name)
    Project.objects.filter(pk=project.pk).update(dataset=dataset)
    project.dataset = dataset
    return dataset


def attach_assets(images) -> list[str]:
    """Give each of these unsaved images without an asset its workspace's asset of the same picture,
    made now (in its project's dataset) when the workspace has none: a few queries per 5,000 images.

    An image whose workspace already holds the picture takes that asset's stored files and fixed
    facts (``Asset.SHARED``): a picture is stored once per workspace, even when another upload
    stored it a moment ago. Returns the names of the files such images named before, which no row
    may name now (the caller deletes those no row names after its commit).
    """
    missing = [image for image in images if image.asset_id is None]
    if not missing:
        return []
    for image in missing:  # the asset copies the stored names: store new files first
        for name in ("file", "thumbnail"):
            field = getattr(image, name)
            if field and not field._committed:
                field.save(field.name, field.file, save=False)
    projects = {p.pk: p for p in Project.objects.filter(pk__in={image.project_id for image in missing})}
    by_workspace: dict[int, list[Image]] = {}
    for image in missing:
        by_workspace.setdefault(projects[image.project_id].workspace_id, []).append(image)
    replaced: list[str] = []
    datasets: dict[int, Dataset] = {}
    for workspace_id, everyone in by_workspace.items():
        for start in range(0, len(everyone), ATTACH_CHUNK):
            group = everyone[start : start + ATTACH_CHUNK]
            known = {
                asset.sha256: asset
                for asset in Asset.objects.filter(workspace_id=workspace_id, sha256__in={i.sha256 for i in group})
            }
            new: dict[str, Asset] = {}
            for image in group:
                if image.sha256 in known:
                    replaced += _share(image, known[image.sha256])
                elif image.sha256 not in new:
                    fields = {name: getattr(image, name) for name in Asset.COPIED}
                    fields["file"], fields["thumbnail"] = image.file.name, image.thumbnail.name or ""
                    if image.project_id not in datasets:
                        datasets[image.project_id] = project_dataset(projects[image.project_id])
                    new[image.sha256] = Asset(workspace_id=workspace_id, dataset=datasets[image.project_id], **fields)
            Asset.objects.bulk_create(new.values(), batch_size=2_000)
            for image in group:
                image.asset_id = (known.get(image.sha256) or new[image.sha256]).pk
    return replaced


ATTACH_CHUNK = 5_000  # pictures looked up at once (SQLite allows some 32,000 parameters a statement)


def _share(image: "Image", asset: Asset) -> list[str]:
    """Make the image use the asset's stored files and fixed facts; the file names it had, if other."""
    former = [name for name in (image.file.name, image.thumbnail.name) if name]
    for name in Asset.SHARED:
        setattr(image, name, getattr(asset, name))
    image.file.name, image.thumbnail.name = asset.file.name, asset.thumbnail.name
    return [name for name in former if name not in (asset.file.name, asset.thumbnail.name)]


_NEW_BATCH = "_new_batch"  # where an unsaved change of an image's batch waits for its save
_COPIED_NAMES = frozenset({"project", *FREE_COPIED})  # what an update or save may name of those columns


class ImageQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        attach_assets(objs)
        created = super().bulk_create(objs, *args, **kwargs)
        place_saved(objs, new=True)
        return created

    def update(self, **kwargs):
        """As ``QuerySet.update``; a change of the columns a free image's row copies is copied there too."""
        if not _COPIED_NAMES & kwargs.keys():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            ids = list(self.order_by().values_list("pk", flat=True))  # the update may change what matches
            # Their free rows locked first, the order a batch taking them locks in (``place_free``).
            free_rows = FreeImage.objects.using(self.db).select_for_update().filter(image_id__one_of=ids)
            list(free_rows.values_list("pk", flat=True))
            changed = super().update(**kwargs)
            refresh_free_rows(Image.objects.using(self.db).filter(pk__one_of=ids))
        return changed

    def set_batch(self, batch: "Batch | None") -> int:
        """Put these images in ``batch`` (None: free them), wherever they are now; how many there were.

        The ids are read first, so a queryset that names their current batch may be used. A move
        between two batches rewrites only their placements, never the image rows.
        """
        ids = list(self.order_by().values_list("pk", flat=True))
        if not ids:
            return 0
        images = Image.objects.filter(pk__one_of=ids)
        if batch is None:
            free(images)
            Placement.objects.filter(image_id__one_of=ids).delete()
            return len(ids)
        Placement.objects.filter(image_id__one_of=ids).exclude(batch=batch).update(batch=batch)
        place_free(images, batch)
        return len(ids)


def place_saved(images, *, new: bool) -> None:
    """Write where saved images stand: a placement for each whose batch was set on the instance
    (``Image.batch``), a free row for each without one. ``new``: they were just created, so they had
    neither (and one whose batch was never set is free); otherwise only those whose batch was set change."""
    changed = [image for image in images if new or _NEW_BATCH in image.__dict__]
    if not changed:
        return
    if not new:
        ids = [image.pk for image in changed]
        Placement.objects.filter(image_id__one_of=ids).delete()
        FreeImage.objects.filter(image_id__one_of=ids).delete()
    batch_ids = {image.pk: _set_batch_id(image) for image in changed}
    Placement.objects.bulk_create(
        [Placement(image_id=pk, batch_id=batch_id) for pk, batch_id in batch_ids.items() if batch_id is not None],
        batch_size=2_000,
    )
    FreeImage.objects.bulk_create(
        [
            FreeImage(image_id=image.pk, **{name: getattr(image, name) for name in FREE_COPIED})
            for image in changed
            if batch_ids[image.pk] is None
        ],
        batch_size=2_000,
    )
    for image in changed:
        image.__dict__.pop(_NEW_BATCH, None)
        image._state.fields_cache.pop("free", None)
        if batch_ids[image.pk] is None:
            image._state.fields_cache["placement"] = None  # known to have none: no query to find out
        else:
            image._state.fields_cache.pop("placement", None)


def _set_batch_id(image: "Image") -> int | None:
    """The batch set on the instance, waiting for its save (None if none was)."""
    new = image.__dict__.get(_NEW_BATCH)
    return new.pk if isinstance(new, Batch) else new


class Image(models.Model):
    # No single-column index on project: the composite indexes below start with it, and every
    # index is one more write when a batch takes 25,000 images. project and asset are checked on
    # PostgreSQL by triggers, once per statement, instead of a foreign key's check per row
    # (migrations/_image_references.py, as 0027 left them in migrations/_placements.py): the
    # database refuses a missing row all the same. A migration changing these fields must install
    # those again; on SQLite, where they stay foreign keys, one that rebuilds the table would drop them.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="images", db_index=False, db_constraint=False
    )
    asset = models.ForeignKey(
        Asset,
        on_delete=models.CASCADE,
        related_name="images",
        db_constraint=False,
        db_index=False,  # the unique (asset, project) constraint's index serves it
        help_text="The workspace catalog's image this row uses; the fields below up to uploaded_at are its copy.",
    )
    file = models.FileField(upload_to=original_upload_to, max_length=255)
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=255)
    uploaded_at = models.DateTimeField(default=timezone.now)
    annotation_state = models.CharField(
        max_length=12, choices=AnnotationState.choices, default=AnnotationState.UNANNOTATED
    )
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING)
    review_comment = models.TextField(blank=True)
    annotation_version = models.PositiveIntegerField(
        default=0, help_text="Goes up with every save, so two editors cannot silently overwrite each other."
    )
    annotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who saved the image's current boxes (or marked it empty).",
        db_constraint=False,  # PostgreSQL: checked once per statement (migration 0031); SQLite: a foreign key
    )
    rejections = models.PositiveIntegerField(
        default=0,
        help_text="How many finished reviews sent this image back. An approved image with none passed first time.",
    )
    split = models.CharField(max_length=5, choices=Split.choices, blank=True, default=Split.NONE)
    tags = models.ManyToManyField(Tag, blank=True, related_name="images")
    archived_from = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="archived_images",
        help_text="The archived batch this image left; a restore brings it back while it is free.",
        db_index=False,  # see the partial index in Meta
        db_constraint=False,  # as annotated_by
    )

    objects = ImageQuerySet.as_manager()

    class Meta:
        # A picture once per project: (asset, project). No second unique index on (project, sha256):
        # an image's sha256 is its asset's, unique in the workspace, so it would say the same, and
        # on PostgreSQL every index is one more write for each image that joins the project.
        constraints = [
            models.UniqueConstraint(fields=["asset", "project"], name="image_asset_once_per_project"),
        ]
        # The catalog pages newest first, by (uploaded_at, id): each filter has
        # an index that also yields that order (SQLite appends the id to every
        # index; PostgreSQL gets it spelled out). These three are the same on
        # both databases. The indexes for the file name and the annotation and
        # review states differ by database and are made by migration
        # 0006_catalog_indexes_by_database: file names are searched through a
        # trigram index on PostgreSQL. The free images are paged from their own
        # table (``FreeImage``), and moves write placements: a batch taking
        # images writes none of these rows.
        indexes = [
            models.Index(fields=["project", "uploaded_at", "id"]),
            models.Index(fields=["project", "width", "height"]),
            # Only archived images have it set: the others stay out of this
            # index, so PostgreSQL writes nothing here when they join a batch.
            models.Index(
                fields=["archived_from"],
                condition=models.Q(archived_from__isnull=False),
                name="image_archived_from_idx",
            ),
        ]
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.original_filename

    def save(self, *args, **kwargs):
        if self.asset_id is None and self._state.adding:
            attach_assets([self])
        new = self._state.adding
        fields = kwargs.get("update_fields")
        copied = not new and _NEW_BATCH not in self.__dict__ and (fields is None or _COPIED_NAMES.intersection(fields))
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            if copied:
                # A free image's row holds a copy of these: written first (one UPDATE, of nothing when the
                # image is in a batch), so that its lock comes before the image's, as ``place_free`` takes them.
                FreeImage.objects.filter(image_id=self.pk).update(**{name: getattr(self, name) for name in FREE_COPIED})
            super().save(*args, **kwargs)
            if new or _NEW_BATCH in self.__dict__:
                place_saved([self], new=new)

    # The batch lives in the image's ``Placement`` (below): read through these,
    # and set through them only on an image about to be saved or bulk-created (``place_saved``
    # writes the placement then). Querysets say ``placement__batch``; services move images with
    # ``ImageQuerySet.set_batch`` or on ``Placement`` itself.
    @property
    def batch(self) -> Batch | None:
        if _NEW_BATCH in self.__dict__:
            new = self.__dict__[_NEW_BATCH]
            if new is None or isinstance(new, Batch):
                return new
            self.__dict__[_NEW_BATCH] = new = Batch.objects.get(pk=new)
            return new
        placement = self._placement()
        return placement.batch if placement is not None else None

    @batch.setter
    def batch(self, batch: "Batch | int | None") -> None:
        self.__dict__[_NEW_BATCH] = batch

    @property
    def batch_id(self) -> int | None:
        if _NEW_BATCH in self.__dict__:
            new = self.__dict__[_NEW_BATCH]
            return new.pk if isinstance(new, Batch) else new
        placement = self._placement()
        return placement.batch_id if placement is not None else None

    @batch_id.setter
    def batch_id(self, batch_id: int | None) -> None:
        self.batch = batch_id

    @property
    def in_batch(self) -> bool:
        """Whether the image is in a batch of its project (else it is free: it has a ``FreeImage`` row)."""
        return self.batch_id is not None

    @property
    def batch_as_read(self) -> bool:
        """Whether ``batch_id`` answers without a query, from the placement cached on this instance
        (read with it by ``select_related("placement")``, or at a first use of ``batch``) with no change
        of its batch waiting for a save: where the image was at that read, which may be old."""
        return _NEW_BATCH not in self.__dict__ and self.pk is not None and Image.placement.is_cached(self)

    def _placement(self):
        if self.pk is None:
            return None
        try:
            return self.placement
        except ObjectDoesNotExist:
            return None

    def refresh_from_db(self, *args, **kwargs):
        self.__dict__.pop(_NEW_BATCH, None)
        super().refresh_from_db(*args, **kwargs)

    @classmethod
    def of_asset(cls, asset: Asset, **fields) -> "Image":
        """An unsaved image of a project for a picture the workspace catalog holds: the asset's stored
        files and fixed facts, its name unless ``fields`` give the one it was uploaded under."""
        image = cls(asset=asset, **({"original_filename": asset.original_filename} | fields))
        _share(image, asset)
        return image

    @property
    def workspace_id(self) -> int:
        return self.project.workspace_id

    def stored_name(self, kind: str) -> str:
        """The storage name of the original, or of the thumbnail ("thumb"; the original while it has none)."""
        return self.file.name if kind == "original" else (self.thumbnail.name or self.file.name)

    @property
    def state(self) -> str:
        """The one word a person sees: unannotated, annotated, empty, approved, rejected."""
        if self.review_state != ReviewState.PENDING:
            return self.review_state
        return self.annotation_state


class Annotation(models.Model):
    """One bounding box, in pixels of the original image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="annotations")
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        # "Has class X" in the catalog reads the image ids of one class from this index alone.
        indexes = [models.Index(fields=["label", "image"])]

    def __str__(self) -> str:
        return f"{self.label} at ({self.x:g}, {self.y:g}) {self.width:g}×{self.height:g}"


class ReviewMark(models.Model):
    """A reviewer's comment pinned to one box, or to a region of an image, at a review.

    The region (in pixels of the image) is kept whatever happens to the box: a
    labeler's next save replaces the boxes, and the mark still shows where the
    reviewer pointed. ``annotation`` names the box while it exists.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="review_marks")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_marks"
    )
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    comment = models.TextField()
    # The image's own review comment, kept when the review finished (the history a
    # later review shows), rather than a mark a reviewer pinned to a box or region.
    from_comment = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["image", "created_at"])]

    def __str__(self) -> str:
        return f"Mark on image {self.image_id}: {self.comment[:40]}"
