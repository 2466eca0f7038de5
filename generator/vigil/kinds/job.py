"""kind: job — a worker or batch process with a /metrics endpoint.

Vigil knows nothing of its metrics: it is scraped and watched for being down;
the rest is the inventory's own `rules` and `panels`.
"""

from __future__ import annotations

from ..inventory import Service
from .base import Context, ServicePlan, scraped_alerts, scraped_plan

NAME = "job"
FIELDS = {"targets": "required"}
ALERTS = scraped_alerts()


def dashboard(service: Service) -> str:
    return f"svc-{service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    return scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service))
