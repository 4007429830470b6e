"""URLs of the JSON API, mounted at /api/. Paths mirror Roboflow's REST API."""

from django.urls import path, register_converter

from boards import api


class IdConverter:
    """A row id: digits, few enough to fit a 64-bit integer column."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")

P = "<slug:ws>/<slug:project>"

urlpatterns = [
    path("", api.root, name="api-root"),
    path("openapi.json", api.openapi_json, name="api-openapi"),
    path("dataset/<slug:project>/upload", api.upload, name="api-upload"),
    path("dataset/<slug:project>/annotate/<id:image_id>", api.annotate, name="api-annotate"),
    path("<slug:ws>", api.workspace, name="api-workspace"),
    # Before the project's paths: "datasets" in a project's place names the workspace catalog's datasets.
    path("<slug:ws>/datasets", api.datasets, name="api-datasets"),
    path("<slug:ws>/datasets/<id:dataset_id>", api.dataset, name="api-dataset"),
    path(P, api.project, name="api-project"),
    path(P + "/batches", api.batches, name="api-batches"),
    path(P + "/batches/<id:batch_id>", api.batch, name="api-batch"),
    path(P + "/batches/<id:batch_id>/move", api.batch_move, name="api-batch-move"),
    path(P + "/jobs", api.jobs, name="api-jobs"),
    path(P + "/jobs/<id:job_id>", api.job, name="api-job"),
    path(P + "/images", api.images_delete, name="api-images"),
    path(P + "/images/<id:image_id>", api.image, name="api-image"),
    path(P + "/images/<id:image_id>/tags", api.image_tags, name="api-image-tags"),
    path(P + "/images/<id:image_id>/<slug:kind>", api.image_file, name="api-image-file"),
    path(P + "/search", api.search, name="api-search"),
]
