"""kind: postgres — a postgres server watched through postgres_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "postgres"
DEFAULT_PORT = 9187
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT)
