"""One permission check for every service: the actor is signed in and holds the permission on the object.

Services check permissions themselves (views only hide what a role may not
use), so the same two conditions and one refusal were written in each of
them. ``require`` is that check; it lives in ``core`` so that the accounts
services, which sit below boards, use it too.
"""

from __future__ import annotations

from typing import Any

from core.errors import NotAllowed


def require(actor: Any, perm: str, obj: Any, *, verb: str = "", message: str = "") -> None:
    """Refuse with ``NotAllowed`` unless ``actor`` is signed in and has ``perm`` on ``obj``.

    The refusal reads "You do not have permission to <verb>." or, where a
    service says it differently (who may do it instead), ``message``.
    An anonymous actor is refused without asking the permission backends.
    """
    if bool(verb) == bool(message):
        raise TypeError("require() takes either verb or message.")
    if not actor.is_authenticated or not actor.has_perm(perm, obj):
        raise NotAllowed(message or f"You do not have permission to {verb}.")
