"""The image catalog: filters carried in the URL, sampling, and the reads behind its pages.

Nothing here writes; ``boards.services`` creates batches from the catalog,
tags images, restores and merges batches. The modules are domains: ``filters``
(``CatalogFilter``), ``paging`` (the grid), ``sampling`` (``Sample``),
``preview`` (what "Add batch" would take) and ``archived`` (archived and
unassigned batches). This module re-exports the names other code uses.
"""

from boards.catalog.archived import _RELEASED, archived_batches, restorable, unassigned_batches  # noqa: F401
from boards.catalog.filters import (  # noqa: F401
    PARAMS,
    SIZE_LIMIT,
    CatalogFilter,
    CatalogState,
    _parse,
    _start_of,
    filter_choices,
    filtered_images,
    project_images,
    state_of,
    state_q,
)
from boards.catalog.paging import (  # noqa: F401
    COUNT_CAP,
    FEW,
    GRID_FIELDS,
    PAGE_SIZE,
    CatalogPage,
    catalog_page,
    count_matching,
)
from boards.catalog.preview import (  # noqa: F401
    STATUS_LABELS,
    BatchPreview,
    _column_order,
    _ids,
    preview_batch,
    preview_of,
    selected_images,
)
from boards.catalog.sampling import (  # noqa: F401
    _P,
    BY_FILENAME,
    BY_UPLOAD,
    ORDERED,
    RANDOM,
    SEED_LIMIT,
    Sample,
    _seed_constants,
    new_seed,
    sample_rank,
)
from boards.catalog.workspace import (  # noqa: F401
    NOWHERE,
    PROJECT_STATES,
    WorkspaceFilter,
    asset_id_set,
    asset_page,
    count_assets,
    datasets_of,
    images_in_project,
    missing_ids,
    preview_for_project,
    projects_of,
    selected_assets,
    selection,
    workspace_assets,
)
from boards.models import MAX_BATCH_IMAGES  # noqa: F401
