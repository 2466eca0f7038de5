"""kind: nginx — a nginx server watched through nginx-prometheus-exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "nginx"
DEFAULT_PORT = 9113
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT)
