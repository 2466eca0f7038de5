"""The dashboard of an `http` service (uid svc-<name>): everything Vigil shows for one
HTTP service lives here — RED at a glance from the recording rules, traffic and
errors by route from the raw counter, latency percentiles, its alerts, deploy
markers, the saturation of its container, its logs and its most frequent errors
(Loki), and the inventory's own panels.
"""

from __future__ import annotations

from typing import Optional

from .. import presets
from ..inventory import Service
from ..kinds import http
from . import containers, slo
from .builder import Dashboard, Row, Target, Thresholds, stat, timeseries
from .common import LOG_SEARCH, alerts_table, deploy_markers, firing_count, matchers, nav, params, service_logs, \
    tags, up_stat, user_panels


def dashboard(service: Service) -> Dashboard:
    inst, _ = presets.resolve(service.instrumentation)
    sel = f'{{service="{service.name}"}}'
    rows = [Row("At a glance", tuple(_glance(service, inst, sel))),
            Row("Traffic and errors", tuple(_traffic(service, inst, sel)))]
    if inst.duration:
        rows.append(Row("Latency", (_latency(service, sel),)))
    rows += slo.rows(service)
    rows += [Row("Alerts", (alerts_table(matchers(service=service.name)),)),
             Row("Saturation", containers.saturation(service.name)),
             Row("Logs and errors", service_logs(service))]
    if service.panels:
        rows.append(Row("Your panels", tuple(user_panels(service))))
    return Dashboard(
        uid=http.dashboard(service), title=f"{service.name}", tags=tags("http", service.team),
        description=f"RED of the http service {service.name} (team {service.team})", variables=(LOG_SEARCH,),
        rows=tuple(rows), links=nav(), annotations=(deploy_markers(service),))


def _error_thresholds(service: Service) -> Optional[Thresholds]:
    p = params(service, "error_rate")
    return None if p is None else Thresholds.rising(float(p["warning"] / 100), float(p["critical"] / 100))


def _latency_thresholds(service: Service) -> Optional[Thresholds]:
    p = params(service, "latency_p95")
    return None if p is None else Thresholds.rising(p["warning"].seconds, p["critical"].seconds)


def _glance(service: Service, inst: presets.Instrumentation, sel: str) -> list:
    panels = [up_stat(matchers(job=service.name)),
              stat("Requests", Target(f"sum({http.REQUESTS}{sel})"), unit="reqps"),
              stat("Errors", Target(f"sum({http.ERROR_RATIO}{sel})"), unit="percentunit",
                   thresholds=_error_thresholds(service), description="Share of 5xx over 5m")]
    if inst.duration:
        panels.append(stat("p95 latency", Target(f"max({http.LATENCY.format(q='p95')}{sel})"), unit="s",
                           thresholds=_latency_thresholds(service)))
    panels.append(firing_count(matchers(service=service.name)))
    return panels


def _traffic(service: Service, inst: presets.Instrumentation, sel: str) -> list:
    route = inst.route_label
    by = f"{route}, {inst.status_label}" if route else inst.status_label
    legend = f"{{{{{route}}}}} {{{{{inst.status_label}}}}}" if route else f"{{{{{inst.status_label}}}}}"
    errors = f'{{service="{service.name}",{inst.status_label}=~"5.."}}'
    err_by, err_legend = (route, f"{{{{{route}}}}}") if route else (inst.status_label, legend)
    return [
        timeseries("Requests by route and status", Target(
            f"sum by ({by}) (rate({inst.requests}{sel}[$__rate_interval]))", legend), unit="reqps", width=12),
        timeseries("5xx by route", Target(
            f"sum by ({err_by}) (rate({inst.requests}{errors}[$__rate_interval]))", err_legend),
            unit="reqps", width=6),
        timeseries("Error ratio", Target(f"{http.ERROR_RATIO}{sel}", "errors"), unit="percentunit", min=0,
                   thresholds=_error_thresholds(service), width=6),
    ]


def _latency(service: Service, sel: str):
    targets = [Target(f"{http.LATENCY.format(q=q)}{sel}", q) for q, _ in http.QUANTILES]
    return timeseries("Latency p50 / p95 / p99", *targets, unit="s", min=0,
                      thresholds=_latency_thresholds(service), width=24)
