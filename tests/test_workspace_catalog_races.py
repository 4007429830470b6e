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
        assets = list(Image.objects.filter(placement__batch=batch).values_list("asset_id", flat=True))

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
                ids = list(Image.objects.filter(placement__batch=batch).values_list("pk", flat=True))
                return services.delete_images(project=project, actor=manager, image_ids=ids)
            except ServiceError as exc:
                return exc.status

        first, second = _race(delete(whole), delete(part) if round_ % 2 else delete_images)
        assert (first, second) == (3, 2), (round_, first, second)
        assert not Batch.objects.filter(pk=whole.pk).exists()
        assert not Image.objects.filter(project=project).exists()
        assert not Asset.objects.filter(workspace=project.workspace).exists()


@racing
def test_an_upload_of_a_picture_in_no_project_racing_its_delete_never_loses_the_upload(project, manager, monkeypatch):
    """Parcels uploads a picture the catalog holds in no project while a manager deletes the images in no
    project. The delete has counted what it deletes when the upload comes: the upload waits for it
    (the catalog's lock), finds the picture gone and stores it afresh. Never an uploaded image deleted
    with the picture, nor one pointing at a vanished row, nor a 500."""
    import threading

    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    from boards.catalog import WorkspaceFilter
    from boards.models import Asset, Image, Project
    from boards.services import images as image_services
    from tests.factories import jpeg_bytes

    gone = Project.objects.create(workspace=project.workspace, name="Gone", slug="gone")
    services.upload_images(project=gone, actor=manager, files=[SimpleUploadedFile("old.jpg", jpeg_bytes())])
    Image.objects.filter(project=gone).delete()  # its picture stays in the catalog, in no project
    old = Asset.objects.get()
    counted, uploaded = threading.Event(), threading.Event()
    drop = image_services._drop_orphan_assets

    def drop_after_the_upload_came(ids):
        counted.set()
        uploaded.wait(timeout=3)  # with the lock the upload waits for this commit: it never comes before
        return drop(ids)

    monkeypatch.setattr(image_services, "_drop_orphan_assets", drop_after_the_upload_came)

    def upload():
        counted.wait(timeout=10)
        try:
            files = [SimpleUploadedFile("again.jpg", jpeg_bytes())]
            return [f.status for f in services.upload_images(project=project, actor=manager, files=files).files]
        finally:
            uploaded.set()

    def delete():
        nowhere = WorkspaceFilter.from_query({"project": "nowhere"})
        try:
            return services.delete_catalog_images(workspace=project.workspace, actor=manager, filters=nowhere).unused
        except ServiceError as exc:
            return exc.status

    landed, deleted = _race(upload, delete)
    assert landed == ["landed"] and deleted == 1
    assert not Asset.objects.filter(pk=old.pk).exists()  # what the delete counted, it deleted
    image = Image.objects.get(project=project)
    asset = Asset.objects.get(pk=image.asset_id)
    assert default_storage.exists(asset.file.name) and default_storage.exists(image.file.name)
