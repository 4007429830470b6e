"""Reads shared by the pages and the API. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery
from django.http import Http404

from accounts.models import User
from boards.models import (
    Annotation,
    AnnotationState,
    Batch,
    BatchEvent,
    BatchStatus,
    EventKind,
    Image,
    Job,
    JobState,
    LabelClass,
    Project,
    ReviewMark,
    ReviewState,
    Split,
    count_card_images,
)

BOARD_COLUMNS = [
    (BatchStatus.UNASSIGNED, "Unassigned", "New uploads and split-off images wait here for a labeler."),
    (BatchStatus.ANNOTATING, "Annotating", "Batches assigned to a labeler appear here."),
    (BatchStatus.REVIEW, "Review", "Submitted batches wait here for a reviewer."),
    (BatchStatus.DATASET, "Dataset", "Approved images end up here, ready to export."),
]


def member_projects(user: User):
    """Every project in the user's workspaces, with per-column batch counts."""
    return (
        Project.objects.filter(workspace__memberships__user=user)
        .select_related("workspace")
        .annotate(
            **{
                f"n_{status}": Count("batches", filter=Q(batches__status=status))
                for status, _label, _hint in BOARD_COLUMNS
            }
        )
        .order_by("workspace__name", "name")
    )


def project_for(user: User, ws_slug: str, project_slug: str) -> Project:
    """The project, if the user belongs to its workspace; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404
    try:
        project = Project.objects.select_related("workspace").get(workspace__slug=ws_slug, slug=project_slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    if user.role_in(project.workspace_id) is None:
        raise Http404("No such project.")
    return project


def batch_in(project: Project, batch_id: int) -> Batch:
    try:
        batch = Batch.objects.get(project=project, pk=batch_id)
    except Batch.DoesNotExist:
        raise Http404("This batch does not exist, or someone deleted it.") from None
    batch.project = project
    return batch


def image_for(user: User, image_id: int) -> Image:
    try:
        image = Image.objects.select_related("project").get(pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    if not user.is_authenticated:
        raise Http404("No such image.")
    # Superusers see every image (the admin's thumbnails); anyone else only their workspaces'.
    if not user.is_superuser and user.role_in(image.project.workspace_id) is None:
        raise Http404("No such image.")
    return image


COLUMN_PAGE = 50
THUMBS_PER_CARD = 4
ASSIGN_GRID_LIMIT = 500  # thumbnails in the assign dialog; "first N" covers any size
OPEN_JOB_STATES = [JobState.ANNOTATING, JobState.IN_REVIEW, JobState.COMPLETE]


@dataclass(frozen=True)
class BoardFilter:
    """The board's filter box: batch name and labeler (email or name)."""

    q: str = ""
    labeler: str = ""

    @classmethod
    def from_query(cls, params) -> BoardFilter:
        from core.params import text

        return cls(
            q=text(params, "q", label="The search", limit=1000)[:100],
            labeler=text(params, "labeler", label="The labeler searched for", limit=1000)[:100],
        )

    def __bool__(self) -> bool:
        return bool(self.q or self.labeler)

    def apply(self, batches):
        if self.q:
            batches = batches.filter(name__icontains=self.q)
        if self.labeler:
            batches = batches.filter(
                Exists(
                    Job.objects.filter(batch=OuterRef("pk"))
                    .exclude(state=JobState.CANCELLED)
                    .filter(Q(labeler__email__icontains=self.labeler) | Q(labeler__full_name__icontains=self.labeler))
                )
            )
        return batches

    def as_query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in (("q", self.q), ("labeler", self.labeler)) if v})


@dataclass
class Column:
    status: str
    label: str
    hint: str
    batches: list[Batch]
    total: int
    offset: int = 0

    @property
    def count(self) -> int:
        return self.total

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.batches) < self.total

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.batches)


def shows_review(user: User, project: Project) -> bool:
    return project.review_mode and user.has_perm("boards.review_batch", project)


def visible_statuses(user: User, project: Project) -> list[str]:
    review = shows_review(user, project)
    return [status for status, _l, _h in BOARD_COLUMNS if status != BatchStatus.REVIEW or review]


def _board_batches(project: Project, board_filter: BoardFilter):
    return board_filter.apply(Batch.objects.filter(project=project))


def _totals(batches) -> dict[str, int]:
    return dict(batches.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))


@dataclass(frozen=True)
class CardRef:
    """A card on the board before it is loaded: which batch, and which version of it."""

    pk: int
    updated_at: datetime
    uploaded_at: datetime


def board_columns(user: User, project: Project, board_filter: BoardFilter | None = None) -> list[Column]:
    """The board: each visible column's first page of cards (as ``CardRef``) and its total.

    Five small queries whatever the number of batches and images: the totals,
    then each column's first page (an index range scan on project, status,
    priority, age). ``cards`` loads the batches whose cards are not at hand.
    """
    board_filter = board_filter or BoardFilter()
    statuses = visible_statuses(user, project)
    base = _board_batches(project, board_filter)
    totals = _totals(base.filter(status__in=statuses))
    labels = {status: (label, hint) for status, label, hint in BOARD_COLUMNS}
    columns = []
    for status in statuses:
        refs = []
        if totals.get(status):
            page = base.filter(status=status).order_by("priority", "uploaded_at", "pk")[:COLUMN_PAGE]
            refs = [CardRef(*row) for row in page.values_list("pk", "updated_at", "uploaded_at")]
        columns.append(Column(status, *labels[status], refs, totals.get(status, 0)))
    return columns


def cards(project: Project, ids: list[int]) -> list[Batch]:
    """These batches of the project, decorated for their cards (at most four queries)."""
    return decorate_cards(project, list(Batch.objects.filter(project=project, pk__in=ids)))


def column_counts(user: User, project: Project) -> list[Column]:
    """Each visible column's total, without its cards (one query)."""
    statuses = visible_statuses(user, project)
    totals = _totals(Batch.objects.filter(project=project, status__in=statuses))
    labels = {status: (label, hint) for status, label, hint in BOARD_COLUMNS}
    return [Column(s, *labels[s], [], totals.get(s, 0)) for s in statuses]


def card_after(batch: Batch) -> int | None:
    """The id of the card that follows this one in its column, if any."""
    later = Q(priority__gt=batch.priority) | Q(priority=batch.priority, uploaded_at__gt=batch.uploaded_at)
    later |= Q(priority=batch.priority, uploaded_at=batch.uploaded_at, pk__gt=batch.pk)
    return (
        Batch.objects.filter(project_id=batch.project_id, status=batch.status)
        .filter(later)
        .order_by("priority", "uploaded_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def column_page(
    user: User, project: Project, status: str, *, offset: int, board_filter: BoardFilter | None = None
) -> Column:
    """One more page of a column, for "show more"."""
    if status not in visible_statuses(user, project):
        raise Http404("No such column.")
    board_filter = board_filter or BoardFilter()
    base = _board_batches(project, board_filter).filter(status=status)
    total = base.count()
    page = list(base.order_by("priority", "uploaded_at", "pk")[offset : offset + COLUMN_PAGE])
    labels = {s: (label, hint) for s, label, hint in BOARD_COLUMNS}
    return Column(status, *labels[status], decorate_cards(project, page), total, offset)


def card(project: Project, batch_id: int) -> Batch:
    batch = batch_in(project, batch_id)
    return decorate_cards(project, [batch])[0]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    label: str

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def decorate_cards(project: Project | None, batches: list[Batch]) -> list[Batch]:
    """Give each batch what its card shows: its image counts and thumbnails, and its jobs.

    At most three queries for any number of cards: the thumbnails, the jobs,
    and a count of the images of batches whose counts are not stored for
    their current version (``Batch.counts_stored``; the services store them).
    """
    ids = [b.pk for b in batches]
    if not ids:
        return batches
    counts = {b.pk: (b.n_images, b.n_annotated, b.n_reviewed, b.n_prelabeled) for b in batches if b.counts_stored}
    to_count = [pk for pk in ids if pk not in counts]
    if to_count:
        counts |= count_card_images(to_count)
    # The first four images of each card: four index lookups per batch, never a
    # scan of every image of every card.
    firsts = {
        f"t{n}": Subquery(Image.objects.filter(batch=OuterRef("pk")).order_by("pk").values("pk")[n : n + 1])
        for n in range(THUMBS_PER_CARD)
    }
    thumbs = {
        row[0]: [image_id for image_id in row[1:] if image_id is not None]
        for row in Batch.objects.filter(pk__in=ids).annotate(**firsts).values_list("pk", *firsts)
    }
    jobs: dict[int, list[Job]] = {}
    people = ("email", "full_name")
    for job in (
        Job.objects.filter(batch_id__in=ids)
        .select_related("labeler", "reviewer")
        .only(
            "batch_id",
            "state",
            "labeler_id",
            "reviewer_id",
            *(f"{u}__{f}" for u in ("labeler", "reviewer") for f in people),
        )
        .order_by("-created_at", "-pk")
    ):
        jobs.setdefault(job.batch_id, []).append(job)
    for batch in batches:
        if project is not None:
            batch.project = project
        batch.image_count, batch.annotated_count, batch.reviewed_count, batch.prelabeled_count = counts.get(
            batch.pk, (0, 0, 0, 0)
        )
        # In Annotating, the only reviewed images are those a review sent back and that
        # were neither changed nor checked since: the images awaiting rework.
        batch.rework_count = batch.reviewed_count if batch.status == BatchStatus.ANNOTATING else 0
        batch.thumb_ids = thumbs.get(batch.pk, [])
        batch_jobs = jobs.get(batch.pk, [])
        batch.num_jobs = len(batch_jobs)
        batch._current_job = next((j for j in batch_jobs if j.state != JobState.CANCELLED), None)
        if batch.status == BatchStatus.REVIEW:
            batch.progress = Progress(batch.reviewed_count, batch.image_count, "reviewed")
        else:
            batch.progress = Progress(batch.annotated_count, batch.image_count, "annotated")
    return batches


def board_version(project: Project) -> str:
    """Changes whenever anything a board shows changes; one aggregate query."""
    row = Batch.objects.filter(project=project).aggregate(n=Count("pk"), last=Max("updated_at"))
    last = row["last"].timestamp() if row["last"] else 0
    return f"{row['n']}-{last:.6f}"


def batch_images(batch: Batch):
    return Image.objects.filter(batch=batch).order_by("pk")


def batch_history(batch: Batch):
    return BatchEvent.objects.filter(batch=batch).select_related("actor").order_by("-at", "-pk")


def assignable_labelers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.LABELER, Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")


def assignable_reviewers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")


def image_in(batch: Batch, image_id: int) -> Image:
    try:
        return Image.objects.get(batch=batch, pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image in this batch.") from None


def next_to_review(batch: Batch, *, after: int | None = None) -> int | None:
    pending = Image.objects.filter(batch=batch, review_state=ReviewState.PENDING).order_by("pk")
    later = pending.filter(pk__gt=after).values_list("pk", flat=True).first() if after else None
    return later or pending.values_list("pk", flat=True).first()


def review_context(batch: Batch, image_id: int | None = None) -> dict:
    """The review screen: the image in view, its neighbours, and the tally."""
    images = Image.objects.filter(batch=batch).order_by("pk")
    tally = dict(images.order_by().values("review_state").annotate(n=Count("pk")).values_list("review_state", "n"))
    current = None
    if image_id:
        current = images.filter(pk=image_id).first()
    if current is None:
        first = next_to_review(batch)
        current = images.filter(pk=first).first() if first else images.first()
    previous_id = (
        images.filter(pk__lt=current.pk).order_by("-pk").values_list("pk", flat=True).first() if current else None
    )
    next_id = images.filter(pk__gt=current.pk).values_list("pk", flat=True).first() if current else None
    position = images.filter(pk__lte=current.pk).count() if current else 0
    total = sum(tally.values())
    boxes = review_boxes(current) if current else []
    return {
        "batch": batch,
        "image": current,
        "boxes": boxes,
        "box_groups": box_groups(boxes),
        # A decision taken in this round shows its comment; an earlier round's comment is history.
        "comment": current.review_comment if current and current.review_state == ReviewState.REJECTED else "",
        **(review_marks(current, batch) if current else {"marks": [], "history": []}),
        "previous_id": previous_id,
        "next_id": next_id,
        "position": position,
        "total": total,
        "approved": tally.get(ReviewState.APPROVED, 0),
        "rejected": tally.get(ReviewState.REJECTED, 0),
        "pending": tally.get(ReviewState.PENDING, 0),
        "strip": list(images.values_list("pk", "review_state")[:200]),
    }


# --- boxes with their class names, and review marks ------------------------------------


def ink_on(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (``#rrggbb``)."""
    try:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except (TypeError, ValueError):
        return "#ffffff"
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + 0.05), with near-black (L 0.01) (L + 0.05) / 0.06.
    return "#111827" if (luminance + 0.05) / 0.06 > 1.05 / (luminance + 0.05) else "#ffffff"


def tag_size(image: Image) -> float:
    """A first size for the class labels and mark numbers drawn over an image, in its pixels
    (about 13 screen pixels when the image fills a 1,000-pixel-wide frame); the page's script refines it."""
    return max(8.0, round(max(image.width, image.height) / 75, 1))


def review_boxes(image: Image) -> list[Annotation]:
    """The image's boxes with their class, largest first (a small box inside a large one stays clickable),
    each with ``ink`` (the text colour on its class colour) and a first guess of its tag's size."""
    size = tag_size(image)
    boxes = sorted(image.annotations.select_related("label"), key=lambda a: (-a.width * a.height, a.pk))
    for box in boxes:
        box.ink = ink_on(box.label.color)
        box.tag_height = round(size * 1.4, 1)
        box.tag_width = round(size * (0.62 * len(box.label.name) + 0.6), 1)
        box.tag_y = round(box.y - box.tag_height if box.y >= box.tag_height else box.y, 1)
        box.tag_text_y = round(box.tag_y + size * 1.1, 1)
        box.tag_text_x = round(box.x + size * 0.3, 1)
        box.tag_size = size
    return boxes


def box_groups(boxes: list[Annotation]) -> list[dict]:
    """The boxes by class, most boxes first: ``{"label", "count"}``."""
    groups: dict[int, dict] = {}
    for box in boxes:
        groups.setdefault(box.label_id, {"label": box.label, "count": 0})["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["label"].name.lower()))


def review_round_start(batch: Batch):
    """When the batch's latest review began: its latest submission for review (or that of the batch a
    review split it off). In Annotating after a rejection, the submission before that rejection."""
    submitted = {"kind": EventKind.SUBMITTED, "to_status": BatchStatus.REVIEW}
    events = BatchEvent.objects.filter(batch=batch, **submitted)
    if batch.split_from_id:
        # The batch it was split from: only its submissions before this batch existed.
        born = BatchEvent.objects.filter(batch=batch).order_by("at", "pk").values("at")[:1]
        events = events | BatchEvent.objects.filter(batch_id=batch.split_from_id, at__lte=Subquery(born), **submitted)
    if batch.status != BatchStatus.REVIEW:
        rejected = BatchEvent.objects.filter(batch=batch, kind=EventKind.REJECTED).order_by("-at", "-pk")
        events = events.filter(at__lte=Subquery(rejected.values("at")[:1]))
    return events.order_by("-at", "-pk").values_list("at", flat=True).first()


def review_marks(image: Image, batch: Batch) -> dict:
    """The image's review marks: ``marks`` pinned to a box or region, oldest first and numbered, each
    ``older`` when an earlier review left it; ``history``, the earlier reviews' comments and marks,
    newest first (a finished review keeps each rejected image's comment as a mark on the whole image).
    ``current_marks`` counts the latest review's pinned marks."""
    start = review_round_start(batch)
    size = tag_size(image)
    marks, history, whole = [], [], set()
    for mark in ReviewMark.objects.filter(image=image).select_related("author", "annotation__label"):
        mark.older = start is not None and mark.created_at < start
        mark.whole_image = mark.from_comment
        if not mark.whole_image:
            marks.append(mark)
            mark.number = len(marks)
            mark.tag_size = size
            mark.badge = round(size * 1.5, 1)
            # The number sits in the region's top-right corner, clear of the class name at the top left.
            mark.badge_x = round(max(mark.x, mark.x + mark.width - mark.badge), 1)
            mark.text_x = round(mark.badge_x + mark.badge / 2, 1)
            mark.text_y = round(mark.y + mark.badge * 0.74, 1)
        if mark.older:
            history.append(mark)
        if mark.whole_image:
            whole.add(mark.comment)
    history.reverse()
    if (
        batch.status == BatchStatus.REVIEW
        and image.review_comment
        and image.review_state != ReviewState.REJECTED
        and image.review_comment not in whole
    ):
        # A comment kept from before marks were recorded: no author or time known.
        history.append(ReviewMark(image=image, comment=image.review_comment, created_at=None))
        history[-1].whole_image, history[-1].older = True, True
    return {"marks": marks, "history": history, "current_marks": sum(1 for m in marks if not m.older)}


def my_work(user: User) -> dict:
    """A labeler's and a reviewer's queue across projects, highest priority first."""
    from accounts.roles import Role, role_at_least

    labeling = decorate_jobs(
        Job.objects.filter(labeler=user, state=JobState.ANNOTATING, batch__status=BatchStatus.ANNOTATING)
    )
    reviewer_workspaces = [ws for ws, role in user.workspace_roles().items() if role_at_least(role, Role.REVIEWER)]
    reviewing = decorate_jobs(
        Job.objects.filter(state=JobState.IN_REVIEW, batch__status=BatchStatus.REVIEW).filter(
            Q(reviewer=user) | Q(reviewer__isnull=True, batch__project__workspace_id__in=reviewer_workspaces)
        )
    )
    submitted = decorate_jobs(
        Job.objects.filter(labeler=user, state=JobState.IN_REVIEW, batch__status=BatchStatus.REVIEW)
    )
    _review_states(submitted)
    return {
        "labeling": labeling,
        "reviewing": reviewing,
        "submitted": submitted,
        "images_to_label": sum(j.batch.image_count - j.batch.annotated_count for j in labeling),
        "images_to_review": sum(j.batch.image_count - j.batch.reviewed_count for j in reviewing),
    }


def _review_states(jobs: list[Job]) -> None:
    """Where the review of each submitted batch stands, for its labeler: one query for them all.

    ``job.review_status`` is "waiting for review" (no decision yet), "in review"
    (decisions so far all approvals) or "some images sent back" (the reviewer
    rejected some so far); ``job.sent_back`` counts those.
    """
    rejected = dict(
        Image.objects.filter(batch_id__in=[j.batch_id for j in jobs], review_state=ReviewState.REJECTED)
        .order_by()
        .values("batch_id")
        .annotate(n=Count("pk"))
        .values_list("batch_id", "n")
    ) if jobs else {}
    for job in jobs:
        job.sent_back = rejected.get(job.batch_id, 0)
        if job.sent_back:
            job.review_status = "some images sent back"
        elif job.batch.reviewed_count:
            job.review_status = "in review"
        else:
            job.review_status = "waiting for review"


def decorate_jobs(jobs) -> list[Job]:
    jobs = list(
        jobs.select_related("batch__project__workspace", "labeler", "reviewer").order_by(
            "batch__priority", "batch__uploaded_at", "pk"
        )
    )
    decorate_cards(None, [job.batch for job in jobs])
    return jobs


# --- the annotation editor and label classes ---------------------------------------

# An image still to label: no boxes yet (and not marked empty), or sent back by
# a review and not saved since.
TO_LABEL = Q(annotation_state=AnnotationState.UNANNOTATED) | Q(review_state=ReviewState.REJECTED)
STRIP_SIDE = 100  # thumbnails either side of the current image in the editor's strip


def label_classes(project: Project):
    """The project's classes, hotkeys first, as the editor and the settings page list them."""
    return LabelClass.objects.filter(project=project).order_by(F("hotkey").asc(nulls_last=True), "name", "pk")


def label_classes_with_counts(project: Project):
    return label_classes(project).annotate(
        n_boxes=Count("annotations"), n_images=Count("annotations__image", distinct=True)
    )


def next_to_label(user: User, *, project: Project | None = None) -> Image | None:
    """The next image for "Start labeling": across the batches assigned to the user
    and still in Annotating, by batch priority (1 first), then the oldest batch."""
    if not user.is_authenticated:
        return None
    assigned = Job.objects.filter(batch=OuterRef("batch"), labeler=user, state=JobState.ANNOTATING)
    images = Image.objects.filter(TO_LABEL, batch__status=BatchStatus.ANNOTATING).filter(Exists(assigned))
    if project is not None:
        images = images.filter(project=project)
    return (
        images.select_related("batch__project__workspace")
        .order_by("batch__priority", "batch__uploaded_at", "batch_id", "pk")
        .first()
    )


def first_to_label(batch: Batch) -> Image | None:
    """Where the editor opens on a batch: its first image still to label, else its first."""
    images = Image.objects.filter(batch=batch).order_by("pk")
    return images.filter(TO_LABEL).first() or images.first()


def box_dicts(image: Image) -> list[dict]:
    return [
        {"label": a.label_id, "x": a.x, "y": a.y, "width": a.width, "height": a.height}
        for a in image.annotations.order_by("pk")
    ]


def label_dicts(project: Project) -> list[dict]:
    return [
        {"id": c.pk, "name": c.name, "color": c.color, "hotkey": c.hotkey}
        for c in label_classes(project).only("pk", "name", "color", "hotkey")
    ]


def batch_progress(batch: Batch) -> dict:
    """Images done (annotated or marked empty), in all, and sent back by a review still awaiting rework."""
    row = Image.objects.filter(batch=batch).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=~Q(annotation_state=AnnotationState.UNANNOTATED)),
        rework=Count("pk", filter=Q(review_state=ReviewState.REJECTED)),
    )
    return {"done": row["done"], "total": row["total"], "rework": row["rework"]}


REWORK_LIST_LIMIT = 50  # images awaiting rework listed in the editor; the strip marks every one


def rework_images(batch: Batch) -> list[Image]:
    """The batch's images sent back by a review that still await rework, with the reviewer's comments."""
    return list(
        Image.objects.filter(batch=batch, review_state=ReviewState.REJECTED)
        .order_by("pk")
        .only("pk", "original_filename", "review_comment")[:REWORK_LIST_LIMIT]
    )


def editor_context(batch: Batch, image: Image) -> dict:
    """The editor screen for one image: its boxes, the classes, its neighbours, the batch's progress."""
    images = Image.objects.filter(batch=batch).order_by("pk")
    progress = batch_progress(batch)
    previous_id = images.filter(pk__lt=image.pk).order_by("-pk").values_list("pk", flat=True).first()
    next_id = images.filter(pk__gt=image.pk).values_list("pk", flat=True).first()
    position = images.filter(pk__lte=image.pk).count()
    start = max(0, position - 1 - STRIP_SIDE)
    strip = [
        {"pk": pk, "state": ReviewState.REJECTED if review == ReviewState.REJECTED else state}
        for pk, state, review in images.values_list("pk", "annotation_state", "review_state")[
            start : start + 2 * STRIP_SIDE + 1
        ]
    ]
    return {
        "batch": batch,
        "image": image,
        "boxes": box_dicts(image),
        "labels": label_dicts(batch.project),
        "previous_id": previous_id,
        "next_id": next_id,
        "position": position,
        "strip": strip,
        "strip_start": start,
        "progress": progress,
        "rework": rework_images(batch) if progress["rework"] else [],
    }


@dataclass
class LabelerStats:
    """Counts for one labeler (or a whole batch): what was annotated and how review went."""

    label: str
    user_id: int | None = None
    in_project: LabelerStats | None = None  # the same labeler across the whole project
    images: int = 0
    annotated: int = 0
    approved: int = 0
    rejected: int = 0
    reviewed: int = 0
    first_pass: int = 0

    @property
    def acceptance(self) -> int | None:
        """First-pass acceptance: the share of reviewed images approved on their first review, in percent."""
        return round(100 * self.first_pass / self.reviewed) if self.reviewed else None

    def add(self, other: LabelerStats) -> None:
        for name in ("images", "annotated", "approved", "rejected", "reviewed", "first_pass"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Rejected: sent back by a finished review, or decided "reject" in the review
# under way. Reviewed: either of those, or approved.
_REJECTED = Q(rejections__gt=0) | Q(review_state=ReviewState.REJECTED)
_STAT_COUNTS = {
    "images": Count("pk"),
    "annotated": Count("pk", filter=~Q(annotation_state=AnnotationState.UNANNOTATED)),
    "approved": Count("pk", filter=Q(review_state=ReviewState.APPROVED)),
    "rejected": Count("pk", filter=_REJECTED),
    "reviewed": Count("pk", filter=_REJECTED | Q(review_state=ReviewState.APPROVED)),
    "first_pass": Count("pk", filter=Q(review_state=ReviewState.APPROVED, rejections=0)),
}


def _stats_by_labeler(images) -> list[LabelerStats]:
    rows = (
        images.order_by()
        .values("annotated_by", "annotated_by__email")
        .annotate(**_STAT_COUNTS)
        .order_by("annotated_by__email")
    )
    return [
        LabelerStats(
            label=row["annotated_by__email"] or ("Not recorded" if row["annotated"] else "Not annotated yet"),
            user_id=row["annotated_by"],
            **{name: row[name] for name in _STAT_COUNTS},
        )
        for row in rows
    ]


def batch_stats(batch: Batch) -> dict:
    """The batch page's counts: the batch as a whole, and each labeler in it, in
    this batch and across the project. Two queries."""
    in_batch = _stats_by_labeler(Image.objects.filter(batch=batch))
    total = LabelerStats(label="This batch")
    for row in in_batch:
        total.add(row)
    user_ids = [row.user_id for row in in_batch if row.user_id is not None]
    if user_ids:
        in_project = _stats_by_labeler(Image.objects.filter(project_id=batch.project_id, annotated_by__in=user_ids))
        by_user = {row.user_id: row for row in in_project}
        for row in in_batch:
            row.in_project = by_user.get(row.user_id)
    return {"total": total, "labelers": in_batch}


# --- API reads ---------------------------------------------------------------------
#
# The API lists many rows: these read plain values (no model instances) in a
# fixed number of grouped queries, whatever the number of rows.


def api_project_stats(project_ids: list[int]) -> dict[int, dict]:
    """Per project: image counts by annotation state and split, class counts and colours."""
    stats = {
        pid: {"images": 0, "unannotated": 0, "splits": {s: 0 for s in Split.values if s}, "classes": {}, "colors": {}}
        for pid in project_ids
    }
    rows = (
        Image.objects.filter(project_id__in=project_ids)
        .order_by()
        .values("project_id", "split", "annotation_state")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        entry = stats[row["project_id"]]
        entry["images"] += row["n"]
        if row["annotation_state"] == AnnotationState.UNANNOTATED:
            entry["unannotated"] += row["n"]
        if row["split"]:
            entry["splits"][row["split"]] += row["n"]
    for pid, name, color in LabelClass.objects.filter(project_id__in=project_ids).values_list(
        "project_id", "name", "color"
    ):
        stats[pid]["classes"][name] = 0
        stats[pid]["colors"][name] = color
    counts = (
        Annotation.objects.filter(image__project_id__in=project_ids)
        .order_by()
        .values_list("image__project_id", "label__name")
        .annotate(n=Count("pk"))
    )
    for pid, name, n in counts:
        stats[pid]["classes"][name] = n
    return stats


def _raw_rows(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset, without Django's per-value converters.

    The SQL is the ORM's own; skipping the converters makes a list of 1,000
    batches several times cheaper. Only for ints, strings and datetimes:
    datetimes come back as the driver gives them (see ``_utc``).
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _utc(value) -> datetime:
    """A driver's datetime (aware, naive UTC, or ISO text on SQLite) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


BATCH_ROW = ("pk", "name", "uploaded_at", "status", "priority", "images", "jobs")


def api_batches(project: Project, batch_id: int | None = None) -> list[tuple]:
    """Batch rows as tuples of ``BATCH_ROW``, with image and open-job counts, oldest first.

    Tuples, not dicts or models: the API lists thousands of these per request.
    """
    batches = Batch.objects.filter(project=project)
    if batch_id is not None:
        batches = batches.filter(pk=batch_id)
    rows = _raw_rows(batches.order_by("uploaded_at", "pk").values_list(*BATCH_ROW[:5]))
    if not rows:
        return rows
    # Counting through the batch ids lets the database answer from the (batch, id) index alone.
    in_batches = {"batch__in": batches.values("pk")} if batch_id is None else {"batch_id": batch_id}
    images = Image.objects.filter(**in_batches)
    jobs = Job.objects.filter(**in_batches)
    image_counts = dict(
        _raw_rows(images.order_by().values("batch_id").annotate(n=Count("pk")).values_list("batch_id", "n"))
    )
    job_counts = dict(
        _raw_rows(
            jobs.exclude(state=JobState.CANCELLED)
            .order_by()
            .values("batch_id")
            .annotate(n=Count("pk"))
            .values_list("batch_id", "n")
        )
    )
    return [
        (pk, name, _utc(uploaded), status, priority, image_counts.get(pk, 0), job_counts.get(pk, 0))
        for pk, name, uploaded, status, priority in rows
    ]


def api_jobs(project: Project, job_id: int | None = None) -> list[dict]:
    """Job rows with their batch's image counts by state, newest first."""
    jobs = Job.objects.filter(batch__project=project)
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    unannotated = Q(batch__images__annotation_state=AnnotationState.UNANNOTATED)
    return list(
        jobs.order_by("-created_at", "-pk")
        .annotate(
            num_images=Count("batch__images"),
            n_unannotated=Count("batch__images", filter=unannotated),
            n_approved=Count("batch__images", filter=Q(batch__images__review_state=ReviewState.APPROVED)),
            n_rejected=Count("batch__images", filter=Q(batch__images__review_state=ReviewState.REJECTED)),
        )
        .values(
            "pk",
            "name",
            "state",
            "created_at",
            "batch_id",
            "batch__name",
            "batch__status",
            "labeler__email",
            "reviewer__email",
            "created_by__email",
            "num_images",
            "n_unannotated",
            "n_approved",
            "n_rejected",
        )
    )


def api_image(project: Project, image_id: int) -> tuple[Image, list[Annotation], list[str]]:
    """An image of the project with its boxes and tag names; 404 otherwise."""
    try:
        image = Image.objects.select_related("batch").get(project=project, pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image in this project.") from None
    image.project = project
    boxes = list(Annotation.objects.filter(image=image).select_related("label").order_by("pk"))
    tags = sorted(image.tags.values_list("name", flat=True))
    return image, boxes, tags


@dataclass
class SearchQuery:
    offset: int = 0
    limit: int = 50
    tag: str | None = None
    class_name: str | None = None
    prompt: str | None = None
    in_dataset: bool | None = None
    batch: bool = False
    batch_id: int | None = None
    annotation_job: bool = False
    annotation_job_id: int | None = None


def api_search(project: Project, query: SearchQuery) -> tuple[int, list[Image]]:
    """(total, page) of the project's images matching the query, oldest first.

    Each image on the page carries ``box_list`` (its boxes, labels selected)
    and ``tag_names``, read in two queries for the whole page.
    """
    images = Image.objects.filter(project=project)
    if query.tag:
        images = images.filter(tags__name=query.tag)
    if query.class_name:
        images = images.filter(pk__in=Annotation.objects.filter(label__name=query.class_name).values("image_id"))
    if query.prompt:
        images = images.filter(original_filename__icontains=query.prompt)
    if query.in_dataset is not None:
        in_dataset = Q(batch__status=BatchStatus.DATASET)
        images = images.filter(in_dataset) if query.in_dataset else images.exclude(in_dataset)
    if query.batch:
        images = images.filter(batch__isnull=False)
    if query.batch_id is not None:
        images = images.filter(batch_id=query.batch_id)
    open_jobs = Job.objects.exclude(state=JobState.CANCELLED)
    if query.annotation_job:
        images = images.filter(batch_id__in=open_jobs.values("batch_id"))
    if query.annotation_job_id is not None:
        images = images.filter(batch_id__in=open_jobs.filter(pk=query.annotation_job_id).values("batch_id"))
    total = images.count()
    page = list(images.order_by("pk")[query.offset : query.offset + query.limit])
    ids = [i.pk for i in page]
    boxes: dict[int, list[Annotation]] = {}
    for box in Annotation.objects.filter(image_id__in=ids).select_related("label").order_by("pk"):
        boxes.setdefault(box.image_id, []).append(box)
    tags: dict[int, list[str]] = {}
    for image_id, name in Image.tags.through.objects.filter(image_id__in=ids).values_list("image_id", "tag__name"):
        tags.setdefault(image_id, []).append(name)
    for image in page:
        image.project = project
        image.box_list = boxes.get(image.pk, [])
        image.tag_names = sorted(tags.get(image.pk, []))
    return total, page
