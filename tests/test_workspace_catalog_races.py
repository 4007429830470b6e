"""Workspace catalog races, with real transactions on PostgreSQL."""

from boards import services
from boards.models import Batch
from core.errors import ServiceError
from tests.test_concurrency import ROUNDS, _batch, _race, racing


@racing
def test_it_keeps_a_picture_that_another_project_joins_while_its_last_batch_is_deleted(project, manager):
    """ "Add batch to project" in Signs races the delete of the only batch of Parcels using the pictures:
    either the pictures stay (Signs has them) or Signs' batch is refused; never a 500, never an image
    without its asset."""
    from boards.models import Asset, Image, Project

    signs = Project.objects.create(workspace=project.workspace, name="Signs", slug="signs")
    for round_ in range(ROUNDS):
        batch = _batch(project, 3)
        assets = list(Image.objects.filter(batch=batch).values_list("asset_id", flat=True))

        def join(assets=assets, round_=round_):
            try:
                return services.add_batch_to_project(
                    project=signs, actor=manager, name=f"joined {round_}", asset_ids=assets
                ).taken
            except ServiceError as exc:
                return exc.status

        def delete(batch=batch):
            try:
                return services.delete_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
            except ServiceError as exc:
                return exc.status

        joined, deleted = _race(join, delete)
        assert joined in (3, 400, 409) and deleted in (3, 409), (round_, joined, deleted)
        assert not Image.objects.exclude(asset__in=Asset.objects.values("pk")).exists()
        if joined == 3:
            assert Asset.objects.filter(pk__in=assets).count() == 3
            assert Image.objects.filter(project=signs, asset_id__in=assets).count() == 3


@racing
def test_a_batch_and_a_part_split_off_it_deleted_at_once_both_go(project, manager):
    """Deleting a batch clears split_from on its parts (a lock on each part's row) while it holds the
    catalog lock; a delete of a part holds that row and wants the catalog lock. Taken first by both,
    the lock keeps them in line: both deletes finish, neither meets the other's locks the wrong way round."""
    from boards.models import Asset, Image

    for round_ in range(ROUNDS):
        whole = _batch(project, 3)
        part = _batch(project, 2, split_from=whole, name=f"part {round_}")

        def delete(batch):
            def run():
                try:
                    return services.delete_batch(batch=Batch.objects.get(pk=batch.pk), actor=manager)
                except ServiceError as exc:
                    return exc.status

            return run

        def delete_images(batch=part):
            try:
                ids = list(Image.objects.filter(batch=batch).values_list("pk", flat=True))
                return services.delete_images(project=project, actor=manager, image_ids=ids)
            except ServiceError as exc:
                return exc.status

        first, second = _race(delete(whole), delete(part) if round_ % 2 else delete_images)
        assert (first, second) == (3, 2), (round_, first, second)
        assert not Batch.objects.filter(pk=whole.pk).exists()
        assert not Image.objects.filter(project=project).exists()
        assert not Asset.objects.filter(workspace=project.workspace).exists()
