"""kind: redis — a redis server watched through redis_exporter.

For now: the exporter's scrape job and the down alert.
"""

from __future__ import annotations

from ..inventory import Service
from .base import Context, ServicePlan, scraped_alerts, scraped_plan

NAME = "redis"
FIELDS = {"targets": "optional"}
DEFAULT_PORT = 9121
ALERTS = scraped_alerts()


def dashboard(service: Service) -> str:
    return f"vigil-redis?var-service={service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    targets = service.targets or [f"{service.name}-exporter:{DEFAULT_PORT}"]
    return scraped_plan(service, ctx, ALERTS, targets, dashboard(service))
