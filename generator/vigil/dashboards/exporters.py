"""Servers watched through their standard exporter (uid vigil-<kind>, `service`
variable): each kind's handful of vital signs, as data, on one shared layout."""

from __future__ import annotations

from .builder import Dashboard, Row, Target, Variable, timeseries
from .common import alerts_table, firing_count, nav, tags, uid_of, up_stat

S = 'service=~"$service"'
R = "[$__rate_interval]"

# kind -> (title, the exporter's own "can I reach the server" gauge, [(panel title, expr, legend, unit)])
VITALS = {
    "postgres": ("PostgreSQL", "pg_up", [
        ("Connections", f"sum by (service, datname) (pg_stat_activity_count{{{S}}})", "{{service}} {{datname}}",
         "short"),
        ("Commits", f"sum by (service) (rate(pg_stat_database_xact_commit{{{S}}}{R}))", "{{service}}", "ops"),
        ("Rollbacks", f"sum by (service) (rate(pg_stat_database_xact_rollback{{{S}}}{R}))", "{{service}}", "ops"),
        ("Database size", f"sum by (service, datname) (pg_database_size_bytes{{{S}}})", "{{service}} {{datname}}",
         "bytes"),
        ("Deadlocks", f"sum by (service) (rate(pg_stat_database_deadlocks{{{S}}}{R}))", "{{service}}", "ops"),
    ]),
    "mysql": ("MySQL", "mysql_up", [
        ("Connections", f"mysql_global_status_threads_connected{{{S}}}", "{{service}}", "short"),
        ("Max connections", f"mysql_global_variables_max_connections{{{S}}}", "{{service}}", "short"),
        ("Queries", f"rate(mysql_global_status_queries{{{S}}}{R})", "{{service}}", "ops"),
        ("Slow queries", f"rate(mysql_global_status_slow_queries{{{S}}}{R})", "{{service}}", "ops"),
    ]),
    "redis": ("Redis", "redis_up", [
        ("Clients", f"redis_connected_clients{{{S}}}", "{{service}}", "short"),
        ("Memory used", f"redis_memory_used_bytes{{{S}}}", "{{service}}", "bytes"),
        ("Commands", f"rate(redis_commands_processed_total{{{S}}}{R})", "{{service}}", "ops"),
        ("Cache hit ratio", f"rate(redis_keyspace_hits_total{{{S}}}{R}) / (rate(redis_keyspace_hits_total{{{S}}}{R})"
                            f" + rate(redis_keyspace_misses_total{{{S}}}{R}))", "{{service}}", "percentunit"),
    ]),
    "nginx": ("nginx", "nginx_up", [
        ("Requests", f"rate(nginx_http_requests_total{{{S}}}{R})", "{{service}}", "reqps"),
        ("Active connections", f"nginx_connections_active{{{S}}}", "{{service}}", "short"),
        ("Waiting connections", f"nginx_connections_waiting{{{S}}}", "{{service}}", "short"),
    ]),
}


def dashboard(kind: str) -> Dashboard:
    title, up_metric, vitals = VITALS[kind]
    glance = (up_stat(f'kind="{kind}",{S}', "Exporter up"), up_stat(S, f"{title} reachable", metric=up_metric),
              firing_count(S))
    panels = tuple(timeseries(name, Target(expr, legend), unit=unit) for name, expr, legend, unit in vitals)
    service = Variable.from_query("service", f'label_values(up{{kind="{kind}"}}, service)', multi=True,
                                  include_all=True)
    return Dashboard(uid=uid_of(kind), title=title, tags=tags(kind), variables=(service,), links=nav(),
                     description=f"{title} servers, through their exporter",
                     rows=(Row("At a glance", glance), Row(title, panels), Row("Alerts", (alerts_table(S),))))
