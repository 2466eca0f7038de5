"""kind: http — a service that serves HTTP and exposes Prometheus metrics.

RED recording rules (rate, errors, duration) over the metric names of its
instrumentation preset, and alerts on them. Dashboards and other services'
queries read the recorded series, never the raw histograms.
"""

from __future__ import annotations

from decimal import Decimal

from .. import presets, slo
from ..inventory import Service
from ..rules import Level, Record, selector, threshold_alerts, threshold_tests
from ..units import Duration, percent_text
from ..runbooks import Runbook
from .base import AlertDefaults, Context, ServicePlan, annotations, scraped_alerts, scraped_plan, service_labels, \
    target_labels

NAME = "http"
FIELDS = {"targets": "required", "instrumentation": True, "slo": True}
ALERTS = {
    **scraped_alerts(),
    "error_rate": AlertDefaults({"warning": Decimal(1), "critical": Decimal(5), "for": Duration.parse("5m")}),
    "latency_p95": AlertDefaults({"warning": Duration.parse("500ms"), "critical": Duration.parse("2s"),
                                  "for": Duration.parse("10m")}),
}
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "HighErrorRate": Runbook(
        "More than the threshold share of its requests answered 5xx over the last 5 minutes.",
        ("Which routes fail: \"5xx by route\" on its dashboard.",
         "What the errors are: \"Top errors\" and the Logs panel (search by a request id).",
         "A deploy just before it started (deploy markers); roll back if so.",
         "Its dependencies' dashboards: a database or upstream that is down shows here first.")),
    "HighLatency": Runbook(
        "Its 95th percentile response time stayed above the threshold: one request in twenty is slower.",
        ("Which routes are slow: the latency panels; is it all of them or one?",
         "Saturation: its container's CPU and memory, the host's CPU and disk I/O.",
         "Slow dependencies: database, cache, upstream HTTP calls.",
         "Traffic: a surge in requests on its dashboard.")),
    slo.ALERT: Runbook(
        "The service is spending the error budget of one of its SLOs (label slo: availability, or latency) "
        "faster than its 30 days allow: critical when 2% of the budget goes within an hour or 5% within six "
        "hours, warning when 10% goes within a day or three days.",
        ("The SLO row of its dashboard: the burn rate over each window, and the budget left.",
         "availability: which routes fail (\"5xx by route\"), its errors and logs; latency: the latency "
         "panels and its saturation.",
         "A deploy just before it started (deploy markers); roll back if so.",
         "A warning can wait for working hours: it asks for a ticket, not a page.")),
}
RATE_WINDOW = Duration.parse("5m")
QUANTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))

# Recorded series, one place for their names (dashboards read these too).
REQUESTS = "service:http_requests:rate5m"
ERRORS = "service:http_errors:rate5m"
ERROR_RATIO = "service:http_error_ratio:rate5m"
LATENCY = "service:http_request_duration_seconds:{q}_rate5m"


def dashboard(service: Service) -> str:
    return f"svc-{service.name}"


def check(service: Service) -> list:
    _, problems = presets.resolve(service.instrumentation)
    return [(("instrumentation",) + path, msg) for path, msg in problems]


def recording_rules(service: Service, inst: presets.Instrumentation) -> list[Record]:
    sel = f'{{service="{service.name}"}}'
    err_sel = f'{{service="{service.name}",{inst.status_label}=~"5.."}}'
    by = "sum by (service, team)"
    rules = [
        Record(REQUESTS, f"{by} (rate({inst.requests}{sel}[{RATE_WINDOW}]))"),
        # `or ... * 0`: a service without a single 5xx yet has an error rate of 0, not "no data".
        Record(ERRORS, f"{by} (rate({inst.requests}{err_sel}[{RATE_WINDOW}])) or {REQUESTS}{sel} * 0"),
        Record(ERROR_RATIO, f"{ERRORS}{sel} / {REQUESTS}{sel}"),
    ]
    if inst.duration:
        for q, phi in QUANTILES:
            rules.append(Record(LATENCY.format(q=q), f"histogram_quantile({phi}, sum by (service, team, le) "
                                                     f"(rate({inst.duration}_bucket{sel}[{RATE_WINDOW}])))"))
    return rules


def plan(service: Service, ctx: Context) -> ServicePlan:
    inst, _ = presets.resolve(service.instrumentation)
    return scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service),
                        lambda params, disabled: red_rules(service, ctx, inst, params, disabled))


def red_rules(service: Service, ctx: Context, inst: presets.Instrumentation, params: dict, disabled) -> tuple:
    dash = dashboard(service)
    rules, tests = list(recording_rules(service, inst)), []
    labels = service_labels(service)
    sel = f'{{service="{service.name}"}}'
    settle = RATE_WINDOW + ctx.timing.scrape
    if "error_rate" not in disabled:
        p = params["error_rate"]
        levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical")]
        alerts = threshold_alerts(
            "HighErrorRate", ERROR_RATIO + sel, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, "HighErrorRate",
                                   f"{service.name}: {{{{ $value | humanizePercentage }}}} of requests fail",
                                   f"{{{{ $value | humanizePercentage }}}} of requests to {service.name} answered "
                                   f"5xx over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for {p['for']}). "
                                   f"See the service dashboard for the failing routes, its logs and errors."))
        rules += alerts
        tests += threshold_tests(alerts, levels, lambda v: _traffic(service, inst, v), labels, ctx.timing,
                                 start=ctx.timing.scrape, settle=settle, cap=1.0)
    if inst.duration and "latency_p95" not in disabled:
        p = params["latency_p95"]
        levels = [Level(s, p[s].seconds, str(p[s])) for s in ("warning", "critical")]
        alerts = threshold_alerts(
            "HighLatency", LATENCY.format(q="p95") + sel, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, "HighLatency",
                                   f"{service.name}: p95 latency {{{{ $value | humanizeDuration }}}}",
                                   f"95% of requests to {service.name} take up to {{{{ $value | humanizeDuration }}}} "
                                   f"({lv.severity} above {lv.text} for {p['for']})."))
        rules += alerts
        tests += threshold_tests(alerts, levels, lambda v: _latency(service, inst, v), labels, ctx.timing,
                                 start=ctx.timing.scrape, settle=settle)
    if service.slo is not None:
        def slo_annotations(summary, description):
            return annotations(ctx, service, dash, slo.ALERT, summary, description)
        rules += slo.rules(service, inst, labels, slo_annotations)
        tests += slo.tests(service, inst, _labels(service, {}), labels, slo_annotations)
    return rules, tests


def _labels(service: Service, extra: dict) -> dict:
    return {"job": service.name, "instance": service.targets[0], **target_labels(service), **extra}


def _traffic(service: Service, inst: presets.Instrumentation, ratio: float):
    """100 requests a sample, `ratio` of them 5xx."""
    errors = round(100 * ratio, 6)
    return [(selector(inst.requests, _labels(service, {inst.status_label: "200"})), f"0+{round(100 - errors, 6)}x{{n}}"),
            (selector(inst.requests, _labels(service, {inst.status_label: "500"})), f"0+{errors}x{{n}}")]


def _latency(service: Service, inst: presets.Instrumentation, p95: float):
    """Every request in the first bucket, whose bound puts the 95th percentile at `p95`."""
    bound = p95 / 0.95
    return [(selector(f"{inst.duration}_bucket", _labels(service, {"le": repr(bound)})), "0+10x{n}"),
            (selector(f"{inst.duration}_bucket", _labels(service, {"le": "+Inf"})), "0+10x{n}")]
