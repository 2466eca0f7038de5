"""The dashboard of an `http` service (uid svc-<name>): everything Vigil shows for one
HTTP service lives here — RED at a glance from the recording rules, each instance's up, RED
and p95 (`instance` variable), traffic and errors by route (`route` variable, where the preset
has a route label) and by status class from the raw counter, latency percentiles, p95 by
route and the latency heatmap from the buckets, its alerts, deploy markers, the saturation
of its processes and container, its logs and its most frequent errors (Loki), and the
inventory's own panels.
"""

from __future__ import annotations

from typing import Optional

from .. import presets
from ..inventory import Service
from ..kinds import http
from . import containers, process, slo, tracker
from .builder import UP_DOWN, Column, Dashboard, Row, Target, Thresholds, Variable, heatmap, stat, table, timeseries
from .common import LOG_SEARCH, NO_TRAFFIC, alerts_table, deploy_markers, firing_count, instances_up, matchers, nav, \
    params, service_logs, tags, up_timeseries, user_panels

RATE = "[$__rate_interval]"
P95 = dict(http.QUANTILES)["p95"]      # the recorded p95's quantile, computed here from the buckets too


def dashboard(service: Service) -> Dashboard:
    inst, _ = presets.resolve(service.instrumentation)
    q = Queries(service, inst)
    rows = [Row("At a glance", tuple(_glance(service, inst, q))),
            Row("Instances", tuple(_instances(service, inst, q))),
            Row("Traffic and errors", tuple(_traffic(service, inst, q)))]
    if inst.duration:
        rows.append(Row("Latency", tuple(_latency(service, inst, q))))
    rows += slo.rows(service)
    rows += [Row("Alerts", (alerts_table(matchers(service=service.name)),)),
             Row("Saturation", process.saturation(q.up, inst.process) + containers.saturation(service.name)),
             Row("Logs and errors", service_logs(service))]
    rows += tracker.rows(service)
    if service.panels:
        rows.append(Row("Your panels", tuple(user_panels(service))))
    variables = [Variable.from_query("instance", f"label_values(up{{{matchers(job=service.name)}}}, instance)",
                                     multi=True, include_all=True)]
    if inst.route_label:
        variables.append(Variable.from_query(
            "route", f'label_values({inst.requests}{{service="{service.name}"}}, {inst.route_label})',
            multi=True, include_all=True))
    return Dashboard(
        uid=http.dashboard(service), title=f"{service.name}", tags=tags("http", service.team),
        description=f"RED of the http service {service.name} (team {service.team})",
        variables=(*variables, LOG_SEARCH), rows=tuple(rows), links=nav(), annotations=(deploy_markers(service),))


class Queries:
    """The selectors of one service: its recorded series (service-wide), its raw counter and
    histogram narrowed by the `instance` and `route` variables, its targets' `up`."""

    def __init__(self, service: Service, inst: presets.Instrumentation):
        self.inst = inst
        self.recorded = f'{{service="{service.name}"}}'
        own = f'service="{service.name}",instance=~"$instance"'
        self.raw = own + (f',{inst.route_label}=~"$route"' if inst.route_label else "")
        # (a histogram without the route label is narrowed by instance only)
        self.raw_duration = self.raw if inst.duration_by_route else own
        self.server_errors = f",{inst.server_errors}"      # added to `raw`: the 5xx answers
        self.up = f'{matchers(job=service.name)},instance=~"$instance"'

    def rate(self, by: str, extra: str = "") -> str:
        return f"sum by ({by}) (rate({self.inst.requests}{{{self.raw}{extra}}}{RATE}))"

    def buckets(self, by: str) -> str:
        return f"sum by ({by}) (rate({self.inst.duration}_bucket{{{self.raw_duration}}}{RATE}))"

    def error_ratio(self, by: str) -> str:
        """5xx over all requests; no series (not NaN) where there was no traffic."""
        errors = self.rate(by, self.server_errors)
        return f"({errors} or {self.rate(by)} * 0) / ({self.rate(by)} > 0)"

    def quantile(self, phi: str, by: str = "") -> str:
        """A quantile from the buckets; no series (not NaN) where there was no traffic."""
        by_le = f"{by}, le" if by else "le"
        return f"histogram_quantile({phi}, {self.buckets(by_le)}) >= 0"


def _error_thresholds(service: Service) -> Optional[Thresholds]:
    p = params(service, "error_rate")
    return None if p is None else _levels(p, lambda v: float(v / 100))


def _latency_thresholds(service: Service) -> Optional[Thresholds]:
    p = params(service, "latency_p95")
    return None if p is None else _levels(p, lambda v: v.seconds)


def _levels(p: dict, value) -> Thresholds:
    """Orange from the alert's warning, red from its critical, where it has them (with an SLO for
    the signal it has no critical: ErrorBudgetBurn pages)."""
    return Thresholds.rising(*(value(p[k]) if k in p else None for k in ("warning", "critical")))


def _glance(service: Service, inst: presets.Instrumentation, q: Queries) -> list:
    sel = q.recorded
    # (sparklines: the mean, or the worst, of the recorded series within each step, as the graphs)
    panels = [instances_up(q.up),
              stat("Requests", Target(f"sum(avg_over_time({http.REQUESTS}{sel}{RATE}))"), unit="reqps",
                   sparkline=True,
                   description=f"Requests per second over {http.RATE_WINDOW}, every instance and route"),
              stat("Errors", Target(f"sum(max_over_time({http.ERROR_RATIO}{sel}{RATE}))"), unit="percentunit",
                   mappings=(NO_TRAFFIC,),
                   sparkline=True, no_value="no traffic",
                   thresholds=_error_thresholds(service), description=f"Share of 5xx over {http.RATE_WINDOW}, every instance")]
    if inst.duration:
        panels.append(stat("p95 latency", Target(f"max({http.LATENCY.format(q='p95')}{sel})"), unit="s",
                           thresholds=_latency_thresholds(service), mappings=(NO_TRAFFIC,), no_value="no traffic"))
    panels.append(firing_count(matchers(service=service.name)))
    return panels


def _instances(service: Service, inst: presets.Instrumentation, q: Queries) -> list:
    columns = [Column("Up", f"max by (instance) (up{{{q.up}}})", mappings=(UP_DOWN,)),
               Column("Requests", q.rate("instance"), unit="reqps", decimals=2),
               Column("Errors", q.error_ratio("instance"), unit="percentunit", decimals=2,
                      thresholds=_error_thresholds(service))]
    graphs = [timeseries("Requests by instance", Target(q.rate("instance"), "{{instance}}"), unit="reqps", min=0),
              timeseries("Error ratio by instance", Target(q.error_ratio("instance"), "{{instance}}"),
                         unit="percentunit", min=0, thresholds=_error_thresholds(service),
                         description="Gaps: no requests to that instance")]
    if inst.duration:
        columns.append(Column("p95", q.quantile(P95, "instance"), unit="s", thresholds=_latency_thresholds(service)))
        graphs.append(timeseries("p95 by instance", Target(q.quantile(P95, "instance"), "{{instance}}"), unit="s",
                                 min=0, thresholds=_latency_thresholds(service),
                                 description="From the histogram's buckets; gaps: no requests to that instance"))
    return [
        table("Each instance", columns, ["instance"], label_titles={"instance": "Instance"}, width=12, height=8,
              description="Now, per instance (over the last rate window); an empty cell: no requests"),
        up_timeseries(q.up).sized(12),
        *(g.sized(24 // len(graphs)) for g in graphs),
    ]


def _traffic(service: Service, inst: presets.Instrumentation, q: Queries) -> list:
    route, status = inst.route_label, inst.status_label
    # (label_replace: the class of a status, "503" -> "5xx"; presets that group codes already say "5xx")
    classes = (f'sum by (class) (label_replace(rate({inst.requests}{{{q.raw}}}{RATE}), "class", "${{1}}xx", '
               f'"{status}", "([0-9]).*"))')
    panels = [timeseries(
        "Requests by route and status" if route else "Requests by status",
        Target(q.rate(f"{route}, {status}" if route else status),
               f"{{{{{route}}}}} {{{{{status}}}}}" if route else f"{{{{{status}}}}}"), unit="reqps", width=12),
        timeseries("Requests by status class", Target(classes, "{{class}}"), unit="reqps", stack=True, width=12,
                   description="2xx, 3xx, 4xx (the clients' mistakes) and 5xx (the service's)")]
    if route:
        panels.append(timeseries("5xx by route", Target(q.rate(route, q.server_errors), f"{{{{{route}}}}}"), unit="reqps",
                                 width=12))
    else:     # the preset's counter has no route label: say what the split really is
        panels.append(timeseries("5xx by status", Target(q.rate(status, q.server_errors), f"{{{{{status}}}}}"), unit="reqps",
                                 width=12, description=f"{inst.requests} has no route label"))
    panels.append(timeseries("Error ratio", Target(q.error_ratio("service"), "errors"), unit="percentunit", min=0,
                             thresholds=_error_thresholds(service), width=12,
                             description="Share of 5xx of the selected instances and routes; gaps: no requests"))
    return panels


def _latency(service: Service, inst: presets.Instrumentation, q: Queries) -> list:
    # Recorded every evaluation: the worst of each step, so a spike shows however wide the range
    # (`>= 0`: a step without traffic, NaN, is a gap).
    targets = [Target(f"max_over_time({http.LATENCY.format(q=name)}{q.recorded}{RATE}) >= 0", name)
               for name, _ in http.QUANTILES]
    panels = [timeseries("Latency p50 / p95 / p99", *targets, unit="s", min=0,
                         thresholds=_latency_thresholds(service), width=12,
                         description="Service-wide, from the recording rules: the highest value in each step")]
    if inst.route_label and inst.duration_by_route:
        panels.append(timeseries("p95 by route", Target(q.quantile(P95, inst.route_label),
                                                        f"{{{{{inst.route_label}}}}}"),
                                 unit="s", min=0, thresholds=_latency_thresholds(service), width=12))
    every_route = "" if inst.duration_by_route else f" (of every route: {inst.duration} has no route label)"
    panels.append(heatmap("Latency heatmap", q.buckets("le"), width=24,
                          description=f"Requests per second by latency bucket{every_route}"))
    return panels
