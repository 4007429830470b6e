"""The start pages: the user's projects and their work."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import render

from boards import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.member_projects(request.user)
    workspaces: dict = {}
    for project in projects:
        workspaces.setdefault(project.workspace, []).append(project)
    key_workspaces = {w.pk for w in workspaces if request.user.has_perm("accounts.manage_api_keys", w)}
    return render(request, "boards/home.html", {"workspaces": workspaces, "key_workspaces": key_workspaces})


@login_required
def my_work(request: HttpRequest) -> HttpResponse:
    return render(request, "boards/my_work.html", selectors.my_work(request.user))
