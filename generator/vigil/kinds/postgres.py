"""kind: postgres — a postgres server watched through postgres_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "postgres"
DEFAULT_PORT = 9187
SERVER_UP = "pg_up"        # the exporter reaches the server: 1, or 0
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP)

# Its dashboard (vigil-postgres): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("PostgreSQL", SERVER_UP, [
    ("Connections", f"sum by (service, datname) (pg_stat_activity_count{{{S}}})", "{{service}} {{datname}}",
     "short"),
    ("Commits", f"sum by (service) (rate(pg_stat_database_xact_commit{{{S}}}{R}))", "{{service}}", "ops"),
    ("Rollbacks", f"sum by (service) (rate(pg_stat_database_xact_rollback{{{S}}}{R}))", "{{service}}", "ops"),
    ("Database size", f"sum by (service, datname) (pg_database_size_bytes{{{S}}})", "{{service}} {{datname}}",
     "bytes"),
    ("Deadlocks", f"sum by (service) (rate(pg_stat_database_deadlocks{{{S}}}{R}))", "{{service}}", "ops"),
])
