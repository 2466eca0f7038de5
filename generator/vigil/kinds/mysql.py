"""kind: mysql — a mysql server watched through mysqld_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "mysql"
DEFAULT_PORT = 9104
SERVER_UP = "mysql_up"        # the exporter reaches the server: 1, or 0
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP)

# Its dashboard (vigil-mysql): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("MySQL", SERVER_UP, [
    ("Connections", f"mysql_global_status_threads_connected{{{S}}}", "{{service}}", "short"),
    ("Max connections", f"mysql_global_variables_max_connections{{{S}}}", "{{service}}", "short"),
    ("Queries", f"rate(mysql_global_status_queries{{{S}}}{R})", "{{service}}", "ops"),
    ("Slow queries", f"rate(mysql_global_status_slow_queries{{{S}}}{R})", "{{service}}", "ops"),
])
