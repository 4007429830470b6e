import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from tests.factories import (
    BatchFactory,
    ImageFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    WorkspaceFactory,
    jpeg_bytes,
)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters, card numbers and rendered boards live in caches: each test starts with none."""
    from django.core.cache import caches

    for alias in ("default", "boards"):
        caches[alias].clear()


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def project(workspace):
    return ProjectFactory(workspace=workspace, name="Parcels", slug="parcels", review_mode=True)


def _member(workspace, role, email):
    return MembershipFactory(workspace=workspace, role=role, user=UserFactory(email=email)).user


@pytest.fixture
def owner(workspace):
    return _member(workspace, Role.OWNER, "owner@acme.test")


@pytest.fixture
def manager(workspace):
    return _member(workspace, Role.MANAGER, "manager@acme.test")


@pytest.fixture
def reviewer(workspace):
    return _member(workspace, Role.REVIEWER, "reviewer@acme.test")


@pytest.fixture
def labeler(workspace):
    return _member(workspace, Role.LABELER, "labeler@acme.test")


@pytest.fixture
def viewer(workspace):
    return _member(workspace, Role.VIEWER, "viewer@acme.test")


@pytest.fixture
def outsider(db):
    """A manager, but of another workspace."""
    other = WorkspaceFactory(name="Other", slug="other")
    return _member(other, Role.MANAGER, "outsider@other.test")


@pytest.fixture
def personas(owner, manager, reviewer, labeler, viewer, outsider):
    return {
        "owner": owner,
        "manager": manager,
        "reviewer": reviewer,
        "labeler": labeler,
        "viewer": viewer,
        "outsider": outsider,
    }


@pytest.fixture
def make_batch(project):
    """A batch of ``n`` images in the given project."""

    def make(n=4, *, project=project, **kwargs):
        batch = BatchFactory(project=project, **kwargs)
        for _ in range(n):
            ImageFactory(project=project, batch=batch)
        return batch

    return make


@pytest.fixture
def image_file():
    def make(name="photo.jpg", **kwargs):
        return SimpleUploadedFile(name, jpeg_bytes(**kwargs), content_type="image/jpeg")

    return make


@pytest.fixture
def make_key(workspace):
    """A raw API key for ``user`` in ``workspace`` with ``scopes`` (all four by default)."""
    from accounts.models import ApiKey, ApiScope, generate_api_key, hash_api_key

    def make(user, scopes=tuple(ApiScope.values), *, workspace=workspace, name="test key"):
        raw = generate_api_key()
        ApiKey.objects.create(
            workspace=workspace,
            name=name,
            prefix=raw[:8],
            key_hash=hash_api_key(raw),
            scopes=list(scopes),
            created_by=user,
        )
        return raw

    return make


@pytest.fixture
def api(client, manager, make_key):
    """The API as a manager's all-scopes key sees it."""
    from tests.api_support import Api

    return Api(client, make_key(manager))


@pytest.fixture(autouse=True)
def _stored_counts_hold(request):
    """After every database test: each batch's stored card counts, where valid, equal its images' counts,
    and every image has either a placement or a free row (a copy of its project, upload time and sizes).

    The services store them (``services.mark_changed``, ``place_free``, …); this catches any change to
    images that forgets to, or stores them before the images are final.
    """
    marker = request.node.get_closest_marker("django_db")
    wanted = (
        marker is not None
        and not marker.kwargs.get("transaction")
        and not {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if wanted:
        request.getfixturevalue("db")
    yield
    if not wanted:
        return
    from django.db.models import F

    from boards.models import CARD_COUNTS, Batch, count_card_images

    none = (0,) * len(CARD_COUNTS)
    stored = {
        b.pk: tuple(getattr(b, name) for name in CARD_COUNTS) for b in Batch.objects.filter(counted_at=F("updated_at"))
    }
    live = count_card_images(list(stored))
    wrong = {pk: (counts, live.get(pk, none)) for pk, counts in stored.items() if counts != live.get(pk, none)}
    assert not wrong, f"stored card counts {tuple(CARD_COUNTS)} differ from the images: {wrong}"
    from django.db.models import Q

    from boards.models import Image

    neither = list(Image.objects.filter(placement__isnull=True, free__isnull=True).values_list("pk", flat=True)[:10])
    assert not neither, f"images with neither a placement nor a free row: {neither}"
    both = list(Image.objects.filter(placement__isnull=False, free__isnull=False).values_list("pk", flat=True)[:10])
    assert not both, f"images with both a placement and a free row: {both}"
    stale = list(
        Image.objects.filter(free__isnull=False)
        .exclude(
            Q(free__project=F("project"))
            & Q(free__uploaded_at=F("uploaded_at"))
            & Q(free__width=F("width"))
            & Q(free__height=F("height"))
            & Q(free__original_filename=F("original_filename"))
        )
        .values_list("pk", flat=True)[:10]
    )
    assert not stale, f"free rows whose project, upload time, sizes or name differ from their image's: {stale}"


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server, one for the session (tests.services.s3_server)."""
    from tests.services import s3_server

    with s3_server() as url:
        yield url


@pytest.fixture
def s3_media(s3_endpoint, settings):
    """Files in a new private bucket on a real S3 server, as ``S3_BUCKET`` configures them; the bucket's name."""
    from config.settings import s3_storage
    from tests.services import S3_KEYS, new_bucket

    bucket = new_bucket(s3_endpoint)
    storage, origin = s3_storage(bucket, s3_endpoint, "us-east-1")
    storage["OPTIONS"].update(S3_KEYS)
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    settings.SERVE_ORIGINALS_BY_REDIRECT = True
    return bucket


@pytest.fixture
def remote(s3_endpoint, settings):
    """A bucket of someone else's: three photos under photos/, a broken one, a text file, and one
    photo outside the prefix."""
    from tests.services import new_bucket, s3_client

    settings.BUCKET_PRIVATE_ENDPOINTS = True  # the S3 server runs on loopback here
    name = new_bucket(s3_endpoint)
    client = s3_client(s3_endpoint)
    for n in range(3):
        client.put_object(Bucket=name, Key=f"photos/dock-{n}.jpg", Body=jpeg_bytes(96, 72, (40 * n, 120, 200)))
    client.put_object(Bucket=name, Key="photos/torn.jpg", Body=jpeg_bytes(96, 72)[:200])
    client.put_object(Bucket=name, Key="photos/readme.txt", Body=b"not an image")
    client.put_object(Bucket=name, Key="elsewhere/other.jpg", Body=jpeg_bytes(96, 72, (1, 2, 3)))
    return {"endpoint": s3_endpoint, "bucket": name, "client": client}
