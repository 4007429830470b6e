"""Races between people working on the same batches, with real transactions on PostgreSQL.

Each race starts its requests in threads released together by a barrier, each
thread with its own test client (and so its own database connection), and runs
for several rounds. After every round: no image lost or doubled, every batch's
stored card counts equal its images, no answer 5xx and no refusal other than
409 (someone else changed it) or 404 (someone else deleted it).
"""

import threading
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import connections
from django.db.models import F
from django.test import Client
from django.urls import reverse

from boards import services
from boards.models import (
    CARD_COUNTS,
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    ReviewState,
    count_card_images,
)
from core.errors import ConcurrentChange, NotFound
from tests.api_support import Api
from tests.factories import BatchFactory, ImageFactory, set_images

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = pytest.mark.django_db

_only_on_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="SQLite runs one writing transaction at a time (BEGIN IMMEDIATE), so these races cannot happen "
    "there, and its shared in-memory test database refuses concurrent threads instead of making them wait; "
    "CI runs them on PostgreSQL",
)


def racing(test):
    """A race: real transactions (each thread commits its own), on PostgreSQL only."""
    return pytest.mark.django_db(transaction=True)(_only_on_postgres(test))


ROUNDS = 6
HTMX = {"HX-Request": "true"}
REFUSALS = {404, 409}


def _race(*jobs):
    """Run each job in its own thread, all released at once; what each returned (or raised), in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing request never finished"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _statuses(results) -> list[int]:
    return [status for result in results for status in (result if isinstance(result, list) else [result])]


def _no_server_errors(statuses, *, ok) -> None:
    assert all(s < 500 for s in statuses), f"server errors among {statuses}"
    unexpected = [s for s in statuses if s not in ok and s not in REFUSALS]
    assert not unexpected, f"refusals other than 404/409 among {statuses}"


def _assert_board_holds(project, images_before: set[int]) -> None:
    """No image lost or doubled, each in one batch, and every batch's stored counts equal its images."""
    rows = list(
        Image.objects.filter(project=project).values_list("pk", "sha256", "placement__batch_id", "free__project_id")
    )
    assert {pk for pk, _, _, _ in rows} == images_before
    assert len({sha for _, sha, _, _ in rows}) == len(rows)
    assert all((free is None) == (batch_id is not None) for _, _, batch_id, free in rows), (
        "an image has both a placement and a free row, or neither"
    )
    batches = {b.pk: b for b in Batch.objects.filter(project=project)}
    assert {batch_id for _, _, batch_id, _ in rows} - {None} <= set(batches)
    live = count_card_images(list(batches))
    none = (0,) * len(CARD_COUNTS)
    stored = {pk: tuple(getattr(b, f) for f in CARD_COUNTS) for pk, b in batches.items() if b.counts_stored}
    wrong = {pk: (n, live.get(pk, none)) for pk, n in stored.items() if n != live.get(pk, none)}
    assert not wrong, f"stored card counts {tuple(CARD_COUNTS)} differ from the images: {wrong}"
    assert not Batch.objects.filter(project=project).exclude(counted_at=F("updated_at")).exists(), (
        "a batch changed without its card counts stored"
    )


def _image_ids(project) -> set[int]:
    return set(Image.objects.filter(project=project).values_list("pk", flat=True))


def _batch(project, n, **kwargs):
    batch = BatchFactory(project=project, **kwargs)
    for _ in range(n):
        ImageFactory(project=project, batch=batch)
    services.mark_changed(batch)
    return batch


def _annotating(project, n, *, manager, labeler, reviewer=None):
    batch = _batch(project, n)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    return Batch.objects.get(pk=batch.pk)


def _logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _api(key) -> Api:
    return Api(Client(raise_request_exception=False), key)


def _posting(client, url, data, **kwargs):
    """A racing request: post ``data`` to ``url``, return the status."""
    return lambda: client.post(url, data, **kwargs).status_code


def _move(api, batch, **body):
    """A move as the board sends it: from the column the card was seen in."""
    body["from"] = batch.status
    return _posting(api, f"/acme/parcels/batches/{batch.pk}/move", body)


def _deciding(client, url, decisions):
    """A reviewer deciding images one after another: the statuses."""
    return lambda: [
        client.post(url, {"image": pk, "decision": decision, "comment": "blurred"}, headers=HTMX).status_code
        for pk, decision in decisions
    ]


def _uploading(api, file, batch_name):
    return lambda: api.upload("parcels", file, params={"batch": batch_name}).status_code


# --- card moves ---------------------------------------------------------------------


@racing
def test_it_keeps_every_image_when_moves_of_one_card_race(project, manager, labeler, make_key):
    key = make_key(manager)
    for _round in range(ROUNDS):
        fresh = _batch(project, 6)
        annotating = _annotating(project, 4, manager=manager, labeler=labeler)
        before = _image_ids(project)
        first_three = sorted(fresh.images.values_list("pk", flat=True))[:3]
        results = _race(
            _move(_api(key), fresh, to="annotating", labelerEmail=labeler.email, images=first_three),
            _move(_api(key), fresh, to="annotating", labelerEmail=labeler.email),
            _move(_api(key), fresh, to="archived"),
            _move(_api(key), annotating, to="review"),
            _move(_api(key), annotating, to="unassigned", keepAnnotations=True),
            _move(_api(key), annotating, to="unassigned", keepAnnotations=False),
        )
        _no_server_errors(results, ok={200})
        assert results[:3].count(200) == 1 and results[3:].count(200) == 1, results
        _assert_board_holds(project, before)
        if Batch.objects.get(pk=fresh.pk).status == BatchStatus.ARCHIVED:
            assert Image.objects.filter(archived_from=fresh, free__isnull=False).count() == 6
        else:
            assert not Image.objects.filter(pk__in=before, free__isnull=False).exclude(archived_from__isnull=False)


@racing
def test_it_lets_one_of_two_assigns_of_a_batch_win(project, manager, labeler, make_key):
    key = make_key(manager)
    for _round in range(ROUNDS):
        batch = _batch(project, 8)
        before = _image_ids(project)
        jobs = [{"batch": batch.pk, "labelerEmail": labeler.email, "num_images": n} for n in (3, 5)]
        results = _race(*(_posting(_api(key), "/acme/parcels/jobs", job) for job in jobs))
        _no_server_errors(results, ok={200})
        assert sorted(results) == [200, 409], results
        won = 3 if results[0] == 200 else 5
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ANNOTATING and batch.images.count() == won
        rest = Batch.objects.get(split_from=batch)
        assert rest.status == BatchStatus.UNASSIGNED and rest.images.count() == 8 - won
        _assert_board_holds(project, before)


# --- review -------------------------------------------------------------------------


@racing
def test_it_serialises_decisions_and_finishes_of_one_review(project, manager, labeler, reviewer):
    """Three reviewers decide images while two others finish the same review."""
    for round_ in range(ROUNDS):
        batch = services.submit(
            batch=_annotating(project, 9, manager=manager, labeler=labeler, reviewer=reviewer), actor=labeler
        )
        ids = sorted(batch.images.values_list("pk", flat=True))
        # Every image decided already (a third rejected), so either finish may end the review.
        set_images(batch.images.filter(pk__in=ids[::3]), review_state=ReviewState.REJECTED)
        set_images(batch.images.exclude(pk__in=ids[::3]), review_state=ReviewState.APPROVED)
        before = _image_ids(project)
        decide_url = reverse("review-decide", args=["acme", "parcels", batch.pk])
        finish_url = reverse("review-finish", args=["acme", "parcels", batch.pk])
        decisions = [(pk, "reject" if (pk + round_) % 4 == 0 else "approve") for pk in ids]
        results = _race(
            _deciding(_logged_in(reviewer), decide_url, decisions[0:3]),
            _deciding(_logged_in(reviewer), decide_url, decisions[3:6]),
            _deciding(_logged_in(reviewer), decide_url, decisions[6:9]),
            _posting(_logged_in(reviewer), finish_url, {}),
            _posting(_logged_in(manager), finish_url, {"all": "approve"} if round_ % 2 else {}),
        )
        _no_server_errors(_statuses(results), ok={200, 302})
        assert sorted(results[3:]) == [302, 409], results[3:]
        batch.refresh_from_db()
        assert batch.status == BatchStatus.DATASET or batch.status == BatchStatus.ANNOTATING
        states = dict(batch.images.values_list("pk", "review_state"))
        for back in Batch.objects.filter(split_from=batch):
            assert back.status == BatchStatus.ANNOTATING
            assert set(back.images.values_list("review_state", flat=True)) == {ReviewState.REJECTED}
        if batch.status == BatchStatus.DATASET:
            assert set(states.values()) == {ReviewState.APPROVED}
        _assert_board_holds(project, before)


# --- uploads by name ------------------------------------------------------------------


@racing
def test_it_makes_one_batch_of_concurrent_uploads_with_one_name(project, manager, labeler, make_key, image_file):
    key = make_key(manager)
    for round_ in range(ROUNDS):
        name = f"Drone run {round_}"
        frames = [image_file(f"frame{n:03}.jpg", color=(round_ * 20, n * 10, 7)) for n in range(20)]
        results = _race(*(_uploading(_api(key), frame, name) for frame in frames[:10]))
        assert results == [200] * 10, results
        batches = list(Batch.objects.filter(project=project, upload_name=name))
        assert [(b.name, b.images.count(), b.n_images) for b in batches] == [(name, 10, 10)]
        _assert_board_holds(project, _image_ids(project))

        # Once that batch has moved on, the name starts one new batch, whatever the race.
        services.assign(batch=batches[0], actor=manager, labeler=labeler)
        results = _race(*(_uploading(_api(key), frame, name) for frame in frames[10:]))
        assert results == [200] * 10, results
        new = list(Batch.objects.filter(project=project, upload_name=name, status=BatchStatus.UNASSIGNED))
        assert [(b.name, b.images.count(), b.n_images) for b in new] == [(f"{name} (2)", 10, 10)]
        _assert_board_holds(project, _image_ids(project))


# --- priority against delete -----------------------------------------------------------


@racing
def test_it_answers_404_or_409_when_a_priority_change_races_a_delete(project, manager):
    for _round in range(ROUNDS * 2):
        batch = _batch(project, 3)
        keep = _batch(project, 2)
        before = _image_ids(project) - set(batch.images.values_list("pk", flat=True))
        priority_url = reverse("priority", args=["acme", "parcels", batch.pk])
        move_url = reverse("move", args=["acme", "parcels", batch.pk])
        delete = {"to": "delete", "from": "unassigned", "confirm": "yes"}
        results = _race(
            _posting(_logged_in(manager), priority_url, {"priority": 1}, headers=HTMX),
            _posting(_logged_in(manager), priority_url, {"priority": 5}, headers=HTMX),
            _posting(_logged_in(manager), move_url, delete, headers=HTMX),
            _posting(_logged_in(manager), priority_url, {"priority": 2}, headers=HTMX),
        )
        _no_server_errors(results, ok={200, 204})
        assert results[2] == 200, results
        assert not Batch.objects.filter(pk=batch.pk).exists()
        assert Batch.objects.get(pk=keep.pk).images.count() == 2
        _assert_board_holds(project, before)


# --- the losing side of a race, one step at a time (every database) ----------------------


def test_a_priority_change_of_a_batch_deleted_meanwhile_is_a_conflict(make_batch, manager):
    batch = make_batch(2)
    seen = Batch.objects.get(pk=batch.pk)
    services.delete_batch(batch=batch, actor=manager)
    with pytest.raises(ConcurrentChange, match="someone deleted it"):
        services.set_priority(batch=seen, actor=manager, priority=1)


def test_a_decision_on_an_image_deleted_meanwhile_is_not_found(make_batch, manager, reviewer):
    batch = make_batch(2)
    seen = batch.images.first()
    services.delete_images(project=batch.project, actor=manager, image_ids=[seen.pk])
    with pytest.raises(NotFound):
        services.record_decision(image=seen, actor=reviewer, decision="approve")


def test_the_admin_refuses_to_save_a_batch_moved_meanwhile(rf, make_batch, manager, owner):
    batch = make_batch(2, name="Pier 7")
    seen = Batch.objects.get(pk=batch.pk)
    services.archive(batch=batch, actor=manager)
    request = rf.post("/admin/")
    request.user, request.session = owner, {}
    request._messages = FallbackStorage(request)
    seen.name = "Pier 7 (checked)"
    admin.site._registry[Batch].save_model(request, seen, SimpleNamespace(changed_data=["name"]), change=True)
    assert Batch.objects.get(pk=batch.pk).name == "Pier 7"
    assert [m.message for m in get_messages(request)] == [
        "Someone else moved this batch meanwhile; reload and try again."
    ]
