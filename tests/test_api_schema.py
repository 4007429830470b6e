"""The OpenAPI description: valid, readable, and no input to it makes the API fail with a 5xx.

The schemathesis run is bounded (20 examples per operation) and talks to the
live test server only.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.roles import Role
from boards.models import LabelClass
from tests.factories import BatchFactory, ImageFactory, MembershipFactory, ProjectFactory, UserFactory, WorkspaceFactory


def test_the_description_lists_every_api_url(client):
    from django.urls import get_resolver

    described = client.get("/api/openapi.json").json()
    assert described["openapi"].startswith("3.")
    assert described["servers"] == [{"url": "http://testserver/api"}]
    resolver = get_resolver("boards.api_urls")
    served = {str(p.pattern) for p in resolver.url_patterns} - {"", "openapi.json"}
    assert len(described["paths"]) == len(served) + 1  # "/" is the root


def test_the_reference_page_renders_every_operation(client):
    page = client.get("/docs/api/").content.decode()
    described = client.get("/api/openapi.json").json()
    for path, item in described["paths"].items():
        for method in item.keys() - {"parameters"}:
            assert f'id="{item[method]["operationId"]}"' in page, (method, path)
    assert "API_URL=http://testserver/api" in page


@pytest.fixture
def demo(transactional_db, settings, make_key):
    """The workspace and project the description's examples name, with a key for all scopes."""
    settings.API_RATE_LIMIT = 0
    workspace = WorkspaceFactory(name="Demo", slug="demo")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user=UserFactory()).user
    project = ProjectFactory(workspace=workspace, slug="parcels")
    LabelClass.objects.create(project=project, name="car")
    for n in range(3):
        batch = BatchFactory(project=project, name=f"Batch {n}")
        for _ in range(2):
            ImageFactory(project=project, batch=batch)
    return make_key(manager, workspace=workspace)


@pytest.fixture
def api_schema(live_server, demo):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_answer_with_a_server_error(case, demo):
    case.call_and_validate(headers={"Authorization": f"Bearer {demo}"}, checks=CHECKS, timeout=30)


def test_the_descriptions_enums_are_the_models_choices(client):
    from accounts.models import ApiScope
    from boards.models import PRIORITY_HIGHEST, PRIORITY_LOWEST, AnnotationState, BatchStatus, JobState, Split
    from boards.services import TAG_OPERATIONS

    described = client.get("/api/openapi.json").json()
    schemas = described["components"]["schemas"]
    assert schemas["Batch"]["properties"]["status"]["enum"] == BatchStatus.values
    priority = schemas["Batch"]["properties"]["priority"]
    assert (priority["minimum"], priority["maximum"]) == (PRIORITY_HIGHEST, PRIORITY_LOWEST)
    assert len(schemas["Job"]["properties"]["status"]["enum"]) == len(JobState.values)
    assert schemas["Job"]["properties"]["batchStatus"]["enum"] == BatchStatus.values
    assert schemas["Image"]["properties"]["split"]["enum"] == Split.values
    assert set(AnnotationState.values) < set(schemas["Image"]["properties"]["status"]["enum"])
    paths = described["paths"]
    move = paths["/{ws}/{project}/batches/{batch_id}/move"]["post"]["requestBody"]["content"]["application/json"]
    assert move["schema"]["properties"]["to"]["enum"] == BatchStatus.values
    tags = paths["/{ws}/{project}/images/{image_id}/tags"]["post"]["requestBody"]["content"]["application/json"]
    assert tags["schema"]["properties"]["operation"]["enum"] == list(TAG_OPERATIONS)
    assert all(scope in described["info"]["description"] for scope in ApiScope.values)
