"""The admin: a refused delete says only that it was refused; superusers see every thumbnail."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import User
from boards import services
from boards.models import Batch, BatchStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("admin@acme.test", "pw")


@pytest.fixture
def staff(db):
    """Staff with every boards permission in the admin, but a member of no workspace."""
    user = User.objects.create_user("staff@acme.test", "pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="boards"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def assigned(make_batch, manager, labeler):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    return Batch.objects.get(pk=batch.pk)


def texts(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_it_shows_only_the_refusal_when_a_single_delete_is_refused(client, superuser, assigned):
    client.force_login(superuser)
    response = client.post(reverse("admin:boards_batch_delete", args=[assigned.pk]), {"post": "yes"}, follow=True)
    shown = texts(response)
    assert [level for level, _ in shown] == ["error"]
    assert "deleted successfully" not in " ".join(text for _, text in shown)
    assert response.redirect_chain[-1][0] == reverse("admin:boards_batch_change", args=[assigned.pk])
    assert Batch.objects.get(pk=assigned.pk).status == BatchStatus.ANNOTATING
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_a_single_delete_that_goes_ahead_still_says_so(client, superuser, make_batch):
    batch = make_batch(1)
    client.force_login(superuser)
    response = client.post(reverse("admin:boards_batch_delete", args=[batch.pk]), {"post": "yes"}, follow=True)
    assert [level for level, _ in texts(response)] == ["success"]
    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert LogEntry.objects.filter(action_flag=DELETION, object_id=str(batch.pk)).count() == 1


def test_the_bulk_delete_counts_only_the_batches_it_deleted(client, superuser, assigned, make_batch):
    gone = make_batch(1)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:boards_batch_changelist"),
        {"action": "delete_selected", "_selected_action": [assigned.pk, gone.pk], "post": "yes"},
        follow=True,
    )
    shown = texts(response)
    assert [level for level, _ in shown] == ["error", "success"]
    assert shown[1][1] == "Deleted 1 batch."
    assert "Successfully" not in " ".join(text for _, text in shown)
    assert Batch.objects.filter(pk=assigned.pk).exists() and not Batch.objects.filter(pk=gone.pk).exists()
    assert list(LogEntry.objects.filter(action_flag=DELETION).values_list("object_id", flat=True)) == [str(gone.pk)]


def test_a_bulk_delete_all_refused_shows_no_success(client, superuser, assigned):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:boards_batch_changelist"),
        {"action": "delete_selected", "_selected_action": [assigned.pk], "post": "yes"},
        follow=True,
    )
    assert [level for level, _ in texts(response)] == ["error"]


def test_a_superuser_outside_the_workspace_sees_thumbnails(client, superuser, make_batch):
    image = make_batch(1).images.get()
    client.force_login(superuser)
    for kind in ("thumb", "original"):
        assert client.get(reverse("image-file", args=[image.pk, kind])).status_code == 200


def test_staff_outside_the_workspace_still_get_404_for_images(client, staff, make_batch):
    image = make_batch(1).images.get()
    client.force_login(staff)
    assert client.get(reverse("admin:boards_batch_change", args=[image.batch_id])).status_code == 200
    for kind in ("thumb", "original"):
        assert client.get(reverse("image-file", args=[image.pk, kind])).status_code == 404


def test_outsiders_still_get_404_for_images(client, outsider, make_batch):
    image = make_batch(1).images.get()
    client.force_login(outsider)
    assert client.get(reverse("image-file", args=[image.pk, "thumb"])).status_code == 404


# --- boxes changed in the admin keep the cards' stored counts right ------------------------
# (the autouse check in tests/conftest.py compares every stored count with the images)


@pytest.fixture
def prelabeled(make_batch, manager, labeler, project):
    from boards.formats.box import Box
    from boards.models import LabelClass

    LabelClass.objects.create(project=project, name="car")
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    for image in Batch.objects.get(pk=batch.pk).images.all():
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    services.move_to_unassigned(batch=Batch.objects.get(pk=batch.pk), actor=manager, keep_annotations=True)
    batch = Batch.objects.get(pk=batch.pk)
    assert (batch.counts_stored, batch.n_prelabeled) == (True, 2)
    return batch


def stored_prelabeled(batch) -> int | None:
    batch = Batch.objects.get(pk=batch.pk)
    return batch.n_prelabeled if batch.counts_stored else None


def test_deleting_a_box_in_the_admin_recounts_its_card(client, superuser, prelabeled):
    from boards.models import Annotation

    client.force_login(superuser)
    box = Annotation.objects.filter(image__placement__batch=prelabeled).first()
    response = client.post(reverse("admin:boards_annotation_delete", args=[box.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert stored_prelabeled(prelabeled) in (1, None)


def test_deleting_a_class_in_the_admin_recounts_the_cards_of_its_boxes(client, superuser, prelabeled):
    from boards.models import LabelClass

    client.force_login(superuser)
    car = LabelClass.objects.get(name="car")
    response = client.post(reverse("admin:boards_labelclass_delete", args=[car.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert stored_prelabeled(prelabeled) in (0, None)


@pytest.fixture
def locks(monkeypatch):
    """Each ``services.lock_batches`` call the admin makes: the batches, and their boxes and images
    at that moment (before the admin changed them)."""
    from boards.models import Annotation, Image

    seen = []
    real = services.lock_batches

    def lock(ids):
        ids = set(ids)
        boxes = Annotation.objects.filter(image__placement__batch__in=ids).count()
        seen.append((ids, boxes, Image.objects.filter(placement__batch__in=ids).count()))
        return real(ids)

    monkeypatch.setattr(services, "lock_batches", lock)
    return seen


def test_the_admin_locks_the_batches_before_it_changes_their_boxes_or_images(client, superuser, prelabeled, locks):
    """As the services do: an autosave of the same batch at that moment (which moves the stored
    counts by its one image) waits for the admin's recount, or the recount for it."""
    from boards.models import Annotation, Image, LabelClass

    client.force_login(superuser)
    box = Annotation.objects.filter(image__placement__batch=prelabeled).order_by("pk").first()
    url = reverse("admin:boards_annotation_change", args=[box.pk])
    data = {"image": box.image_id, "label": box.label_id, "x": 2, "y": 2, "width": 5, "height": 5}
    data["created_at_0"], data["created_at_1"] = "2026-01-02", "10:00:00"
    assert client.post(url, data).status_code == 302
    assert locks.pop() == ({prelabeled.pk}, 2, 2)
    assert client.post(reverse("admin:boards_annotation_delete", args=[box.pk]), {"post": "yes"}).status_code == 302
    assert locks.pop() == ({prelabeled.pk}, 2, 2)  # the box still there when its batch was locked
    car = LabelClass.objects.get(name="car")
    assert client.post(reverse("admin:boards_labelclass_delete", args=[car.pk]), {"post": "yes"}).status_code == 302
    assert locks.pop() == ({prelabeled.pk}, 1, 2)
    image = Image.objects.filter(placement__batch=prelabeled).first()
    assert client.post(reverse("admin:boards_image_delete", args=[image.pk]), {"post": "yes"}).status_code == 302
    assert locks.pop() == ({prelabeled.pk}, 0, 2)
    assert stored_prelabeled(prelabeled) == 0
