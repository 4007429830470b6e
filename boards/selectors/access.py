"""Who may see what: the project, batch and image a user reaches, and who can be assigned. Nothing here writes."""

from __future__ import annotations

from django.http import Http404

from accounts.models import User
from boards.models import (
    Batch,
    Image,
    Project,
)


def project_for(user: User, ws_slug: str, project_slug: str) -> Project:
    """The project, if the user belongs to its workspace; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404
    try:
        project = Project.objects.select_related("workspace").get(workspace__slug=ws_slug, slug=project_slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    if user.role_in(project.workspace_id) is None:
        raise Http404("No such project.")
    return project


def batch_in(project: Project, batch_id: int) -> Batch:
    try:
        batch = Batch.objects.get(project=project, pk=batch_id)
    except Batch.DoesNotExist:
        raise Http404("This batch does not exist, or someone deleted it.") from None
    batch.project = project
    return batch


def image_for(user: User, image_id: int) -> Image:
    try:
        image = Image.objects.select_related("project").get(pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    if not user.is_authenticated:
        raise Http404("No such image.")
    # Superusers see every image (the admin's thumbnails); anyone else only their workspaces'.
    if not user.is_superuser and user.role_in(image.project.workspace_id) is None:
        raise Http404("No such image.")
    return image


def assignable_labelers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.LABELER, Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")


def assignable_reviewers(project: Project):
    from accounts.roles import Role

    return User.objects.filter(
        memberships__workspace_id=project.workspace_id,
        memberships__role__in=[Role.REVIEWER, Role.MANAGER, Role.OWNER],
        is_active=True,
    ).order_by("email")


def image_of(project: Project, image_id: int, *, missing: str = "No such image in this project.") -> Image:
    """An image of this project (its ``project`` set, no query for it); 404 for any other id."""
    try:
        image = Image.objects.select_related("placement__batch").get(project=project, pk=image_id)
    except Image.DoesNotExist:
        raise Http404(missing) from None
    image.project = project
    return image


def batch_image(project: Project, batch_id: int, image_id: int) -> Image:
    """``image_in(batch_in(project, batch_id), image_id)`` in one query: the image of this batch of the
    project, its placement and batch loaded with it (``image.batch`` costs no query); 404 otherwise."""
    try:
        image = Image.objects.select_related("placement__batch").get(
            placement__batch_id=batch_id, placement__batch__project=project, pk=image_id
        )
    except Image.DoesNotExist:
        raise Http404("No such image in this batch.") from None
    image.project = image.placement.batch.project = project
    return image


def image_in(batch: Batch, image_id: int) -> Image:
    """An image of this batch (its placement loaded with it: ``batch_id`` costs no query); 404 otherwise."""
    try:
        return Image.objects.select_related("placement").get(placement__batch=batch, pk=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image in this batch.") from None
