"""Uploading images and annotations through the API, as the roboflow client sends them."""

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from boards import services
from boards.models import Annotation, AnnotationState, Batch, BatchEvent, BatchSource, BatchStatus, Image, LabelClass
from tests.api_support import error_of, voc
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.django_db


def upload(api, name="photo.jpg", *, color=(200, 80, 40), params=None, **fields):
    file = SimpleUploadedFile(name, jpeg_bytes(color=color), content_type="image/jpeg")
    return api.upload("parcels", file, params=params, name=name, split=fields.pop("split", "train"), **fields)


def test_an_upload_lands_in_a_new_batch_named_as_asked(api, project, manager):
    response = upload(api, params={"batch": "Tuesday run"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    image = Image.objects.get(pk=int(body["id"]))
    batch = image.batch
    assert (batch.name, batch.status, batch.source, batch.created_by) == (
        "Tuesday run",
        BatchStatus.UNASSIGNED,
        BatchSource.API,
        manager,
    )
    assert body["batch"] == {"id": str(batch.pk), "name": "Tuesday run"}
    assert (image.original_filename, image.split, image.width, image.height) == ("photo.jpg", "train", 64, 48)
    assert BatchEvent.objects.filter(batch=batch, kind="created").count() == 1


def test_images_of_one_batch_name_share_a_batch_while_it_is_unassigned(api, project, manager, labeler):
    ids = [upload(api, f"{n}.jpg", color=(n, 0, 0), params={"batch": "Run"}).json()["id"] for n in range(3)]
    batches = set(Image.objects.filter(pk__in=ids).values_list("placement__batch_id", flat=True))
    assert len(batches) == 1
    batch = Batch.objects.get(pk=batches.pop())
    services.assign(batch=batch, actor=manager, labeler=labeler)
    later = upload(api, "later.jpg", color=(9, 9, 9), params={"batch": "Run"}).json()
    new = Batch.objects.get(pk=int(later["batch"]["id"]))
    assert new.pk != batch.pk and new.name == "Run (2)" and new.status == BatchStatus.UNASSIGNED
    again = upload(api, "again.jpg", color=(8, 8, 8), params={"batch": "Run"}).json()
    assert again["batch"]["id"] == str(new.pk)


def test_a_web_batch_of_the_same_name_is_not_joined(api, project, manager, image_file):
    web = services.upload_images(project=project, actor=manager, files=[image_file()], batch_name="Run").batch
    body = upload(api, "b.jpg", color=(1, 2, 3), params={"batch": "Run"}).json()
    assert body["batch"]["id"] != str(web.pk) and body["batch"]["name"] == "Run (2)"


def test_without_a_batch_name_uploads_still_land_in_a_batch(api, project):
    body = upload(api).json()
    assert body["batch"]["name"].startswith("Uploaded on ")


def test_a_duplicate_answers_with_the_existing_id(api, project):
    first = upload(api, params={"batch": "A"}).json()
    second = upload(api, "copy.jpg", params={"batch": "B"})
    assert second.status_code == 200
    assert second.json() == {"duplicate": True, "id": first["id"]}
    assert Image.objects.count() == 1 and not Batch.objects.filter(name="B").exists()


def test_a_free_image_sent_again_joins_the_batch_with_the_split_it_is_sent_with(api, project):
    """One write of its row: its batch, the split, and the archived batch it left forgotten."""
    first = upload(api, params={"batch": "A"}).json()
    old = Batch.objects.get(name="A")
    Image.objects.filter(pk=int(first["id"])).set_batch(None)
    Image.objects.filter(pk=int(first["id"])).update(archived_from=old)
    services.mark_changed(old)

    again = upload(api, "copy.jpg", params={"batch": "B"}, split="valid")

    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first["id"]
    image = Image.objects.get(pk=int(first["id"]))
    assert image.batch.name == "B" and image.in_batch
    assert image.split == "valid" and image.archived_from_id is None


def test_tags_come_from_repeated_query_parameters(api, project):
    body = upload(api, params={"tag": ["night", "rain", "night"]}).json()
    image = Image.objects.get(pk=int(body["id"]))
    assert sorted(image.tags.values_list("name", flat=True)) == ["night", "rain"]


def test_query_values_decode_plus_and_percent_20(api, project):
    query = f"api_key={api.key}&batch=Night+run%20two&tag=wet+road"
    file = SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg")
    body = api.client.post(f"/api/dataset/parcels/upload?{query}", {"file": file}).json()
    image = Image.objects.get(pk=int(body["id"]))
    assert image.batch.name == "Night run two"
    assert list(image.tags.values_list("name", flat=True)) == ["wet road"]


def test_a_base64_body_works_as_roboflows_curl_example_sends_it(api, project):
    encoded = base64.encodebytes(jpeg_bytes())  # wrapped lines, as `base64` prints them
    response = api.client.post(
        f"/api/dataset/parcels/upload?api_key={api.key}&name=cam.jpg&split=valid",
        encoded,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    image = Image.objects.get(pk=int(response.json()["id"]))
    assert (image.original_filename, image.split) == ("cam.jpg", "valid")


def test_a_data_url_body_works_too(api, project):
    body = b"data:image/jpeg;base64," + base64.b64encode(jpeg_bytes())
    response = api.client.post(
        f"/api/dataset/parcels/upload?api_key={api.key}&name=x.jpg", body, content_type="text/plain"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "text/plain", "Send the image"),
        (b"!!! not base64 !!!", "text/plain", "base64"),
        (base64.b64encode(b"not an image"), "text/plain", "not an image file"),
    ],
)
def test_bad_bodies_are_400(api, project, body, content_type, message):
    response = api.client.post(f"/api/dataset/parcels/upload?api_key={api.key}", body, content_type=content_type)
    assert response.status_code == 400
    assert message in error_of(response)["message"]


def test_a_multipart_body_without_a_file_is_400(api, project):
    response = api.client.post(f"/api/dataset/parcels/upload?api_key={api.key}", {"name": "x.jpg"})
    assert response.status_code == 400 and "“file”" in error_of(response)["message"]


def test_a_damaged_image_is_400_with_the_reason(api, project):
    file = SimpleUploadedFile("x.jpg", jpeg_bytes()[:200], content_type="image/jpeg")
    response = api.upload("parcels", file)
    assert response.status_code == 400 and "damaged or truncated" in error_of(response)["message"]


def test_a_bad_split_is_400(api, project):
    response = upload(api, split="holdout")
    assert response.status_code == 400 and "train, valid or test" in error_of(response)["message"]


def test_hosted_images_are_refused(api, project):
    response = api.client.post(f"/api/dataset/parcels/upload?api_key={api.key}&image=http://example.com/a.jpg")
    assert response.status_code == 400 and "does not fetch" in error_of(response)["message"]


def test_a_file_over_the_limit_is_413(api, project, settings):
    settings.MAX_UPLOAD_FILE_BYTES = 100
    response = upload(api)
    assert response.status_code == 413
    assert error_of(response)["type"] == "too_large"


def test_a_body_over_the_memory_limit_is_413(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    response = api.client.post(
        f"/api/dataset/parcels/upload?api_key={api.key}", base64.b64encode(jpeg_bytes()), content_type="text/plain"
    )
    assert response.status_code == 413


def test_an_unknown_project_is_404(api, project):
    file = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
    assert api.upload("nope", file).status_code == 404


# --- annotations ----------------------------------------------------------------------


@pytest.fixture
def image(api, project):
    return Image.objects.get(pk=int(upload(api).json()["id"]))


def annotate(api, image, text, name="photo.xml", labelmap=None, **params):
    return api.post(
        f"/dataset/parcels/annotate/{image.pk}",
        {"annotationFile": text, "labelmap": labelmap},
        params={"name": name, **params},
    )


def boxes_of(image):
    return list(Annotation.objects.filter(image=image).values_list("label__name", "x", "y", "width", "height"))


def test_a_voc_file_becomes_boxes_and_new_classes(api, image):
    response = annotate(api, image, voc("car"))
    assert response.status_code == 200 and response.json() == {"success": True}
    assert boxes_of(image) == [("car", 4, 6, 20, 24)]
    assert LabelClass.objects.filter(project=image.project, name="car").exists()
    image.refresh_from_db()
    assert image.annotation_state == AnnotationState.ANNOTATED


def test_a_coco_file(api, image):
    document = {
        "images": [{"id": 1, "file_name": "photo.jpg", "width": 64, "height": 48}],
        "categories": [{"id": 3, "name": "bike"}],
        "annotations": [{"image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 20]}],
    }
    assert annotate(api, image, json.dumps(document), name="photo.json").status_code == 200
    assert boxes_of(image) == [("bike", 1, 2, 10, 20)]


def test_a_yolo_file_with_the_labelmap_the_client_sends(api, image):
    response = annotate(api, image, "1 0.5 0.5 0.25 0.5\n", name="photo.txt", labelmap={"0": "car", "1": "bike"})
    assert response.status_code == 200
    assert boxes_of(image) == [("bike", 24, 12, 16, 24)]


def test_an_already_annotated_image_is_409_unless_overwrite(api, image):
    annotate(api, image, voc("car"))
    response = annotate(api, image, voc("bike"))
    assert response.status_code == 409
    assert "already annotated" in error_of(response)["message"]
    assert annotate(api, image, voc("bike"), overwrite="true").status_code == 200
    assert boxes_of(image) == [("bike", 4, 6, 20, 24)]


def test_an_empty_file_marks_the_image_empty(api, image):
    assert annotate(api, image, "<annotation></annotation>").status_code == 200
    image.refresh_from_db()
    assert image.annotation_state == AnnotationState.EMPTY


def test_names_and_job_names_decode_plus_and_percent_20(api, image):
    query = "name=my+photo%20one.xml&jobName=Annotated%20via+API"
    url = f"/api/dataset/parcels/annotate/{image.pk}?api_key={api.key}&{query}"
    body = json.dumps({"annotationFile": voc("car"), "labelmap": None})
    assert api.client.post(url, body, content_type="application/json").status_code == 200


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("<annotation><object>", "a.xml", "not well-formed"),
        ("{}", "a.csv", "Cannot tell the format"),
        ("0 0.5", "a.txt", "YOLO box"),
    ],
)
def test_a_malformed_file_is_400_naming_the_problem(api, image, text, name, message):
    response = annotate(api, image, text, name=name)
    assert response.status_code == 400
    assert message in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "params", "message"),
    [
        ({"annotationFile": 5}, {"name": "a.xml"}, "annotationFile"),
        ({}, {"name": "a.xml"}, "annotationFile"),
        ({"annotationFile": "<annotation/>"}, {}, "?name="),
        ({"annotationFile": "<annotation/>"}, {"name": "a.xml", "overwrite": "perhaps"}, "overwrite"),
    ],
)
def test_bad_annotate_requests_are_400(api, image, body, params, message):
    response = api.post(f"/dataset/parcels/annotate/{image.pk}", body, params=params)
    assert response.status_code == 400 and message in error_of(response)["message"]


def test_a_box_outside_the_image_is_400(api, image):
    text = "<annotation><object><name>car</name><bndbox><xmin>100</xmin><ymin>100</ymin><xmax>120</xmax>"
    text += "<ymax>120</ymax></bndbox></object></annotation>"
    response = annotate(api, image, text)
    assert response.status_code == 400 and "wholly outside" in error_of(response)["message"]


def test_an_unknown_image_is_404(api, project):
    response = api.post("/dataset/parcels/annotate/999", {"annotationFile": voc()}, params={"name": "a.xml"})
    assert response.status_code == 404


def test_the_assigned_labeler_annotates_but_may_not_invent_classes(client, make_key, image, manager, labeler):
    from tests.api_support import Api

    services.assign(batch=image.batch, actor=manager, labeler=labeler)
    LabelClass.objects.create(project=image.project, name="car")
    api = Api(client, make_key(labeler))
    assert annotate(api, image, voc("car")).status_code == 200
    response = annotate(api, image, voc("unicorn"), overwrite="true")
    assert response.status_code == 400 and "no class “unicorn”" in error_of(response)["message"]


def test_another_labeler_may_not_annotate_an_assigned_batch(client, make_key, image, manager, reviewer, labeler):
    from accounts.roles import Role
    from tests.api_support import Api
    from tests.factories import MembershipFactory, UserFactory

    services.assign(batch=image.batch, actor=manager, labeler=labeler)
    other = MembershipFactory(workspace=image.project.workspace, role=Role.LABELER, user=UserFactory()).user
    response = annotate(Api(client, make_key(other)), image, voc("car"))
    assert response.status_code == 403 and "assigned to someone else" in error_of(response)["message"]


def test_annotations_cannot_change_once_a_batch_is_in_review(api, image, manager, labeler):
    batch = image.batch
    services.assign(batch=batch, actor=manager, labeler=labeler)
    annotate(api, image, voc("car"))
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    response = annotate(api, image, voc("bike"), overwrite="true")
    assert response.status_code == 409 and "only while the batch is in Annotating" in error_of(response)["message"]
