"""Writes for accounts: workspace API keys. Keyword-only, permission checked here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, ApiScope, User, Workspace, generate_api_key, hash_api_key
from core.errors import InvalidInput
from core.permissions import require


def _may_manage_keys(actor: User, workspace: Workspace) -> None:
    require(
        actor,
        "accounts.manage_api_keys",
        workspace,
        message="Only the workspace's owners and managers manage its API keys.",
    )


def create_api_key(*, workspace: Workspace, actor: User, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """A new key for the workspace, acting as ``actor``; returns ``(key, raw key)``.

    The raw key is shown once: only its hash is stored.
    """
    _may_manage_keys(actor, workspace)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the key a name, so you can tell it apart later.")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise InvalidInput("The name is too long (100 characters at most).")
    scopes = [s for s in ApiScope.values if s in set(scopes)]
    if not scopes:
        raise InvalidInput("Choose at least one scope for the key.")
    raw = generate_api_key()
    key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=raw[:8],
        key_hash=hash_api_key(raw),
        scopes=scopes,
        created_by=actor,
    )
    return key, raw


def revoke_api_key(*, key: ApiKey, actor: User) -> ApiKey:
    """Revoke a key for good; it stops working at once."""
    _may_manage_keys(actor, key.workspace)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
    return key
