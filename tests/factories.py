import io

import factory
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from accounts.models import Membership, User, Workspace
from accounts.roles import Role
from boards.models import Batch, Image, Project


def jpeg_bytes(width=64, height=48, color=(200, 80, 40), fmt="JPEG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, password="pw", **kwargs)


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.LABELER


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    review_mode = True


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Batch

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Batch {n}")


class ImageFactory(factory.django.DjangoModelFactory):
    """An image row with small real files in storage."""

    class Meta:
        model = Image

    project = factory.SubFactory(ProjectFactory)
    batch = None
    width = 64
    height = 48
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    original_filename = factory.Sequence(lambda n: f"img{n}.jpg")
    file = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(), name=f"{o.original_filename}"))
    thumbnail = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(32, 24), name="t.jpg"))


def set_images(images, **fields) -> int:
    """Change images behind the services' back (a test's shortcut for labeling or reviewing),
    then store their batches' card counts as the services do after every change."""
    from boards import services

    batches = set(images.filter(placement__isnull=False).values_list("placement__batch_id", flat=True))
    batch = fields.pop("batch", False)
    if batch is not False:  # the ids first: ``images`` may name the batch, or a field, that changes
        images = images.model.objects.filter(pk__in=list(images.values_list("pk", flat=True)))
    changed = images.update(**fields) if fields else images.count()
    if batch is not False:
        images.set_batch(batch)
        if batch is not None:
            batches.add(batch.pk)
    services.mark_changed(*batches)
    return changed
