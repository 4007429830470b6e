"""The boards app's models, a module per domain; every name is re-exported here.

``from boards.models import X`` is how the rest of the code (and the
migrations, through ``boards.models.original_upload_to``) names them. The
modules: ``assets`` (the workspace catalog's datasets and stored files),
``choices`` (the stored choices and limits), ``projects`` (project, label
classes, tags), ``batches`` (the batch state machine, jobs, events), ``images``
(a project's images, their placements in batches, annotations, review
marks), ``counts`` (a card's image
counts), ``queue`` (the label queue's entries and reservations) and ``background`` (exports
and other work done by a worker) and ``buckets`` (buckets images are imported from).
"""

from boards.models.assets import Asset, Dataset  # noqa: F401
from boards.models.background import BackgroundTask, TaskKind, TaskStatus  # noqa: F401
from boards.models.batches import (  # noqa: F401
    Batch,
    BatchEvent,
    Job,
    _all_images_done,
    _has_images,
    can_annotate,
    can_submit,
)
from boards.models.buckets import BucketObject, BucketSource  # noqa: F401
from boards.models.choices import (  # noqa: F401
    IDLE_STATUSES,
    MAX_BATCH_IMAGES,
    PRIORITY_DEFAULT,
    PRIORITY_HIGHEST,
    PRIORITY_LOWEST,
    AnnotationState,
    BatchSource,
    BatchStatus,
    EventKind,
    JobState,
    ReviewState,
    Split,
)
from boards.models.counts import CARD_COUNTS, COUNTS_FRESH, count_card_images  # noqa: F401
from boards.models.images import (  # noqa: F401
    Annotation,
    Image,
    ReviewMark,
    attach_assets,
    original_upload_to,
    project_dataset,
    thumbnail_upload_to,
)
from boards.models.placements import (  # noqa: F401
    UNARCHIVE,
    FreeImage,
    Placement,
    free,
    insert_placements,
    place_free,
)
from boards.models.projects import LabelClass, Project, Tag  # noqa: F401
from boards.models.queue import QueueEntry  # noqa: F401
