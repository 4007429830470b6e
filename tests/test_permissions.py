"""The role table, answered through user.has_perm(perm, obj) for every layer."""

import pytest

from accounts.roles import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", True),
        ("manager", True),
        ("reviewer", True),
        ("labeler", False),
        ("viewer", False),
        ("outsider", False),
    ],
)
def test_review_permission_is_exactly_owners_managers_and_reviewers(who, expected, personas, make_batch):
    batch = make_batch(1)
    assert personas[who].has_perm("boards.review_batch", batch) is expected


@pytest.mark.parametrize("perm", sorted(set().union(*ROLE_PERMISSIONS.values())))
@pytest.mark.parametrize("role", list(Role))
def test_every_role_gets_exactly_its_row_of_the_table(perm, role, workspace, project):
    from tests.factories import MembershipFactory

    user = MembershipFactory(workspace=workspace, role=role).user
    assert user.has_perm(perm, project) is (perm in ROLE_PERMISSIONS[role])


def test_outsiders_get_nothing_even_as_managers_elsewhere(outsider, project):
    assert not any(outsider.has_perm(p, project) for p in ROLE_PERMISSIONS[Role.OWNER])


def test_without_an_object_no_workspace_permission_is_granted(manager):
    assert not manager.has_perm("boards.assign_batch")


def test_inactive_members_get_nothing(manager, project):
    manager.is_active = False
    manager.save()
    assert not manager.has_perm("boards.view_project", project)


def test_roles_are_read_once_per_user_object(manager, project, make_batch, django_assert_num_queries):
    batches = [make_batch(0) for _ in range(5)]
    manager.workspace_roles()
    with django_assert_num_queries(0):
        for batch in batches:
            batch.project = project
            assert manager.has_perm("boards.assign_batch", batch)


def test_email_is_the_login(client, manager):
    assert client.login(username="MANAGER@acme.test", password="pw")
