"""Workspace catalog races, with real transactions on PostgreSQL."""

from boards import services
from boards.models import Batch
from tests.test_concurrency import ROUNDS, _batch, _race, racing


@racing
def test_it_keeps_a_picture_that_another_project_joins_while_its_last_batch_is_deleted(project, manager):
    """ "Add batch to project" in Signs races the delete of the only batch of Parcels using the pictures:
    either the pictures stay (Signs has them) or Signs' batch is refused; never a 500, never an image
    without its asset."""
    from boards.models import Asset, Image, Project
    from core.errors import ServiceError

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
