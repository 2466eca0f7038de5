"""The overview (uid vigil-overview): every service at a glance, one row each, with
a link to the dashboard its alerts link to; filterable by team.

It reads one series per service — `up`, the probes, ALERTS and the RED recording
rules — never a raw histogram, so it stays one cheap instant query per column
however many services there are.
"""

from __future__ import annotations

from ..inventory import Inventory
from ..kinds import KINDS, http
from ..kinds.base import PROBE_JOB
from .builder import UP_DOWN, Column, Dashboard, Link, Row, Target, Thresholds, Variable, stat, table, timeseries
from .common import ALERTS, NO_TRAFFIC, OVERVIEW, dashboard_path, nav, tags
from .slo import overview_row

T = 'team=~"$team"'
SCRAPED = f'job!="{PROBE_JOB}",kind!="stack"'


def _defaults(alert: str) -> dict:
    return http.ALERTS[alert].params


ERROR_THRESHOLDS = Thresholds.rising(float(_defaults("error_rate")["warning"] / 100),
                                     float(_defaults("error_rate")["critical"] / 100))
LATENCY_THRESHOLDS = Thresholds.rising(_defaults("latency_p95")["warning"].seconds,
                                       _defaults("latency_p95")["critical"].seconds)


def status_expr(kinds: list[str]) -> str:
    """Whether each service is up (its targets answer, or its probe succeeds), labelled
    `dashboard` with the path its alerts link to, from each kind's own uid scheme."""
    by_path: dict[str, list[str]] = {}
    for kind in kinds:
        by_path.setdefault(dashboard_path(kind, "$1"), []).append(kind)
    terms = []
    for path, group in by_path.items():
        if group == ["probe"]:
            source = f'probe_success{{job="{PROBE_JOB}",kind="probe",{T}}}'
        else:
            source = f'up{{job!="{PROBE_JOB}",kind=~"{"|".join(group)}",{T}}}'
        terms.append(f'label_replace(min by (service, team, kind) ({source}), "dashboard", "{path}", '
                     f'"service", "(.*)")')
    return "\n  or ".join(terms)


def _firing_expr() -> str:
    services = (f'group by (service, team) (up{{{SCRAPED},{T}}} '
                f'or probe_success{{job="{PROBE_JOB}",kind="probe",{T}}})')
    return (f'(sum by (service, team) (ALERTS{{alertstate="firing",severity!="info",{T}}}) '
            f"and on (service, team) {services})\nor 0 * {services}")


def dashboard(inventory: Inventory) -> Dashboard:
    # Every kind, present or not: the query costs nothing more, and the dashboard
    # does not change when the last service of a kind leaves the inventory.
    has_http = any(s.kind == "http" for s in inventory.services)
    columns = [Column("Up", status_expr(list(KINDS)), mappings=(UP_DOWN,))]
    if has_http:
        columns += [Column("Requests", f"{http.REQUESTS}{{{T}}}", unit="reqps", decimals=2),
                    Column("Errors", f"{http.ERROR_RATIO}{{{T}}}", unit="percentunit",
                           thresholds=ERROR_THRESHOLDS, decimals=2, mappings=(NO_TRAFFIC,)),
                    Column("p95", f"{http.LATENCY.format(q='p95')}{{{T}}}", unit="s",
                           thresholds=LATENCY_THRESHOLDS, mappings=(NO_TRAFFIC,))]
    columns.append(Column("Firing alerts", _firing_expr(), thresholds=Thresholds.rising(critical=1)))
    services = table("Services", columns, ["service", "team", "kind"], hidden=["dashboard"],
                     label_titles={"service": "Service", "team": "Team", "kind": "Kind"},
                     links={"service": Link("Open its dashboard", "/d/${__data.fields.dashboard}")},
                     height=max(6, min(24, 3 + len(inventory.services))),
                     description="One row per service; click its name for its dashboard")
    rows = [Row("At a glance", tuple(_glance(has_http))), Row("Services", (services,))]
    if has_http:
        rows.append(Row(f"Top {TOP} http services", tuple(_top())))
    if any(s.kind == "http" and s.slo is not None for s in inventory.services):
        rows.append(overview_row(T))
    team = Variable.from_query("team", 'label_values(up{kind!="stack"}, team)', multi=True, include_all=True)
    return Dashboard(uid=OVERVIEW, title="Overview", tags=tags("overview"), rows=tuple(rows),
                     description="Every service at a glance", variables=(team,), links=nav())


def _mean(metric: str) -> str:
    """Every service's recorded rate summed, as the mean within each step (the sparklines', like the graphs)."""
    return f"sum(avg_over_time({metric}{{{T}}}[$__rate_interval]))"


def _glance(has_http: bool) -> list:
    panels = [
        stat("Targets up", Target(f"sum(up{{{SCRAPED},{T}}})")),
        stat("Targets down", Target(f"count(up{{{SCRAPED},{T}}} == 0) or vector(0)"),
             thresholds=Thresholds.rising(critical=1)),
        stat("Probes failing", Target(f'count(probe_success{{job="{PROBE_JOB}",{T}}} == 0) or vector(0)'),
             thresholds=Thresholds.rising(critical=1)),
        stat("Firing alerts", Target(f'count(ALERTS{{alertstate="firing",severity!="info",{T}}}) or vector(0)'),
             thresholds=Thresholds.rising(critical=1), links=(Link("Alerts", f"/d/{ALERTS}"),)),
    ]
    if has_http:
        panels += [stat("Requests", Target(_mean(http.REQUESTS)), unit="reqps", sparkline=True),
                   stat("Errors", Target(f"{_mean(http.ERRORS)} / {_mean(http.REQUESTS)}"),
                        unit="percentunit", thresholds=ERROR_THRESHOLDS, mappings=(NO_TRAFFIC,), sparkline=True)]
    return panels


# Ranked among services with at least this much traffic (requests per second over 5m, i.e. one
# request a minute): a service that served one request, a failed one, is not the worst of all.
TRAFFIC_FLOOR = 1 / 60
TOP = 10


def ranked(metric: str, over: str, floor: bool = True) -> str:
    """The TOP services by `metric` at the end of the range, and only those, over the whole range:
    ranked once (`@ end()`), so the panel shows exactly TOP series, not the union of each step's top.
    Each step shows the `over` (max, avg) of the recorded series within it, whatever the range;
    a step without traffic (NaN) is a gap."""
    now = f"{metric}{{{T}}} @ end()"
    if floor:
        now += f" and on (service) {http.REQUESTS}{{{T}}} @ end() >= {TRAFFIC_FLOOR:.6g}"
    return f"({over}_over_time({metric}{{{T}}}[$__rate_interval]) >= 0) and on (service) topk({TOP}, {now})"


def _top() -> list:
    floor = f"ranked among services with at least {TRAFFIC_FLOOR * 60:g} request a minute"
    return [
        timeseries("Requests", Target(ranked(http.REQUESTS, "avg", floor=False), "{{service}}"), unit="reqps",
                   description=f"The {TOP} busiest services now, over the range"),
        timeseries("Error ratio", Target(ranked(http.ERROR_RATIO, "max"), "{{service}}"),
                   unit="percentunit", min=0, description=f"The {TOP} highest error ratios now, {floor}"),
        timeseries("p95 latency", Target(ranked(http.LATENCY.format(q="p95"), "max"), "{{service}}"),
                   unit="s", min=0, description=f"The {TOP} slowest services now, {floor}"),
    ]
