"""The image indexes SQLite keeps outside the model's state (see 0006).

SQLite cannot drop a constraint or change a column in place: Django rebuilds
the table from the model's state, which leaves these out. A migration that
rebuilds ``boards_image`` runs ``restore`` after (and, going back, before) it.
"""

SQLITE_ONLY_INDEXES = {
    "boards_imag_project_c63c9a_idx": '("project_id", "batch_id", "uploaded_at")',
    "boards_imag_project_29d2e3_idx": '("project_id", "original_filename")',
    "boards_imag_project_49b92a_idx": '("project_id", "annotation_state", "uploaded_at")',
    "boards_imag_project_22c050_idx": '("project_id", "review_state", "uploaded_at")',
}


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, columns in SQLITE_ONLY_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "boards_image" {columns}')
