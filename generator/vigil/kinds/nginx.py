"""kind: nginx — a nginx server watched through nginx-prometheus-exporter.

stub_status tells little: connection counts and the total of requests. Down (the
exporter unscraped or unable to read stub_status), too many active connections,
and connections dropped (accepted but not handled: worker_connections or a
resource limit reached). No alert on the request rate: stub_status counts every
request (health checks and the exporter's own scrapes too) without status or
route, so a fall in it says nothing a probe or the upstream's own alerts do not.
"""

from __future__ import annotations

from ..inventory import Service
from ..rules import Level, rate_threshold_tests, selector, steady, threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration
from .base import AlertDefaults, Context, annotations, exporter_kind, service_labels, target_labels


NAME = "nginx"
DEFAULT_PORT = 9113
SERVER_UP = "nginx_up"        # the exporter reaches the server: 1, or 0
RATE_WINDOW = Duration.parse("5m")

KIND_ALERTS = {
    # active client connections (idle keep-alive ones included); set below worker_processes x worker_connections.
    "connections": AlertDefaults({"warning": 1000.0, "critical": 2000.0, "for": Duration.parse("5m")}),
    # connections accepted but not handled, per second over 5m: any at all, by default.
    "dropped": AlertDefaults({"warning": 0.0, "for": Duration.parse("1m")}),
}

RUNBOOKS = {
    "NginxTooManyConnections": Runbook(
        "nginx holds more client connections than the threshold; at worker_processes × worker_connections it "
        "stops accepting (NginxDroppedConnections).",
        ("\"Active connections\" against \"Waiting connections\" on its nginx dashboard: many idle keep-alive "
         "connections (lower `keepalive_timeout`) or many busy ones (slow upstreams)?",
         "A traffic surge: \"Requests\"; slow upstreams: their own dashboards and latency alerts.",
         "The limits: `worker_connections` and `worker_rlimit_nofile` in nginx.conf, `ulimit -n`.")),
    "NginxDroppedConnections": Runbook(
        "nginx accepted connections it did not handle: it ran out of worker_connections or file descriptors. "
        "Those clients got nothing.",
        ("nginx's error log: \"worker_connections are not enough\" or \"Too many open files\".",
         "\"Active connections\" on its nginx dashboard against worker_processes × worker_connections.",
         "Raise `worker_connections` together with `worker_rlimit_nofile` (and the service's file limit).")),
}


def kind_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple[list, list]:
    name, dash = service.name, dashboard(service)
    target = (service.targets or [f"{name}-exporter:{DEFAULT_PORT}"])[0]
    base = {"job": name, "instance": target, **target_labels(service)}
    labels = service_labels(service)
    sel = f'{{service="{name}"}}'
    rules, tests = [], []

    def levels(p, text):
        return [Level(s, p[s], text(p[s])) for s in ("warning", "critical") if s in p]

    if "connections" not in disabled:
        p, alertname = params["connections"], "NginxTooManyConnections"
        lv = levels(p, lambda x: f"{x:g}")
        alerts = threshold_alerts(
            alertname, steady(f"nginx_connections_active{sel}", ctx.timing), lv, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, alertname,
                                   f"{name}: {{{{ $value | humanize }}}} active connections",
                                   f"nginx {{{{ $labels.instance }}}} holds {{{{ $value | humanize }}}} client "
                                   f"connections ({lv.severity} above {lv.text} for {p['for']})."))
        rules += alerts
        tests += threshold_tests(alerts, lv, lambda v: [(selector("nginx_connections_active", base), f"{v}x{{n}}")],
                                 base, ctx.timing, gap=True)
    if "dropped" not in disabled:
        p, alertname = params["dropped"], "NginxDroppedConnections"
        lv = levels(p, lambda x: f"{x:g}/s")
        alerts = threshold_alerts(
            alertname, f"rate(nginx_connections_accepted{sel}[{RATE_WINDOW}]) - "
                       f"rate(nginx_connections_handled{sel}[{RATE_WINDOW}])", lv, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, alertname,
                                   f"{name}: connections dropped",
                                   f"nginx {{{{ $labels.instance }}}} dropped {{{{ $value | humanize }}}} connections "
                                   f"a second over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for "
                                   f"{p['for']}): accepted, never handled. It is out of worker_connections or "
                                   f"file descriptors."))
        rules += alerts
        step = ctx.timing.scrape.seconds

        def traffic(v):
            """10 connections handled a second, and `v` a second accepted on top of them."""
            return [(selector("nginx_connections_accepted", base), f"0+{round((10 + v) * step, 9)}x{{n}}"),
                    (selector("nginx_connections_handled", base), f"0+{10 * step}x{{n}}")]
        tests += rate_threshold_tests(alerts, lv, traffic, base, ctx.timing, RATE_WINDOW)
    return rules, tests


FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP, KIND_ALERTS, kind_rules)

# Its dashboard (vigil-nginx): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("nginx", SERVER_UP, [
    ("Requests", f"rate(nginx_http_requests_total{{{S}}}{R})", "{{service}}", "reqps"),
    ("Active connections", f"nginx_connections_active{{{S}}}", "{{service}}", "short"),
    ("Waiting connections", f"nginx_connections_waiting{{{S}}}", "{{service}}", "short"),
    ("Reading connections", f"nginx_connections_reading{{{S}}}", "{{service}}", "short"),
    ("Writing connections", f"nginx_connections_writing{{{S}}}", "{{service}}", "short"),
    ("Accepted connections", f"rate(nginx_connections_accepted{{{S}}}{R})", "{{service}}", "ops"),
    ("Dropped connections", f"rate(nginx_connections_accepted{{{S}}}{R}) - rate(nginx_connections_handled{{{S}}}{R})",
     "{{service}}", "ops"),
    ("Requests per connection", f"rate(nginx_http_requests_total{{{S}}}{R}) / rate(nginx_connections_handled{{{S}}}{R})",
     "{{service}}", "short"),
])
