from django.urls import path

from boards import views
from boards.views import buckets as bucket_views
from boards.views import catalog as catalog_views
from boards.views import tasks as tasks_views

P = "w/<slug:ws>/p/<slug:project>/"
B = P + "batches/<int:batch_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("my-work/", views.my_work, name="my-work"),
    path(P, views.board, name="board"),
    path(P + "board/version", views.board_version, name="board-version"),
    path(P + "board/<slug:status>/more", views.column_more, name="column-more"),
    path(P + "upload/", views.upload, name="upload"),
    path(P + "export/", views.export_dataset, name="export"),
    path(P + "export/start", tasks_views.export_start, name="export-start"),
    path(P + "tasks/", tasks_views.tasks_page, name="tasks"),
    path(P + "buckets/", bucket_views.buckets_page, name="buckets"),
    path(P + "buckets/<int:source_id>/import", bucket_views.bucket_import, name="bucket-import"),
    path(P + "buckets/<int:source_id>/remove", bucket_views.bucket_remove, name="bucket-remove"),
    path(P + "tasks/<int:task_id>/", tasks_views.task_detail, name="task"),
    path(P + "tasks/<int:task_id>/cancel", tasks_views.task_cancel, name="task-cancel"),
    path(P + "tasks/<int:task_id>/download", tasks_views.task_download, name="task-download"),
    path(P + "import/", views.import_annotations, name="import"),
    path(B, views.batch_detail, name="batch"),
    path(B + "move", views.move, name="move"),
    path(B + "menu", views.card_menu, name="card-menu"),
    path(B + "dialog/<slug:name>", views.dialog, name="dialog"),
    path(B + "review/", views.review, name="review"),
    path(B + "review/decide", views.review_decide, name="review-decide"),
    path(B + "review/finish", views.review_finish, name="review-finish"),
    path(B + "review/marks", views.review_mark_add, name="review-mark-add"),
    path(B + "review/marks/delete", views.review_mark_delete, name="review-mark-delete"),
    path(B + "priority", views.priority, name="priority"),
    path(B + "annotate/", views.annotate_batch, name="annotate-batch"),
    path(B + "annotate/<int:image_id>/", views.annotate, name="annotate"),
    path(B + "annotate/<int:image_id>/save", views.save_image_annotations, name="annotate-save"),
    path(B + "annotate/<int:image_id>/checked", views.confirm_rework, name="annotate-checked"),
    path(B + "annotate/<int:image_id>/hold", views.hold_image, name="annotate-hold"),
    path(P + "settings/", views.project_settings, name="project-settings"),
    path(P + "settings/classes/", views.label_add, name="label-add"),
    path(P + "settings/classes/<int:label_id>/", views.label_update, name="label-update"),
    path(P + "settings/classes/<int:label_id>/delete", views.label_delete, name="label-delete"),
    path(P + "start-labeling/", views.start_labeling, name="project-start-labeling"),
    path("start-labeling/", views.start_labeling, name="start-labeling"),
    path("images/<int:image_id>/<str:kind>", views.image_file, name="image-file"),
    # The image catalog, archived batches and merging (boards/views/catalog.py).
    path("w/<slug:ws>/p/<slug:project>/catalog/", catalog_views.catalog_page, name="catalog"),
    path("w/<slug:ws>/p/<slug:project>/catalog/count/", catalog_views.catalog_count, name="catalog-count"),
    path("w/<slug:ws>/p/<slug:project>/catalog/batch/", catalog_views.catalog_batch, name="catalog-batch"),
    path("w/<slug:ws>/p/<slug:project>/catalog/tags/", catalog_views.catalog_tags, name="catalog-tags"),
    path("w/<slug:ws>/p/<slug:project>/archived/", catalog_views.archived, name="archived"),
    path(
        "w/<slug:ws>/p/<slug:project>/archived/<int:batch_id>/restore/",
        catalog_views.restore,
        name="restore",
    ),
    path("w/<slug:ws>/p/<slug:project>/merge/", catalog_views.merge, name="merge"),
    # The workspace catalog: every image of the workspace once, its datasets (boards/views/workspace_catalog.py).
    path("w/<slug:ws>/catalog/", views.workspace_catalog_page, name="workspace-catalog"),
    path("w/<slug:ws>/catalog/batch/", views.workspace_catalog_batch, name="workspace-catalog-batch"),
    path("w/<slug:ws>/catalog/count/", views.workspace_catalog_count, name="workspace-catalog-count"),
    path("w/<slug:ws>/catalog/delete/", views.workspace_catalog_delete, name="workspace-catalog-delete"),
    path("w/<slug:ws>/assets/<int:asset_id>/<str:kind>", views.asset_file, name="asset-file"),
    path(
        "w/<slug:ws>/datasets/<int:dataset_id>/rename",
        views.dataset_rename,
        name="dataset-rename",
    ),
]
