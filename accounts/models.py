import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.roles import Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


def initials_of(full_name: str, email: str) -> str:
    """A person's initials for an avatar: from the name, else from the email's local part."""
    source = full_name or email.split("@")[0].replace(".", " ")
    parts = [p for p in source.split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email address is the login.

    On PostgreSQL, boards' triggers name this table and its id (an image's ``annotated_by``,
    ``boards/migrations/_image_people_references.py``): a migration renaming the table or changing the
    id's type must depend on boards' 0031 and ``remove`` and ``install`` those triggers around it.
    """

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin site.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email.split("@")[0]

    @property
    def initials(self) -> str:
        return initials_of(self.full_name, self.email)

    def workspace_roles(self) -> dict[int, str]:
        """{workspace_id: role} for this user, read once and cached on the object."""
        cache = getattr(self, "_workspace_roles_cache", None)
        if cache is None:
            # Unordered: the model's order by workspace name and email would join both tables.
            cache = dict(Membership.objects.filter(user=self).order_by().values_list("workspace_id", "role"))
            self._workspace_roles_cache = cache
        return cache

    def role_in(self, workspace_id: int) -> str | None:
        return self.workspace_roles().get(workspace_id)


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="Membership", related_name="workspaces")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def workspace_id(self) -> int:
        return self.pk


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.LABELER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_workspace"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]
        ordering = ["workspace", "user"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} in {self.workspace}"


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    UPLOAD = "upload", "Upload"
    ANNOTATE = "annotate", "Annotate"
    MANAGE = "manage", "Manage"


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_api_key() -> str:
    # Lowercase letters and digits only: an all-caps key reads as a placeholder
    # to the roboflow client, and this alphabet never yields one.
    alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
    return "bb" + "".join(secrets.choice(alphabet) for _ in range(38))


class ApiKey(models.Model):
    """A workspace API key. Only its hash is stored; the key is shown once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, help_text="The first characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class ApiKeyFailure(models.Model):
    """Requests with an unknown or revoked API key from one client address (``accounts.throttle``).

    ``failures`` counts those since ``window_started_at``; reaching
    ``API_KEY_FAILURE_LIMIT`` sets ``locked_until``, and the address gets 429
    for every key until then.
    """

    client = models.CharField(max_length=64, unique=True, help_text="The client's IP address.")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key failure"

    def __str__(self) -> str:
        return f"{self.client}: {self.failures} bad key(s)"
