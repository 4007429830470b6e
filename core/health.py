"""``/health/`` for load balancers: the database, both caches and the file storage, checked on each call.

django-health-check runs the checks (each with its own time budget) and answers HTML, JSON
(``Accept: application/json`` or ``?format=json``) or plain text. A failed check answers 503, the
status load balancers and orchestrators read as "take this server out", rather than the
library's 500.
"""

from __future__ import annotations

from health_check.views import HealthCheckView

CHECKS = (
    "health_check.checks.Database",
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
