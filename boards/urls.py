from django.urls import path

from boards import views

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
    path(P + "import/", views.import_annotations, name="import"),
    path(B, views.batch_detail, name="batch"),
    path(B + "move", views.move, name="move"),
    path(B + "dialog/<slug:name>", views.dialog, name="dialog"),
    path(B + "review/", views.review, name="review"),
    path(B + "review/decide", views.review_decide, name="review-decide"),
    path(B + "review/finish", views.review_finish, name="review-finish"),
    path(B + "priority", views.priority, name="priority"),
    path(B + "annotate/", views.annotate_batch, name="annotate-batch"),
    path(B + "annotate/<int:image_id>/", views.annotate, name="annotate"),
    path(B + "annotate/<int:image_id>/save", views.save_image_annotations, name="annotate-save"),
    path(P + "settings/", views.project_settings, name="project-settings"),
    path(P + "settings/classes/", views.label_add, name="label-add"),
    path(P + "settings/classes/<int:label_id>/", views.label_update, name="label-update"),
    path(P + "settings/classes/<int:label_id>/delete", views.label_delete, name="label-delete"),
    path(P + "start-labeling/", views.start_labeling, name="project-start-labeling"),
    path("start-labeling/", views.start_labeling, name="start-labeling"),
    path("images/<int:image_id>/<str:kind>", views.image_file, name="image-file"),
]
