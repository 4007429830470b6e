from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django_fsm import ConcurrentTransition
from django_fsm.admin import FSMAdminMixin

from accounts.models import User
from boards import services
from boards.models import (
    Annotation,
    Asset,
    BackgroundTask,
    Batch,
    BatchEvent,
    BucketSource,
    Dataset,
    Image,
    Job,
    LabelClass,
    Placement,
    Project,
    Tag,
)
from core.errors import ServiceError


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "slug", "review_mode", "created_at"]
    list_filter = ["workspace", "review_mode"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["dataset"]  # set by the first upload; renamed on the workspace catalog page
    inlines = [LabelClassInline]

    def save_formset(self, request, form, formset, change):
        # A class deleted here takes its boxes with it: recount their batches' cards.
        doomed = [f.instance.pk for f in getattr(formset, "deleted_forms", []) if f.instance.pk]
        with transaction.atomic():
            batches = _batches_with_boxes_of(label__in=doomed) if doomed else set()
            services.lock_batches(batches)  # as the services do, before their images change
            super().save_formset(request, form, formset, change)
            services.mark_changed(*batches)


def _batches_with_boxes_of(**annotations) -> set[int]:
    """The batches holding images with these boxes: their card counts change with the boxes."""
    return set(
        Placement.objects.filter(image_id__in=Annotation.objects.filter(**annotations).values("image_id"))
        .values_list("batch_id", flat=True)
        .distinct()
    )


class RecountsCards:
    """Deleting boxes here (directly, or with their class) recounts the cards of their batches.

    The services store each card's counts (``services.mark_changed``); the
    admin writes rows without them, so it recounts what it touched. Like the
    services, it locks the batches' rows before it changes their images: a
    labeler's save at the same moment (which moves the stored counts by its
    one image) then waits for the recount, or the recount for it.
    """

    boxes_of = "pk"  # how an Annotation names the objects deleted here

    def delete_model(self, request, obj):
        with transaction.atomic():
            batches = _batches_with_boxes_of(**{f"{self.boxes_of}__in": [obj.pk]})
            services.lock_batches(batches)
            super().delete_model(request, obj)
            services.mark_changed(*batches)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            batches = _batches_with_boxes_of(**{f"{self.boxes_of}__in": list(queryset.values_list("pk", flat=True))})
            services.lock_batches(batches)
            super().delete_queryset(request, queryset)
            services.mark_changed(*batches)


@admin.register(LabelClass)
class LabelClassAdmin(RecountsCards, admin.ModelAdmin):
    list_display = ["name", "project", "color", "hotkey"]
    list_filter = ["project"]
    search_fields = ["name"]
    boxes_of = "label"


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = ["name", "labeler", "reviewer", "state", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = BatchEvent
    extra = 0
    fields = ["at", "kind", "from_status", "to_status", "actor", "detail"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-pk"]

    def has_add_permission(self, request, obj=None):
        return False


class AssignForm(forms.Form):
    labeler = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True))
    reviewer = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), required=False)


class UnassignForm(forms.Form):
    keep_annotations = forms.BooleanField(required=False, help_text="Keep them as pre-labels.")


@admin.register(Batch)
class BatchAdmin(FSMAdminMixin, admin.ModelAdmin):
    """Transitions run through ``boards.services``: the same checks as the board."""

    fsm_fields = ["status"]
    fsm_forms = {"assign": AssignForm, "move_to_unassigned": UnassignForm}
    list_display = ["name", "project", "status", "priority", "image_count", "uploaded_at", "source"]
    list_filter = ["status", "project", "priority", "source"]
    search_fields = ["name"]
    readonly_fields = ["status", "thumbnails", "uploaded_at", "created_by", "split_from", "updated_at"]
    fields = [
        "project",
        "name",
        "priority",
        "status",
        "source",
        "uploaded_at",
        "created_by",
        "split_from",
        "thumbnails",
    ]
    inlines = [JobInline, EventInline]
    list_select_related = ["project"]

    SERVICES = {
        "assign": lambda batch, user, kw: services.assign(
            batch=batch, actor=user, labeler=kw["labeler"], reviewer=kw.get("reviewer")
        ),
        "submit": lambda batch, user, kw: services.submit(batch=batch, actor=user),
        "approve": lambda batch, user, kw: services.approve(batch=batch, actor=user),
        "reject": lambda batch, user, kw: services.reject(batch=batch, actor=user),
        "move_to_unassigned": lambda batch, user, kw: services.move_to_unassigned(
            batch=batch, actor=user, keep_annotations=kw.get("keep_annotations", False)
        ),
        "archive": lambda batch, user, kw: services.archive(batch=batch, actor=user),
    }

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(image_total=Count("placements"))

    @admin.display(description="images", ordering="image_total")
    def image_count(self, obj):
        return obj.image_total

    @admin.display(description="thumbnails")
    def thumbnails(self, obj):
        images = obj.images.all()[:8] if obj.pk else []
        return format_html_join(
            "",
            '<img src="{}" alt="" style="height:64px;margin:2px">',
            ((reverse("image-file", args=[image.pk, "thumb"]),) for image in images),
        )

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        run = self.SERVICES.get(transition_name)
        if run is None:
            self.message_user(request, f"“{transition_name}” is not available here.", messages.ERROR)
            return False
        try:
            run(obj, request.user, dict(kwargs or {}))
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return False
        label = transition_name.replace("_", " ")
        self.message_user(request, f"“{obj}”: {label} done.", messages.SUCCESS)
        return True

    # Deleting runs the service, which refuses batches outside Unassigned: the
    # admin's own "deleted successfully" (one batch, or the bulk action's count)
    # is said only of the batches really deleted, and a refusal is logged as no deletion.

    def log_deletions(self, request, queryset):
        """Logged by ``delete_model``, for the batches the service deletes."""
        return []

    def delete_model(self, request, obj):
        outcome = request.__dict__.setdefault("_batch_deletes", {"deleted": 0, "refused": 0})
        try:
            with transaction.atomic():
                super().log_deletions(request, [obj])
                services.delete_batch(batch=obj, actor=request.user)
        except ServiceError as exc:
            outcome["refused"] += 1
            self.message_user(request, f"“{obj}”: {exc.message}", messages.ERROR)
        else:
            outcome["deleted"] += 1

    def delete_queryset(self, request, queryset):
        for batch in queryset:
            self.delete_model(request, batch)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        outcome = getattr(request, "_batch_deletes", None)
        if outcome is not None and level == messages.SUCCESS and outcome["refused"]:
            deleted = outcome["deleted"]
            if not deleted:
                return
            message = f"Deleted {deleted} batch{'es' if deleted != 1 else ''}."
        super().message_user(request, message, level, *args, **kwargs)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_batch_deletes", {}).get("refused"):
            # Still there: back to its page, which shows the refusal.
            return redirect(reverse("admin:boards_batch_change", args=[obj_id]))
        return super().response_delete(request, obj_display, obj_id)

    def save_model(self, request, obj, form, change):
        try:
            with transaction.atomic():  # a refusal rolls back to here, and the admin's request goes on
                if change and "priority" in form.changed_data:
                    services.set_priority(batch=obj, actor=request.user, priority=obj.priority)
                    form.changed_data.remove("priority")
                super().save_model(request, obj, form, change)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        except ConcurrentTransition:  # the batch changed column while the form was open
            self.message_user(request, "Someone else moved this batch meanwhile; reload and try again.", messages.ERROR)


class ImageForm(forms.ModelForm):
    """The image's fields (the admin gives the model and fields), and its batch: not a field of the
    image but its ``Placement``, saved by ``ImageAdmin.save_model`` through ``set_batch``.

    Each field also sends back, hidden, the value it showed (``show_hidden_initial``): what the
    form changed is then what the person changed since they opened it, not whatever differs from
    the row as it is when they save. A labeler's work or a placement made meanwhile stays.
    """

    batch = forms.ModelChoiceField(
        queryset=Batch.objects.all(),
        required=False,
        widget=ForeignKeyRawIdWidget(Placement._meta.get_field("batch").remote_field, admin.site),
        help_text="Empty: the image is free (in no batch).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["batch"].initial = self.instance.batch_id
        for field in self.fields.values():
            field.show_hidden_initial = True

    def clean(self):
        cleaned = super().clean()
        batch, project = cleaned.get("batch"), cleaned.get("project")
        if batch is not None and project is not None and batch.project_id != project.pk:
            self.add_error("batch", "The batch must be one of the image's project.")
        return cleaned


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    form = ImageForm
    list_display = [
        "thumb",
        "original_filename",
        "project",
        "image_batch",
        "width",
        "height",
        "annotation_state",
        "review_state",
        "uploaded_at",
    ]
    list_filter = ["project", "annotation_state", "review_state"]
    search_fields = ["original_filename", "sha256"]
    # The asset and its copied facts are fixed at the upload: an image never moves to another picture.
    readonly_fields = ["asset", "sha256", "width", "height", "file", "thumbnail", "uploaded_at"]
    list_select_related = ["project", "placement__batch"]

    @admin.display(description="")
    def thumb(self, obj):
        return format_html('<img src="{}" alt="" style="height:40px">', reverse("image-file", args=[obj.pk, "thumb"]))

    @admin.display(description="batch", ordering="placement__batch")
    def image_batch(self, obj):
        return obj.batch

    def save_model(self, request, obj, form, change):
        """A changed image writes only the fields the form changed (``ImageForm``): the others (its
        ``in_batch``, its states) may have changed since the form opened, by a placement or a
        labeler. A changed batch moves the image through ``set_batch`` (its placement and
        ``in_batch``); the cards of the batches it left or is in are recounted when its batch or a
        state they count changed."""
        with transaction.atomic():
            old = obj.batch_id if change else None
            # As every move does: the batches' rows locked (id order) before their images change.
            chosen = form.cleaned_data.get("batch")
            services.lock_batches([pk for pk in (old, chosen.pk if chosen is not None else None) if pk is not None])
            if change:
                columns = {f.name for f in Image._meta.concrete_fields}
                changed = [name for name in form.changed_data if name in columns]
                if changed:
                    obj.save(update_fields=changed)
            else:
                super().save_model(request, obj, form, change)
            recount = set()
            if "batch" in form.changed_data:
                new = form.cleaned_data["batch"]
                Image.objects.filter(pk=obj.pk).set_batch(new)
                obj.refresh_from_db()
                recount |= {old, new.pk if new is not None else None}
            if _COUNTED_FIELDS & set(form.changed_data):
                recount.add(Placement.objects.filter(image_id=obj.pk).values_list("batch_id", flat=True).first())
            services.mark_changed(*recount)

    def delete_model(self, request, obj):
        self.delete_queryset(request, Image.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        """Deleted images leave their batches' cards recounted."""
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))
            batches = set(Placement.objects.filter(image_id__in=ids).values_list("batch_id", flat=True))
            services.lock_batches(batches)
            super().delete_queryset(request, Image.objects.filter(pk__in=ids))
            services.mark_changed(*batches)


# What a card counts of an image: a change to one of these in the admin recounts its batch's card.
_COUNTED_FIELDS = {"annotation_state", "review_state"}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "project"]
    list_filter = ["project"]
    search_fields = ["name"]


@admin.register(Annotation)
class AnnotationAdmin(RecountsCards, admin.ModelAdmin):
    list_display = ["image", "label", "x", "y", "width", "height"]
    raw_id_fields = ["image"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            old_image = (
                Annotation.objects.filter(pk=obj.pk).values_list("image__placement__batch_id", flat=True).first()
            )
            new_image = Placement.objects.filter(image_id=obj.image_id).values_list("batch_id", flat=True).first()
            services.lock_batches(pk for pk in (old_image, new_image) if pk is not None)
            super().save_model(request, obj, form, change)
            services.mark_changed(old_image, new_image)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "batch", "labeler", "reviewer", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "labeler__email"]
    raw_id_fields = ["batch"]


@admin.register(BatchEvent)
class BatchEventAdmin(admin.ModelAdmin):
    list_display = ["at", "batch_name", "kind", "from_status", "to_status", "actor"]
    list_filter = ["kind", "project"]
    search_fields = ["batch_name"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]
    readonly_fields = ["workspace", "created_at", "created_by"]

    def has_add_permission(self, request):
        return False  # uploads make datasets


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    """The workspace catalog's stored pictures: read-only here (the app uploads and deletes them)."""

    list_display = ["original_filename", "workspace", "dataset", "width", "height", "uploaded_at"]
    list_filter = ["workspace"]
    search_fields = ["original_filename", "sha256"]
    list_select_related = ["workspace", "dataset"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BackgroundTask)
class BackgroundTaskAdmin(admin.ModelAdmin):
    """Exports and imports done by workers: read-only here (the Tasks page starts and cancels them)."""

    list_display = ["pk", "kind", "status", "project", "started_by", "done", "total", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["project", "started_by"]
    search_fields = ["error", "download_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BucketSource)
class BucketSourceAdmin(admin.ModelAdmin):
    """Connected buckets; their keys are never shown (stored encrypted, entered on the Buckets page)."""

    list_display = ["name", "project", "bucket", "prefix", "endpoint_url", "key_hint", "created_by", "created_at"]
    list_select_related = ["project", "created_by"]
    exclude = ["access_key", "secret_key"]
    readonly_fields = ["project", "bucket", "prefix", "endpoint_url", "region", "key_hint", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False
