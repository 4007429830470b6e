"""Labelers pulling from one label queue at the same moment, with real transactions on PostgreSQL."""

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from boards import services
from boards.models import CARD_COUNTS, Batch, BatchEvent, BatchStatus, EventKind, QueueEntry, count_card_images
from tests.factories import MembershipFactory, UserFactory
from tests.test_concurrency import ROUNDS, _batch, _logged_in, _no_server_errors, _race, racing

LABELERS = 12
BACK = {"from": "annotating", "to": "unassigned", "keep_annotations": "0"}


def _labelers(workspace, n):
    return [
        MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory(email=f"puller{i}@acme.test")).user
        for i in range(n)
    ]


def _queue(project, n, *, manager, **kwargs):
    batch = _batch(project, n, **kwargs)
    services.assign(batch=batch, actor=manager, labeler=None, queue=True)
    return Batch.objects.get(pk=batch.pk)


def _served(response) -> int | None:
    """The image id a Start labeling answer sends its labeler to."""
    location = response.get("Location", "")
    return int(location.rstrip("/").rsplit("/", 1)[1]) if "/annotate/" in location else None


@racing
def test_it_never_gives_two_labelers_the_same_image(project, manager):
    people = _labelers(project.workspace, LABELERS)
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        QueueEntry.objects.all().delete()
        Batch.objects.filter(project=project).delete()
        _queue(project, LABELERS * 2, manager=manager, priority=1 + round_ % 5)
        clients = [_logged_in(user) for user in people]
        responses = _race(*[lambda c=c: c.post(url) for c in clients])
        _no_server_errors([r.status_code for r in responses], ok={302})
        served = [_served(r) for r in responses]
        assert None not in served, f"round {round_}: a labeler was served nothing while images waited"
        assert len(set(served)) == LABELERS, f"round {round_}: one image served twice: {sorted(served)}"
        holders = dict(QueueEntry.objects.filter(reserved_by__isnull=False).values_list("image_id", "reserved_by_id"))
        assert holders == {image: user.pk for image, user in zip(served, people, strict=True)}


@racing
def test_it_serves_the_last_images_once_when_more_labelers_ask(project, manager):
    people = _labelers(project.workspace, LABELERS)
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        QueueEntry.objects.all().delete()
        Batch.objects.filter(project=project).delete()
        _queue(project, 3, manager=manager)
        responses = _race(*[lambda u=u: _logged_in(u).post(url) for u in people])
        _no_server_errors([r.status_code for r in responses], ok={302})
        served = [pk for pk in map(_served, responses) if pk is not None]
        assert len(served) == 3 == len(set(served)), f"round {round_}: {served}"


@racing
def test_it_submits_a_queue_batch_once_when_its_last_images_are_finished_together(project, manager):
    people = _labelers(project.workspace, 4)
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        batch = _queue(project, 4, manager=manager)
        clients = [_logged_in(user) for user in people]
        served = [_served(c.post(url)) for c in clients]
        for client, image_id in zip(clients, served, strict=True):
            save_url = reverse("annotate-save", args=[project.workspace.slug, project.slug, batch.pk, image_id])
            body = json.dumps({"version": 0, "boxes": [], "empty": True})
            assert client.post(save_url, body, content_type="application/json").status_code == 200
        # Everyone presses "Next image" on their finished image at once.
        jobs = [lambda c=c, pk=pk: c.post(url, {"current": pk}) for c, pk in zip(clients, served, strict=True)]
        responses = _race(*jobs)
        _no_server_errors([r.status_code for r in responses], ok={302})
        batch.refresh_from_db()
        assert batch.status == BatchStatus.REVIEW, f"round {round_}"
        assert BatchEvent.objects.filter(batch=batch, kind=EventKind.SUBMITTED).count() == 1
        assert not QueueEntry.objects.filter(batch=batch).exists()


@racing
def test_it_leaves_no_reservation_behind_when_the_batch_moves_back_while_labelers_pull(project, manager):
    people = _labelers(project.workspace, 6)
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        batch = _queue(project, 20, manager=manager)
        move = reverse("move", args=[project.workspace.slug, project.slug, batch.pk])
        boss = _logged_in(manager)
        jobs = [lambda u=u: _logged_in(u).post(url) for u in people]
        jobs.append(lambda boss=boss, move=move: boss.post(move, BACK))
        responses = _race(*jobs)
        _no_server_errors([r.status_code for r in responses], ok={200, 302})
        batch.refresh_from_db()
        assert batch.status == BatchStatus.UNASSIGNED, f"round {round_}"
        assert not QueueEntry.objects.filter(batch=batch).exists(), f"round {round_}: entries outlived the move"
        Batch.objects.filter(pk=batch.pk).delete()


@racing
def test_expired_reservations_go_to_one_labeler_each_when_many_take_them_at_once(project, manager):
    """Every image is held by someone whose reservations expired: the others, pulling at once, each
    take a different one of them (the reservation's candidate that is up for grabs, then its taking)."""
    people = _labelers(project.workspace, LABELERS + 1)
    away, pullers = people[0], people[1:]
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        QueueEntry.objects.all().delete()
        Batch.objects.filter(project=project).delete()
        _queue(project, LABELERS, manager=manager)
        long_ago = timezone.now() - timedelta(minutes=project.reservation_minutes + 5)
        QueueEntry.objects.update(reserved_by=away, reserved_at=long_ago)
        responses = _race(*[lambda u=u: _logged_in(u).post(url) for u in pullers])
        _no_server_errors([r.status_code for r in responses], ok={302})
        served = [_served(r) for r in responses]
        assert None not in served and len(set(served)) == LABELERS, f"round {round_}: {sorted(map(str, served))}"
        holders = dict(QueueEntry.objects.values_list("image_id", "reserved_by_id"))
        assert holders == {image: user.pk for image, user in zip(served, pullers, strict=True)}


@racing
def test_it_keeps_one_labeler_within_the_cap_across_tabs(project, manager, labeler):
    project.reservation_cap = 1
    project.save()
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        batch = _queue(project, 8, manager=manager)
        tabs = [_logged_in(labeler) for _ in range(4)]
        responses = _race(*[lambda c=c: c.post(url) for c in tabs])
        _no_server_errors([r.status_code for r in responses], ok={302})
        held = QueueEntry.objects.filter(reserved_by=labeler).count()
        assert held == 1, f"round {round_}: one labeler holds {held} images with a cap of 1"
        assert len({_served(r) for r in responses}) == 1
        QueueEntry.objects.filter(batch=batch).delete()
        Batch.objects.filter(pk=batch.pk).delete()


@racing
def test_saves_of_one_batchs_images_at_once_leave_its_counts_true(project, manager):
    """Each save moves the batch's stored counts by its own image, from the batch's row it locked:
    saves at once of different images, some changing the image's state and some not, add up."""
    people = _labelers(project.workspace, 6)
    url = reverse("project-start-labeling", args=[project.workspace.slug, project.slug])
    for round_ in range(ROUNDS):
        batch = _queue(project, 12, manager=manager)
        clients = [_logged_in(user) for user in people]
        served = [_served(c.post(url)) for c in clients]
        save = [
            reverse("annotate-save", args=[project.workspace.slug, project.slug, batch.pk, image_id])
            for image_id in served
        ]
        body = json.dumps({"version": 0, "boxes": [], "empty": True})
        for client, target in list(zip(clients, save, strict=True))[:3]:  # half saved once already
            assert client.post(target, body, content_type="application/json").status_code == 200
        versions = [1, 1, 1, 0, 0, 0]
        jobs = [
            lambda c=c, t=t, v=v: c.post(
                t, json.dumps({"version": v, "boxes": [], "empty": v == 0}), "application/json"
            )
            for c, t, v in zip(clients, save, versions, strict=True)
        ]
        responses = _race(*jobs)
        _no_server_errors([r.status_code for r in responses], ok={200})
        batch.refresh_from_db()
        assert batch.counts_stored, f"round {round_}"
        stored = tuple(getattr(batch, name) for name in CARD_COUNTS)
        assert stored == count_card_images([batch.pk])[batch.pk] == (12, 3, 0, 0), f"round {round_}"
        QueueEntry.objects.filter(batch=batch).delete()
        Batch.objects.filter(pk=batch.pk).delete()
