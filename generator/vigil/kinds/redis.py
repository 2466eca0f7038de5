"""kind: redis — a redis server watched through redis_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "redis"
DEFAULT_PORT = 9121
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT)
