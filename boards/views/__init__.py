"""HTML views by screen: translate HTTP into a service call and back. No logic lives here.

``boards.urls`` and the tests name views as ``views.<name>``: every name is re-exported here.
"""

from boards.views.batch import (  # noqa: F401
    IMAGES_PER_PAGE,
    _render_batch,
    _upload,
    batch_detail,
    upload,
)
from boards.views.board import (  # noqa: F401
    DIALOG_VERBS,
    MAX_COLUMN_OFFSET,
    _board_etag,
    _board_page,
    _dialog,
    _member,
    _moved_context,
    _moved_message,
    _refused,
    board,
    board_version,
    card_menu,
    column_more,
    dialog,
    move,
    priority,
)
from boards.views.board_render import (  # noqa: F401
    BOARD_CACHE_SECONDS,
    CARD_CACHE_SECONDS,
    CardRenderer,
    RenderedCard,
    _board_cards,
    _board_html,
    _cache,
    _digest,
    board_context,
    render_cards,
)
from boards.views.common import (  # noqa: F401
    _refuse,
    _waits,
    submit_waits,
)
from boards.views.editor import (  # noqa: F401
    MAX_BOXES_PER_SAVE,
    _annotatable,
    _is_number,
    _not_annotating,
    _parse_save,
    _ready,
    annotate,
    annotate_batch,
    confirm_rework,
    hold_image,
    save_image_annotations,
    start_labeling,
)
from boards.views.files import (  # noqa: F401
    image_file,
)
from boards.views.home import (  # noqa: F401
    home,
    my_work,
)
from boards.views.project import (  # noqa: F401
    MAX_IMPORT_FILES,
    PALETTE,
    _label_in,
    _managed_project,
    _render_settings,
    export_dataset,
    import_annotations,
    label_add,
    label_delete,
    label_update,
    project_settings,
)
from boards.views.review import (  # noqa: F401
    REGION,
    _mark_done,
    _mark_refused,
    _render_review,
    review,
    review_decide,
    review_finish,
    review_mark_add,
    review_mark_delete,
)
from boards.views.workspace_catalog import (  # noqa: F401
    asset_file,
    dataset_rename,
    workspace_catalog_batch,
    workspace_catalog_count,
    workspace_catalog_delete,
    workspace_catalog_page,
)
