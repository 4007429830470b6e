"""The only code that changes Batchboard's state.

Every function is keyword-only and takes the acting user. Each one checks the
actor's permission itself (django-fsm does not enforce ``permission=`` on a
call), runs in one transaction, moves images with bulk queries and writes a
``BatchEvent`` for every batch it changes. Errors are ``core.errors``.

A package by domain; callers use ``services.<name>``, so every name they use is re-exported here.
A test that patches a name patches the module that looks it up (``services.files._copy``).
"""

from boards.formats.box import Box  # noqa: F401
from boards.services.annotations import (  # noqa: F401
    confirm_rework,
    finish_queued,
    import_annotation,
    save_annotations,
)
from boards.services.background import (  # noqa: F401
    cancel,
    reap_stalled,
    start_export,
    start_import,
)
from boards.services.buckets import (  # noqa: F401
    connect_bucket,
    remove_bucket,
    start_bucket_import,
)
from boards.services.catalog import (  # noqa: F401
    CatalogBatchResult,
    add_batch_to_project,
    create_batch_from_images,
    merge_batches,
    restore_batch,
)
from boards.services.common import (  # noqa: F401
    STATUS_LABELS,
    lock_batches,
    mark_changed,
    split_name,
    unique_batch_name,
    upload_batch_name,
)
from boards.services.datasets import (  # noqa: F401
    rename_dataset,
)
from boards.services.files import (  # noqa: F401
    COPY_BYTES,
    _copy,
    _delete_unreferenced,
    _write_file,
    write_beside,
)
from boards.services.images import (  # noqa: F401
    MAX_IMAGES_PER_DELETE,
    CatalogDeletion,
    catalog_deletion,
    delete_catalog_images,
    delete_images,
)
from boards.services.importing import (  # noqa: F401
    IMPORTABLE,
    ImportLine,
    ImportReport,
    ServiceErrorTypes,
    import_annotation_files,
)
from boards.services.label_classes import (  # noqa: F401
    HOTKEYS,
    OPEN_STATUSES,
    UNCHANGED,
    LabelDeleted,
    create_label_class,
    delete_label_class,
    set_queue_settings,
    set_review_mode,
    update_label_class,
)
from boards.services.moves import (  # noqa: F401
    DELETE,
    MOVES,
    CardMove,
    Choice,
    MoveRules,
    NeedsInput,
    api_scope,
    find_move,
    move_batch,
)
from boards.services.queue import (  # noqa: F401
    dequeue,
    enqueue,
    hold,
    next_image,
    next_queued_image,
    sync_queue,
)
from boards.services.review import (  # noqa: F401
    APPROVE,
    REJECT,
    ReviewResult,
    approve,
    record_decision,
    reject,
    review,
)
from boards.services.review_marks import (  # noqa: F401
    MARK_COMMENT_LIMIT,
    add_review_mark,
    delete_review_mark,
)
from boards.services.tagging import (  # noqa: F401
    MAX_TAG_LENGTH,
    MAX_TAGS_PER_IMAGE,
    TAG_OPERATIONS,
    TagResult,
    change_image_tags,
    tag_images,
)
from boards.services.uploads import (  # noqa: F401
    FileResult,
    ImageUpload,
    UploadResult,
    _process_one,
    _store_upload,
    upload_image,
    upload_images,
)
from boards.services.workflow import (  # noqa: F401
    AssignResult,
    archive,
    assign,
    create_job,
    delete_batch,
    move_to_unassigned,
    rework_message,
    set_priority,
    submit,
)
from core.errors import ConcurrentChange, InvalidInput  # noqa: F401
from core.filenames import safe_filename  # noqa: F401
