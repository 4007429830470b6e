"""Label classes and the review switch: the services and the project settings page."""

import pytest
from django.urls import reverse

from boards import services
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, Image, LabelClass, Project
from core.errors import ConcurrentChange, InvalidInput, NotAllowed, WrongState
from tests.factories import set_images

pytestmark = pytest.mark.django_db

MANAGERS = ["owner", "manager"]
OTHERS = ["reviewer", "labeler", "viewer"]


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)


@pytest.fixture
def person(project):
    return LabelClass.objects.create(project=project, name="person", color="#16a34a", hotkey=2)


def settings_url(project):
    return reverse("project-settings", args=[project.workspace.slug, project.slug])


def add_url(project):
    return reverse("label-add", args=[project.workspace.slug, project.slug])


def update_url(label):
    return reverse("label-update", args=[label.project.workspace.slug, label.project.slug, label.pk])


def delete_url(label):
    return reverse("label-delete", args=[label.project.workspace.slug, label.project.slug, label.pk])


# --- services ----------------------------------------------------------------------


@pytest.mark.parametrize("who", MANAGERS)
def test_managers_and_owners_add_a_class(who, personas, project):
    label = services.create_label_class(
        project=project, actor=personas[who], name="  bicycle ", color="#AABBCC", hotkey=4
    )
    assert (label.name, label.color, label.hotkey) == ("bicycle", "#aabbcc", 4)


@pytest.mark.parametrize("who", [*OTHERS, "outsider"])
def test_other_roles_may_not_add_a_class(who, personas, project):
    with pytest.raises(NotAllowed, match="managers and owners"):
        services.create_label_class(project=project, actor=personas[who], name="bicycle")
    assert not LabelClass.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  "}, "needs a name"),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"name": "CAR"}, "already a class “car”"),
        ({"name": "bus", "color": "red"}, "not a colour"),
        ({"name": "bus", "color": "#12345"}, "not a colour"),
        ({"name": "bus", "hotkey": 0}, "digit from 1 to 9"),
        ({"name": "bus", "hotkey": 10}, "digit from 1 to 9"),
        ({"name": "bus", "hotkey": "x"}, "digit from 1 to 9"),
        ({"name": "bus", "hotkey": 1}, "Hotkey 1 already belongs to “car”"),
    ],
)
def test_a_bad_class_is_refused_with_a_reason(kwargs, message, manager, project, car):
    with pytest.raises(InvalidInput, match=message):
        services.create_label_class(project=project, actor=manager, **kwargs)
    assert list(LabelClass.objects.values_list("name", flat=True)) == ["car"]


def test_the_same_name_or_hotkey_is_fine_in_another_project(manager, project, car, workspace):
    other = Project.objects.create(workspace=workspace, name="Other", slug="other")
    label = services.create_label_class(project=other, actor=manager, name="car", hotkey=1)
    assert label.project == other


def test_renaming_a_class_keeps_its_boxes(manager, labeler, project, car, make_batch):
    batch = make_batch(1)
    image = batch.images.get()
    services.save_annotations(image=image, actor=manager, boxes=[Box("car", 1, 1, 5, 5)])
    services.update_label_class(label=car, actor=manager, name="automobile")
    assert Annotation.objects.get(image=image).label.name == "automobile"


def test_update_changes_only_what_it_is_given(manager, car):
    services.update_label_class(label=car, actor=manager, color="#000000")
    car.refresh_from_db()
    assert (car.name, car.color, car.hotkey) == ("car", "#000000", 1)
    services.update_label_class(label=car, actor=manager, hotkey=None)
    car.refresh_from_db()
    assert (car.name, car.color, car.hotkey) == ("car", "#000000", None)


def test_a_hotkey_moves_only_once_freed(manager, car, person):
    with pytest.raises(InvalidInput, match="Hotkey 1 already belongs to “car”"):
        services.update_label_class(label=person, actor=manager, hotkey=1)
    services.update_label_class(label=car, actor=manager, hotkey=None)
    services.update_label_class(label=person, actor=manager, hotkey=1)
    assert LabelClass.objects.get(hotkey=1) == person
    # A class keeps its own hotkey and name when saved unchanged.
    services.update_label_class(label=person, actor=manager, name="person", hotkey=1)


def test_renaming_onto_another_class_is_refused(manager, car, person):
    with pytest.raises(InvalidInput, match="already a class “car”"):
        services.update_label_class(label=person, actor=manager, name="Car")
    person.refresh_from_db()
    assert person.name == "person"


@pytest.mark.parametrize("who", [*OTHERS, "outsider"])
def test_other_roles_may_not_change_or_delete_a_class(who, personas, car):
    with pytest.raises(NotAllowed):
        services.update_label_class(label=car, actor=personas[who], name="bus")
    with pytest.raises(NotAllowed):
        services.delete_label_class(label=car, actor=personas[who])
    car.refresh_from_db()
    assert car.name == "car"


def test_deleting_a_class_deletes_its_boxes_and_says_how_many(manager, labeler, project, car, person, make_batch):
    batch = make_batch(3)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    only_cars, mixed, untouched = Image.objects.filter(placement__batch=batch).order_by("pk")
    services.save_annotations(image=only_cars, actor=labeler, boxes=[Box("car", 1, 1, 5, 5), Box("car", 9, 9, 5, 5)])
    services.save_annotations(image=mixed, actor=labeler, boxes=[Box("car", 1, 1, 5, 5), Box("person", 2, 2, 5, 5)])
    services.save_annotations(image=untouched, actor=labeler, boxes=[Box("person", 1, 1, 5, 5)])

    result = services.delete_label_class(label=car, actor=manager)

    assert (result.name, result.boxes, result.images, result.reopened) == ("car", 3, 2, 1)
    assert not LabelClass.objects.filter(name="car").exists()
    states = dict(Image.objects.filter(placement__batch=batch).values_list("pk", "annotation_state"))
    assert states == {
        only_cars.pk: AnnotationState.UNANNOTATED,
        mixed.pk: AnnotationState.ANNOTATED,
        untouched.pk: AnnotationState.ANNOTATED,
    }
    versions = dict(Image.objects.filter(placement__batch=batch).values_list("pk", "annotation_version"))
    # An editor open on a changed image gets a 409 and reloads.
    assert versions == {only_cars.pk: 2, mixed.pk: 2, untouched.pk: 1}


def test_deleting_a_class_leaves_reviewed_images_in_their_state(manager, labeler, project, car, make_batch):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    image = batch.images.get()
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    result = services.delete_label_class(label=car, actor=manager)
    assert (result.boxes, result.reopened) == (1, 0)
    assert Image.objects.get(pk=image.pk).annotation_state == AnnotationState.ANNOTATED


def test_a_class_deleted_meanwhile_is_a_concurrent_change(manager, car):
    stale = LabelClass.objects.get(pk=car.pk)
    services.delete_label_class(label=car, actor=manager)
    with pytest.raises(ConcurrentChange, match="no longer exists"):
        services.update_label_class(label=stale, actor=manager, name="bus")
    with pytest.raises(ConcurrentChange, match="no longer exists"):
        services.delete_label_class(label=stale, actor=manager)


@pytest.mark.parametrize("who", MANAGERS)
def test_managers_switch_review_off_and_on(who, personas, project):
    assert services.set_review_mode(project=project, actor=personas[who], review_mode=False).review_mode is False
    assert Project.objects.get(pk=project.pk).review_mode is False
    assert services.set_review_mode(project=project, actor=personas[who], review_mode=True).review_mode is True


@pytest.mark.parametrize("who", [*OTHERS, "outsider"])
def test_other_roles_may_not_switch_review(who, personas, project):
    with pytest.raises(NotAllowed):
        services.set_review_mode(project=project, actor=personas[who], review_mode=False)
    assert Project.objects.get(pk=project.pk).review_mode is True


def test_review_stays_on_while_batches_wait_in_review(manager, labeler, project, make_batch):
    batch = make_batch(1)
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    with pytest.raises(WrongState, match="1 batch is waiting in Review"):
        services.set_review_mode(project=project, actor=manager, review_mode=False)
    assert Project.objects.get(pk=project.pk).review_mode is True


def test_without_review_a_submitted_batch_goes_to_dataset(manager, labeler, project, make_batch):
    services.set_review_mode(project=project, actor=manager, review_mode=False)
    batch = make_batch(1)
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    assert services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler).status == BatchStatus.DATASET


# --- the settings page ----------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("manager", 200), *[(w, 403) for w in OTHERS]])
def test_the_settings_page_is_for_managers_and_owners(who, status, personas, client, project, car):
    client.force_login(personas[who])
    response = client.get(settings_url(project))
    assert response.status_code == status
    if status == 200:
        assert b"Label classes" in response.content and b'value="car"' in response.content


def test_the_settings_page_is_404_outside_the_workspace(client, outsider, project):
    client.force_login(outsider)
    assert client.get(settings_url(project)).status_code == 404


def test_the_board_links_to_settings_only_for_managers(client, manager, labeler, project):
    client.force_login(manager)
    assert settings_url(project).encode() in client.get(reverse("board", args=["acme", "parcels"])).content
    client.force_login(labeler)
    assert settings_url(project).encode() not in client.get(reverse("board", args=["acme", "parcels"])).content


def test_the_settings_page_counts_each_classes_boxes(client, manager, project, car, make_batch):
    image = make_batch(1).images.get()
    services.save_annotations(image=image, actor=manager, boxes=[Box("car", 1, 1, 5, 5), Box("car", 2, 2, 5, 5)])
    client.force_login(manager)
    response = client.get(settings_url(project))
    assert "Its 2 boxes on 1 image go with it, for good." in response.content.decode()
    assert "Delete “car” and 2 boxes" in response.content.decode()


def test_a_manager_adds_a_class_from_the_page(client, manager, project, car):
    client.force_login(manager)
    response = client.post(add_url(project), {"name": "bus", "color": "#123456", "hotkey": "3"}, follow=True)
    assert response.redirect_chain[-1][0] == settings_url(project)
    assert "Added the class “bus”." in response.content.decode()
    assert LabelClass.objects.filter(project=project, name="bus", color="#123456", hotkey=3).exists()


def test_a_refused_class_keeps_what_was_typed_and_says_why(client, manager, project, car):
    client.force_login(manager)
    response = client.post(add_url(project), {"name": "bus", "color": "#123456", "hotkey": "1"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Hotkey 1 already belongs to “car”; clear it there first." in body
    assert 'value="bus"' in body and 'value="#123456"' in body
    assert not LabelClass.objects.filter(name="bus").exists()


def test_the_page_offers_a_free_hotkey_and_colour_for_the_next_class(client, manager, project, car):
    client.force_login(manager)
    new = client.get(settings_url(project)).context["new"]
    assert new["hotkey"] == "2" and new["color"] != car.color


def test_a_manager_renames_recolours_and_rekeys_a_class(client, manager, project, car):
    client.force_login(manager)
    response = client.post(update_url(car), {"name": "auto", "color": "#00ff00", "hotkey": ""}, follow=True)
    assert "Renamed “car” to “auto”; its boxes kept their class." in response.content.decode()
    car.refresh_from_db()
    assert (car.name, car.color, car.hotkey) == ("auto", "#00ff00", None)


def test_a_refused_change_shows_on_its_row(client, manager, project, car, person):
    client.force_login(manager)
    response = client.post(update_url(person), {"name": "person", "color": "#16a34a", "hotkey": "1"})
    assert response.status_code == 400
    row = next(label for label in response.context["labels"] if label.pk == person.pk)
    assert row.error == "Hotkey 1 already belongs to “car”; clear it there first." and row.form_hotkey == "1"
    person.refresh_from_db()
    assert person.hotkey == 2


def test_deleting_from_the_page_needs_a_confirmation(client, manager, project, car):
    client.force_login(manager)
    response = client.post(delete_url(car))
    assert response.status_code == 400 and LabelClass.objects.filter(pk=car.pk).exists()
    response = client.post(delete_url(car), {"confirm": "yes"}, follow=True)
    assert "Deleted the class “car” and its 0 boxes." in response.content.decode()
    assert not LabelClass.objects.filter(pk=car.pk).exists()


@pytest.mark.parametrize("who", OTHERS)
def test_other_roles_cannot_post_to_the_settings(who, personas, client, project, car):
    client.force_login(personas[who])
    assert client.post(add_url(project), {"name": "bus"}).status_code == 403
    assert client.post(update_url(car), {"name": "bus"}).status_code == 403
    assert client.post(delete_url(car), {"confirm": "yes"}).status_code == 403
    assert client.post(settings_url(project), {}).status_code == 403
    assert list(LabelClass.objects.values_list("name", flat=True)) == ["car"]
    assert Project.objects.get(pk=project.pk).review_mode is True


def test_a_class_of_another_project_is_404(client, manager, project, workspace):
    other = Project.objects.create(workspace=workspace, name="Other", slug="other")
    theirs = LabelClass.objects.create(project=other, name="tree")
    client.force_login(manager)
    url = reverse("label-update", args=["acme", "parcels", theirs.pk])
    assert client.post(url, {"name": "bush"}).status_code == 404


def test_the_review_switch_on_the_page(client, manager, project):
    client.force_login(manager)
    response = client.post(settings_url(project), {}, follow=True)
    assert "Review is off: submitted batches go straight to Dataset." in response.content.decode()
    assert Project.objects.get(pk=project.pk).review_mode is False
    response = client.post(settings_url(project), {"review_mode": "on"}, follow=True)
    assert "Review is on" in response.content.decode()
    assert Project.objects.get(pk=project.pk).review_mode is True


def test_the_review_switch_refused_says_why(client, manager, labeler, project, make_batch):
    batch = make_batch(1)
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    client.force_login(manager)
    response = client.post(settings_url(project), {})
    assert response.status_code == 409
    assert "1 batch is waiting in Review" in response.content.decode()


def test_the_admin_refuses_a_hotkey_taken_in_the_project(client, project, car):
    from accounts.models import User

    client.force_login(User.objects.create_superuser("admin@acme.test", "pw"))
    response = client.post(
        reverse("admin:boards_labelclass_add"), {"project": project.pk, "name": "bus", "color": "#000000", "hotkey": 1}
    )
    assert response.status_code == 200
    assert "Another class of this project already has this hotkey." in response.content.decode()
    assert not LabelClass.objects.filter(name="bus").exists()
