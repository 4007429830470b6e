"""The admin site: every model registered, transitions go through the services."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import ApiKey, Membership, User, Workspace
from boards.models import (
    Annotation,
    AnnotationState,
    BackgroundTask,
    Batch,
    BatchEvent,
    BatchStatus,
    BucketSource,
    EventKind,
    Image,
    Job,
    LabelClass,
    Project,
)
from tests.factories import ImageFactory, set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("admin@acme.test", "pw")


@pytest.fixture
def staff_labeler(labeler):
    """A staff user whose workspace role is only labeler."""
    from django.contrib.auth.models import Permission

    labeler.is_staff = True
    labeler.save()
    labeler.user_permissions.add(*Permission.objects.filter(content_type__app_label="boards"))
    return User.objects.get(pk=labeler.pk)


@pytest.mark.parametrize(
    "model",
    [
        User,
        Workspace,
        Membership,
        ApiKey,
        Project,
        LabelClass,
        Batch,
        Image,
        Annotation,
        Job,
        BatchEvent,
        BackgroundTask,
        BucketSource,
    ],
)
def test_every_model_is_in_the_admin(model):
    assert admin.site.is_registered(model)


def test_the_batch_list_filters_and_searches(client, superuser, make_batch):
    make_batch(2, name="Harbour")
    client.force_login(superuser)
    response = client.get(reverse("admin:boards_batch_changelist"), {"status__exact": "unassigned", "q": "Harb"})
    assert response.status_code == 200
    assert b"Harbour" in response.content


def test_the_batch_page_shows_thumbnails_jobs_and_events(client, superuser, make_batch):
    batch = make_batch(2)
    client.force_login(superuser)
    response = client.get(reverse("admin:boards_batch_change", args=[batch.pk]))
    assert response.status_code == 200
    assert b"/thumb" in response.content


def test_an_admin_transition_runs_the_service_and_writes_an_event(client, superuser, make_batch, labeler):
    batch = make_batch(2)
    client.force_login(superuser)
    url = reverse("admin:boards_batch_transition", args=[batch.pk, "assign"])
    response = client.post(url, {"labeler": labeler.pk})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ANNOTATING
    assert batch.current_job.labeler == labeler
    assert BatchEvent.objects.filter(batch=batch, kind=EventKind.ASSIGNED, actor=superuser).exists()


def test_an_admin_transition_is_refused_by_the_same_role_checks(client, staff_labeler, make_batch):
    batch = make_batch(2)
    client.force_login(staff_labeler)
    change = reverse("admin:boards_batch_change", args=[batch.pk])
    form = {"_fsm_transition_to": "archive", "name": batch.name, "priority": 3, "project": batch.project_id}
    for prefix in ("jobs", "events"):
        form |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    response = client.post(change, form | {"source": "web"})
    assert response.status_code == 302
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
    assert not BatchEvent.objects.filter(kind=EventKind.ARCHIVED).exists()


def test_admin_delete_goes_through_the_service(client, superuser, make_batch, labeler):
    from boards import services

    keep = make_batch(1)
    services.assign(batch=keep, actor=superuser, labeler=labeler)
    gone = make_batch(1)
    client.force_login(superuser)
    client.post(
        reverse("admin:boards_batch_changelist"),
        {"action": "delete_selected", "_selected_action": [keep.pk, gone.pk], "post": "yes"},
    )
    assert Batch.objects.filter(pk=keep.pk).exists()
    assert not Batch.objects.filter(pk=gone.pk).exists()
    assert Image.objects.count() == 1
    assert BatchEvent.objects.filter(kind=EventKind.DELETED).count() == 1


def test_events_are_read_only_in_the_admin(client, superuser, make_batch):
    batch = make_batch(1)
    event = BatchEvent.objects.create(project=batch.project, batch=batch, batch_name=batch.name, kind=EventKind.CREATED)
    client.force_login(superuser)
    response = client.post(reverse("admin:boards_batchevent_change", args=[event.pk]), {"batch_name": "forged"})
    assert response.status_code == 403
    assert BatchEvent.objects.get(pk=event.pk).batch_name == batch.name


def test_a_buckets_keys_never_show_in_the_admin(client, superuser, project, manager):
    from core import encryption

    source = BucketSource.objects.create(
        project=project,
        name="cam",
        bucket="photos",
        access_key=encryption.encrypt("AKIASECRETID"),
        secret_key=encryption.encrypt("very-secret-key"),
        key_hint="TKEY",
        created_by=manager,
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:boards_bucketsource_change", args=[source.pk])).content.decode()
    assert "TKEY" in page
    assert source.secret_key not in page and source.access_key not in page and "very-secret-key" not in page
    listing = client.get(reverse("admin:boards_backgroundtask_changelist"))
    assert listing.status_code == 200


def _image_form_data(client, image):
    """The image's change form as the admin would post it back unchanged: each field's value and,
    hidden, the value it showed."""
    form = client.get(reverse("admin:boards_image_change", args=[image.pk])).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, list | tuple):
            value = [str(v) for v in value]
        else:
            value = "" if value is None else str(value)
        data[name] = data[f"initial-{name}"] = value
    return data


def test_the_image_admin_moves_an_image_to_another_batch_and_recounts_both_cards(client, superuser, make_batch):
    source, target = make_batch(2), make_batch(1)
    image = source.images.order_by("pk").first()
    client.force_login(superuser)
    data = _image_form_data(client, image) | {"batch": str(target.pk)}

    response = client.post(reverse("admin:boards_image_change", args=[image.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    image = Image.objects.get(pk=image.pk)
    assert image.batch_id == target.pk and image.in_batch
    source, target = Batch.objects.get(pk=source.pk), Batch.objects.get(pk=target.pk)
    assert (source.n_images, target.n_images) == (1, 2)


def test_the_image_admin_writes_only_what_the_person_changed(client, superuser, make_batch, project):
    """A placement and a labeler's work made while the form was open survive its save."""
    batch = make_batch(0)
    image = ImageFactory(project=project)
    assert image.batch_id is None
    client.force_login(superuser)
    data = _image_form_data(client, image) | {"review_comment": "Looks fine"}
    # Meanwhile the image joins a batch, and a labeler labels it.
    set_images(Image.objects.filter(pk=image.pk), batch=batch, annotation_state=AnnotationState.ANNOTATED)

    response = client.post(reverse("admin:boards_image_change", args=[image.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    image = Image.objects.get(pk=image.pk)
    assert image.review_comment == "Looks fine"
    assert image.annotation_state == AnnotationState.ANNOTATED
    assert image.in_batch and image.batch_id == batch.pk


def test_a_state_changed_in_the_image_admin_recounts_the_card(client, superuser, make_batch):
    batch = make_batch(2)
    image = batch.images.order_by("pk").first()
    client.force_login(superuser)
    data = _image_form_data(client, image) | {"annotation_state": AnnotationState.ANNOTATED}

    response = client.post(reverse("admin:boards_image_change", args=[image.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get(pk=batch.pk)
    assert batch.counts_stored and (batch.n_images, batch.n_annotated) == (2, 1)


def test_images_deleted_in_the_admin_recount_their_cards(client, superuser, make_batch):
    one, other = make_batch(3), make_batch(2)
    doomed = [one.images.order_by("pk").first().pk, *other.images.values_list("pk", flat=True)]
    client.force_login(superuser)

    response = client.post(
        reverse("admin:boards_image_changelist"),
        {"action": "delete_selected", "_selected_action": doomed, "post": "yes"},
    )
    assert response.status_code == 302
    last_but_one = one.images.order_by("pk").first().pk
    single = client.post(reverse("admin:boards_image_delete", args=[last_but_one]), {"post": "yes"})
    assert single.status_code == 302

    one, other = Batch.objects.get(pk=one.pk), Batch.objects.get(pk=other.pk)
    assert one.counts_stored and other.counts_stored
    assert (one.n_images, other.n_images) == (1, 0)
