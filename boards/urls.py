from django.urls import path

from boards import views

urlpatterns = [
    path("", views.home, name="home"),
    path("w/<slug:ws>/p/<slug:project>/", views.board, name="board"),
    path("w/<slug:ws>/p/<slug:project>/upload/", views.upload, name="upload"),
    path("w/<slug:ws>/p/<slug:project>/batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path(
        "w/<slug:ws>/p/<slug:project>/batches/<int:batch_id>/<slug:action>/",
        views.batch_action,
        name="batch-action",
    ),
    path("images/<int:image_id>/<str:kind>", views.image_file, name="image-file"),
]
