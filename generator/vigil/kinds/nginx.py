"""kind: nginx — a nginx server watched through nginx-prometheus-exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "nginx"
DEFAULT_PORT = 9113
SERVER_UP = "nginx_up"        # the exporter reaches the server: 1, or 0
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP)

# Its dashboard (vigil-nginx): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("nginx", SERVER_UP, [
    ("Requests", f"rate(nginx_http_requests_total{{{S}}}{R})", "{{service}}", "reqps"),
    ("Active connections", f"nginx_connections_active{{{S}}}", "{{service}}", "short"),
    ("Waiting connections", f"nginx_connections_waiting{{{S}}}", "{{service}}", "short"),
])
