"""``/health/`` for load balancers: the database, both caches and the file storage, checked on each call.

django-health-check runs the checks (each with its own time budget) and answers HTML, JSON
(``Accept: application/json`` or ``?format=json``) or plain text. A failed check answers 503, the
status load balancers and orchestrators read as "take this server out", rather than the
library's 500.
"""

from __future__ import annotations

from health_check.checks import Database as LibraryDatabase
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


class Database(LibraryDatabase):
    """The library's database check, saying only that the database did not answer: its own
    message names the database server's address, and this page is public."""

    def run(self):
        try:
            super().run()
        except ServiceUnavailable:
            raise ServiceUnavailable("The database did not answer.") from None


CHECKS = (
    Database,
    ("health_check.checks.Cache", {"alias": "default"}),
    ("health_check.checks.Cache", {"alias": "boards"}),
    "health_check.checks.Storage",
)


class HealthView(HealthCheckView):
    checks = CHECKS

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response
