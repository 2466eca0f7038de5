"""kind: mysql — a mysql server watched through mysqld_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "mysql"
DEFAULT_PORT = 9104
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT)
