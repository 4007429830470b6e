"""The move table is the one list of card moves: the menu, the drop targets, ``move_batch`` and the API agree with it.

Each test reads ``services.MOVES`` and the role table, never a list of its own:
for every persona and every column (in projects with and without review) the
board offers exactly the moves the table grants, ``move_batch`` makes exactly
those, and the API makes exactly those it offers, with the scope it names.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.models import ApiScope, Membership, Role
from accounts.roles import role_allows, role_at_least
from boards import selectors, services
from boards.models import Batch, BatchStatus
from core.errors import ServiceError
from tests.api_support import Api
from tests.board_html import parse_board
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
COLUMNS = [s for s in BatchStatus.values]
TARGETS = [*BatchStatus.values, services.DELETE]
PERSONAS = ["owner", "manager", "reviewer", "labeler", "other-labeler", "viewer"]


class _Undo(Exception):
    pass


def attempt(fn):
    """Run ``fn`` in a savepoint and roll it back: what it returned, or the service error it raised."""
    outcome = None
    try:
        with transaction.atomic():
            try:
                outcome = fn()
            except ServiceError as exc:
                outcome = exc
            raise _Undo
    except _Undo:
        pass
    return outcome


@pytest.fixture
def people(personas, workspace):
    other = MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory(email="other@acme.test")).user
    return {**personas, "other-labeler": other}


def batch_in(column: str, project, people, make_batch) -> Batch:
    """A batch of two images in ``column``, every image done, assigned to ``labeler``."""
    owner, labeler = people["owner"], people["labeler"]
    batch = make_batch(2, project=project)
    if column == BatchStatus.ARCHIVED:
        return services.archive(batch=batch, actor=owner)
    if column == BatchStatus.UNASSIGNED:
        return batch
    services.assign(batch=batch, actor=owner, labeler=labeler)
    for image in batch.images.all():
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    if column == BatchStatus.ANNOTATING:
        return Batch.objects.get(pk=batch.pk)
    batch = services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    if column == BatchStatus.DATASET and batch.status == BatchStatus.REVIEW:
        services.approve(batch=batch, actor=owner)
    return Batch.objects.get(pk=batch.pk)


def granted(user, batch: Batch) -> list[str]:
    """What the table grants ``user`` on ``batch``: the targets of its moves from the batch's column, in order."""
    role = Membership.objects.get(user=user, workspace=batch.project.workspace).role
    labeler = batch.current_job.labeler_id if batch.current_job else None
    return [
        move.target
        for move in services.MOVES
        if move.source == batch.status
        and role_allows(role, move.permission)
        and move.review_mode in (None, batch.project.review_mode)
        and (not move.own_batch or role_at_least(role, Role.REVIEWER) or labeler == user.pk)
    ]


def columns_for(review_mode: bool) -> list[str]:
    return [c for c in COLUMNS if review_mode or c != BatchStatus.REVIEW]


def cases():
    return [(mode, column) for mode in (True, False) for column in columns_for(mode)]


@pytest.mark.parametrize(("review_mode", "column"), cases())
def test_the_board_menu_and_drop_targets_are_the_tables_moves(review_mode, column, people, project, make_batch, client):
    project.review_mode = review_mode
    project.save()
    batch = batch_in(column, project, people, make_batch)
    for who in PERSONAS:
        user = people[who]
        expected = granted(user, batch)
        client.force_login(user)
        board = parse_board(client.get(reverse("board", args=[project.workspace.slug, project.slug])).content)
        card = next((c for col in board.values() for c in col.cards if c.id == batch.pk), None)
        if column == BatchStatus.ARCHIVED or column not in board:
            assert card is None and (column == BatchStatus.ARCHIVED or expected == []), (who, expected)
            continue
        assert card.moves == expected, (who, column)  # the drop targets
        menu = client.get(reverse("card-menu", args=[project.workspace.slug, project.slug, batch.pk]), headers=HTMX)
        html = menu.content.decode() if expected else ""
        for move in services.MOVES:
            if move.source != column or move.target not in expected:
                continue
            offered = f"dialog/{move.dialog}" if move.dialog else f'name="to" value="{move.target}"'
            assert offered in html and move.label in html, (who, move)


@pytest.mark.parametrize(("review_mode", "column"), cases())
def test_move_batch_makes_exactly_the_tables_moves(review_mode, column, people, project, make_batch):
    project.review_mode = review_mode
    project.save()
    batch = batch_in(column, project, people, make_batch)
    for who in PERSONAS:
        user = people[who]
        made = []
        for target in TARGETS:
            if target == column:
                continue
            outcome = attempt(
                lambda target=target, user=user: services.move_batch(
                    batch=Batch.objects.get(pk=batch.pk),
                    actor=user,
                    to=target,
                    labeler=people["labeler"],
                    keep_annotations=True,
                    confirm=True,
                    seen_in=column,
                )
            )
            if isinstance(outcome, Batch):
                made.append(target)
                if target != services.DELETE:
                    assert outcome.status == target or (column, target) == (BatchStatus.ANNOTATING, "review")
            else:
                assert outcome.status in (403, 409), (who, target, outcome.message)
        assert sorted(made) == sorted(granted(user, batch)), (who, column)
        assert Batch.objects.get(pk=batch.pk).status == column  # every try was rolled back


@pytest.mark.parametrize(("review_mode", "column"), cases())
def test_the_api_makes_the_tables_moves_it_offers_with_the_scope_it_names(
    review_mode, column, people, project, make_batch, client, make_key
):
    project.review_mode = review_mode
    project.save()
    batch = batch_in(column, project, people, make_batch)
    path = f"/{project.workspace.slug}/{project.slug}/batches/{batch.pk}/move"
    for who in ("owner", "reviewer", "labeler", "viewer"):
        user = people[who]
        everything = Api(client, make_key(user))
        expected = {t for t in granted(user, batch) if services.find_move(column, t).api_scope}
        for target in TARGETS:
            if target == column:
                continue
            body = {"to": target, "labelerEmail": people["labeler"].email, "keepAnnotations": True}
            response = attempt(lambda body=body, api=everything: api.post(path, body))
            if target not in BatchStatus.values:
                assert response.status_code == 400, (who, target)
            elif target in expected:
                assert response.status_code == 200, (who, target, response.content)
                scope = services.find_move(column, target).api_scope
                lacking = Api(client, make_key(user, [s for s in ApiScope.values if s != scope]))
                assert attempt(lambda body=body, api=lacking: api.post(path, body)).status_code == 403, (who, target)
            else:
                assert response.status_code in (403, 409), (who, target, response.content)
        assert Batch.objects.get(pk=batch.pk).status == column


def test_every_move_runs_the_transition_it_names_from_and_to_the_columns_it_names():
    """The table and the state machine agree: a move's columns are its transition's."""
    for move in services.MOVES:
        if move.transition is None:
            assert move.target == services.DELETE
            continue
        transitions = getattr(Batch, move.transition)._django_fsm.transitions
        assert move.source in transitions, move
        target = transitions[move.source].target
        targets = getattr(target, "allowed_states", None) or [target]
        assert move.target in targets, move


def test_the_menu_waits_for_the_images_the_table_says_it_waits_for(people, project, make_batch):
    batch = make_batch(2, project=project)
    services.assign(batch=batch, actor=people["owner"], labeler=people["labeler"])
    rules = services.MoveRules(people["labeler"], project)
    assert rules.moves(selectors.card_of(batch)) == []  # nothing annotated yet: no submit
    assert rules.may_submit(selectors.card_of(batch))
    empty = make_batch(0, project=project)
    assert [m.target for m in services.MoveRules(people["owner"], project).moves(selectors.card_of(empty))] == [
        BatchStatus.ARCHIVED,
        services.DELETE,
    ]


# A request for a move the table lacks is refused by ``move_batch``, after the key scope such a request needs.
NOT_IN_TABLE = [
    (BatchStatus.ANNOTATING, BatchStatus.ANNOTATING, ApiScope.ANNOTATE),  # a retried reject: nothing to do
    (BatchStatus.UNASSIGNED, BatchStatus.UNASSIGNED, ApiScope.MANAGE),
    (BatchStatus.UNASSIGNED, BatchStatus.REVIEW, ApiScope.MANAGE),
    (BatchStatus.UNASSIGNED, BatchStatus.DATASET, ApiScope.MANAGE),
    (BatchStatus.DATASET, BatchStatus.ANNOTATING, ApiScope.ANNOTATE),
    (BatchStatus.ARCHIVED, BatchStatus.ANNOTATING, ApiScope.ANNOTATE),
    (BatchStatus.DATASET, BatchStatus.ARCHIVED, ApiScope.MANAGE),
]


@pytest.mark.parametrize(("source", "target", "scope"), NOT_IN_TABLE)
def test_a_move_the_table_lacks_needs_the_scope_of_its_columns(source, target, scope):
    assert services.find_move(source, target) is None
    assert services.api_scope(source, target) == scope


def test_a_retried_reject_with_an_annotate_key_is_a_harmless_no_op(people, project, make_batch, client, make_key):
    batch = batch_in(BatchStatus.ANNOTATING, project, people, make_batch)
    api = Api(client, make_key(people["reviewer"], [ApiScope.READ, ApiScope.ANNOTATE]))
    response = api.post(f"/{project.workspace.slug}/{project.slug}/batches/{batch.pk}/move", {"to": "annotating"})
    assert response.status_code == 200 and response.json()["status"] == "annotating"


@pytest.mark.parametrize("column", [BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING, BatchStatus.REVIEW])
def test_a_move_to_the_column_a_batch_is_in_is_refused_to_who_may_move_nothing(
    column, people, project, make_batch, client, make_key
):
    batch = batch_in(column, project, people, make_batch)
    api = Api(client, make_key(people["viewer"]))  # a key of every scope: the role still decides
    response = api.post(f"/{project.workspace.slug}/{project.slug}/batches/{batch.pk}/move", {"to": column})
    assert response.status_code == 403, response.content
    client.force_login(people["viewer"])
    page = client.post(reverse("move", args=[project.workspace.slug, project.slug, batch.pk]), {"to": column})
    assert page.status_code == 403 and Batch.objects.get(pk=batch.pk).status == column


def test_assigning_an_annotating_batch_again_keeps_its_labeler_or_says_why_not(
    people, project, make_batch, client, make_key
):
    batch = batch_in(BatchStatus.ANNOTATING, project, people, make_batch)
    api = Api(client, make_key(people["owner"]))
    path = f"/{project.workspace.slug}/{project.slug}/batches/{batch.pk}/move"
    again = api.post(path, {"to": "annotating", "labelerEmail": people["labeler"].email})
    assert again.status_code == 200 and again.json()["status"] == "annotating"  # a retried assign
    for body in (
        {"labelerEmail": people["other-labeler"].email},
        {"reviewerEmail": people["reviewer"].email},
    ):
        refused = api.post(path, {"to": "annotating", **body})
        assert refused.status_code == 409, refused.content
        assert "move it back to Unassigned" in refused.json()["error"]["message"]
    job = Batch.objects.get(pk=batch.pk).current_job
    assert (job.labeler, job.reviewer) == (people["labeler"], None)


def test_assigning_an_annotating_batch_what_it_has_already_changes_nothing(people, project, make_batch):
    owner, labeler, reviewer = people["owner"], people["labeler"], people["reviewer"]
    reviewed = make_batch(2, project=project)
    services.assign(batch=reviewed, actor=owner, labeler=labeler, reviewer=reviewer)
    in_queue = make_batch(2, project=project)
    services.assign(batch=in_queue, actor=owner, labeler=None, queue=True)
    jobs = {batch.pk: Batch.objects.get(pk=batch.pk).current_job.pk for batch in (reviewed, in_queue)}
    again = {"actor": owner, "to": BatchStatus.ANNOTATING}
    services.move_batch(batch=Batch.objects.get(pk=reviewed.pk), labeler=labeler, reviewer=reviewer, **again)
    services.move_batch(batch=Batch.objects.get(pk=reviewed.pk), labeler=labeler, **again)
    services.move_batch(batch=Batch.objects.get(pk=in_queue.pk), queue=True, **again)
    with pytest.raises(ServiceError, match="already in Annotating") as refused:
        services.move_batch(batch=Batch.objects.get(pk=in_queue.pk), labeler=labeler, **again)
    assert refused.value.status == 409
    with pytest.raises(ServiceError, match="already in Annotating"):
        services.move_batch(batch=Batch.objects.get(pk=reviewed.pk), queue=True, **again)
    assert {pk: Batch.objects.get(pk=pk).current_job.pk for pk in jobs} == jobs
    assert Batch.objects.get(pk=in_queue.pk).in_queue


@pytest.mark.parametrize("value", [0, False, [], {}, ["reviewer@acme.test"]])
def test_a_reviewer_or_labeler_email_that_is_not_text_is_refused(value, people, project, make_batch, client, make_key):
    batch = batch_in(BatchStatus.UNASSIGNED, project, people, make_batch)
    api = Api(client, make_key(people["owner"]))
    path = f"/{project.workspace.slug}/{project.slug}/batches/{batch.pk}/move"
    for body in (
        {"labelerEmail": people["labeler"].email, "reviewerEmail": value},
        {"labelerEmail": value},
    ):
        response = api.post(path, {"to": "annotating", **body})
        assert response.status_code == 400, (body, response.content)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED


def test_an_archived_batch_offers_no_moves_on_its_page_the_archived_list_restores_it(
    people, project, make_batch, client
):
    batch = batch_in(BatchStatus.ARCHIVED, project, people, make_batch)
    assert services.MoveRules(people["owner"], project).moves(selectors.card_of(batch)) == []
    client.force_login(people["owner"])
    page = client.get(reverse("batch", args=[project.workspace.slug, project.slug, batch.pk])).content.decode()
    assert 'name="to"' not in page and "Restore to Unassigned" not in page
