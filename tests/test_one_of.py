"""``pk__one_of``: a selection of ids travels as one parameter, on SQLite and PostgreSQL alike."""

import pytest
from django.db import connection

from boards import services
from boards.models import Batch, Image, Job
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


class Statements:
    """Every statement with its parameters, as the driver receives them."""

    def __init__(self):
        self.sent = []

    def __call__(self, execute, sql, params, many, context):
        self.sent.append((sql, params))
        return execute(sql, params, many, context)

    def moves(self):
        return [
            (sql, params) for sql, params in self.sent if sql.startswith('UPDATE "boards_placement" SET "batch_id"')
        ]


def test_one_of_selects_what_in_selects_and_its_negation_the_rest(make_batch):
    batch = make_batch(6)
    ids = sorted(batch.images.values_list("pk", flat=True))
    chosen = {ids[0], ids[3], ids[5], 10**12}  # an id no row has is simply not found

    assert set(Image.objects.filter(pk__one_of=chosen).values_list("pk", flat=True)) == {ids[0], ids[3], ids[5]}
    assert set(Image.objects.exclude(pk__one_of=chosen).values_list("pk", flat=True)) == {ids[1], ids[2], ids[4]}
    assert not Image.objects.filter(pk__one_of=[]).exists()
    assert Image.objects.exclude(pk__one_of=[]).count() == 6


def test_one_of_takes_a_subquery_of_ids_with_its_order_and_limit(make_batch, project):
    batch = make_batch(5)
    free = [ImageFactory(project=project).pk for _ in range(4)]
    newest_free = Image.objects.filter(free__isnull=False).order_by("-pk").values("pk")[:3]

    assert sorted(Image.objects.filter(pk__one_of=newest_free).values_list("pk", flat=True)) == free[1:]
    assert Image.objects.exclude(pk__one_of=newest_free).count() == 5 + 1
    assert batch.images.filter(pk__one_of=newest_free).count() == 0


def test_one_of_sends_any_number_of_ids_as_one_parameter(project):
    image = ImageFactory(project=project)
    many = (i for i in [image.pk, *range(10**9, 10**9 + 70_000)])  # more than psycopg's 65,535 parameters

    statements = Statements()
    with connection.execute_wrapper(statements):
        found = list(Image.objects.filter(pk__one_of=many).values_list("pk", flat=True))

    assert found == [image.pk]
    [(_sql, params)] = statements.sent
    assert len(params) == 1


def test_one_of_finds_nothing_for_none_or_numbers_no_id_can_be(project):
    image = ImageFactory(project=project)
    odd = [None, 2**70, -(2**70), image.pk]
    assert list(Image.objects.filter(pk__one_of=odd).values_list("pk", flat=True)) == [image.pk]
    assert not Image.objects.filter(asset_id__one_of=(i for i in [None, 2**64])).exists()


def test_one_of_takes_the_largest_and_smallest_ids_a_column_holds(project):
    image = ImageFactory(project=project)
    edges = [2**63 - 1, -(2**63), -1, 0, image.pk, str(image.pk)]
    assert list(Image.objects.filter(pk__one_of=edges).values_list("pk", flat=True)) == [image.pk]
    assert not Image.objects.exclude(pk__one_of=edges).exists()


def test_a_split_of_a_large_selection_sends_the_selection_as_one_parameter(make_batch, manager, labeler):
    batch = make_batch(300)
    ids = sorted(batch.images.values_list("pk", flat=True))
    chosen = ids[::2]

    statements = Statements()
    with connection.execute_wrapper(statements):
        result = services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=chosen)

    assert set(result.batch.images.values_list("pk", flat=True)) == set(chosen)
    assert set(result.remainder.images.values_list("pk", flat=True)) == set(ids[1::2])
    [(_sql, params)] = statements.moves()
    assert len(params) <= 3  # the new batch, the old one, the selection


def test_the_first_n_stay_and_every_later_image_moves_without_a_list(make_batch, manager, labeler):
    batch = make_batch(7)
    ids = sorted(batch.images.values_list("pk", flat=True))

    statements = Statements()
    with connection.execute_wrapper(statements):
        result = services.create_job(batch=batch, actor=manager, labeler=labeler, num_images=3)

    assert set(result.batch.images.values_list("pk", flat=True)) == set(ids[:3])
    assert set(result.remainder.images.values_list("pk", flat=True)) == set(ids[3:])
    assert Batch.objects.get(pk=result.remainder.pk).n_images == 4
    assert Job.objects.get(batch=result.batch).labeler == labeler
    [(_sql, params)] = statements.moves()
    assert list(params) == [result.remainder.pk, batch.pk, ids[2]]  # after the third image, by id
