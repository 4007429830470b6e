from django.contrib.auth.backends import BaseBackend

from accounts.roles import ALL_PERMISSIONS, role_allows


def workspace_id_of(obj) -> int | None:
    """The workspace an object belongs to, for any object that has one."""
    from accounts.models import Workspace

    if isinstance(obj, Workspace):
        return obj.pk
    return getattr(obj, "workspace_id", None)


class WorkspaceRoleBackend(BaseBackend):
    """Answers object permissions from the user's role in the object's workspace.

    Memberships are read once per user object and cached on it, so a page that
    asks about 200 cards costs one query, not 200.
    """

    def has_perm(self, user_obj, perm, obj=None):
        if obj is None or perm not in ALL_PERMISSIONS:
            return False
        if not user_obj.is_active or user_obj.is_anonymous:
            return False
        workspace_id = workspace_id_of(obj)
        if workspace_id is None:
            return False
        return role_allows(user_obj.workspace_roles().get(workspace_id), perm)
