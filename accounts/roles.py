"""What each workspace role may do: the one table every layer asks.

Templates, services, the API and the admin all go through
``user.has_perm("<app>.<codename>", obj)``, which the
``WorkspaceRoleBackend`` answers from ``ROLE_PERMISSIONS``.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    REVIEWER = "reviewer", "Reviewer"
    LABELER = "labeler", "Labeler"
    VIEWER = "viewer", "Viewer"


# Higher rank includes everything a lower rank may do.
ROLE_RANK = {
    Role.VIEWER: 0,
    Role.LABELER: 1,
    Role.REVIEWER: 2,
    Role.MANAGER: 3,
    Role.OWNER: 4,
}

VIEW = {"boards.view_project", "boards.view_batch", "boards.view_image"}
ANNOTATE = {"boards.annotate_batch"}
REVIEW = {"boards.review_batch"}
MANAGE = {
    "boards.upload_images",
    "boards.assign_batch",
    "boards.unassign_batch",
    "boards.archive_batch",
    "boards.delete_batch",
    "boards.change_batch_priority",
    "boards.create_batch",
    "boards.merge_batches",
    "boards.tag_images",
    "boards.manage_project",
    "accounts.manage_api_keys",
}
OWN = {"accounts.manage_workspace", "accounts.manage_members"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset(VIEW),
    Role.LABELER: frozenset(VIEW | ANNOTATE),
    Role.REVIEWER: frozenset(VIEW | ANNOTATE | REVIEW),
    Role.MANAGER: frozenset(VIEW | ANNOTATE | REVIEW | MANAGE),
    Role.OWNER: frozenset(VIEW | ANNOTATE | REVIEW | MANAGE | OWN),
}

ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def role_allows(role: str | None, perm: str) -> bool:
    return role is not None and perm in ROLE_PERMISSIONS.get(role, frozenset())


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]


# The permission each project page and dialog asks for. The links, tabs, counts
# and dialogs a person is shown are the ones ``user.has_perm`` grants here, and
# the views refuse the same ones: nothing is offered that would answer 403.
PAGE_PERMISSIONS: dict[str, str] = {
    "board": "boards.view_project",
    "catalog": "boards.view_project",
    "export": "boards.view_project",
    "tasks": "boards.view_project",
    "buckets": "boards.manage_project",
    "label": "boards.annotate_batch",
    "review": "boards.review_batch",
    "upload": "boards.upload_images",
    "merge": "boards.merge_batches",
    "archived": "boards.archive_batch",
    "settings": "boards.manage_project",
    "import": "boards.manage_project",
    "api_keys": "accounts.manage_api_keys",
}

DIALOG_PERMISSIONS: dict[str, str] = {
    "assign": "boards.assign_batch",
    "unassign": "boards.unassign_batch",
    "delete": "boards.delete_batch",
    "archive": "boards.archive_batch",
}


def allowed_pages(user, obj) -> dict[str, bool]:
    """Which of ``PAGE_PERMISSIONS`` the user may use for this project (or anything in its workspace)."""
    return {page: user.has_perm(perm, obj) for page, perm in PAGE_PERMISSIONS.items()}
