"""kind: http — a service that serves HTTP and exposes Prometheus metrics.

RED recording rules (rate, errors, duration) over the metric names of its
instrumentation preset, and alerts on them. Dashboards and other services'
queries read the recorded series, never the raw histograms.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

from .. import failing_routes, presets, slo
from ..humanize import humanize_percentage
from ..inventory import Service
from ..rules import Alert, Level, Record, RuleTest, firing_tests, promql_number, selector, silent_test, \
    threshold_alerts, threshold_tests, untied
from ..units import Duration, percent_text
from ..runbooks import Runbook
from .base import AlertDefaults, Context, ServicePlan, annotations, scraped_alerts, scraped_plan, service_labels, \
    target_labels

NAME = "http"
FIELDS = {"targets": "required", "instrumentation": True, "slo": True}
# Requests in the alerts' 5-minute window below which HighErrorRate and HighLatency stay quiet: one
# failure among a handful of requests is no emergency (30 in 5 minutes: 0.1 a second). 0 turns it off.
MIN_REQUESTS = 30.0
ALERTS = {
    **scraped_alerts(),
    "error_rate": AlertDefaults({"warning": Decimal(1), "critical": Decimal(5), "for": Duration.parse("5m"),
                                 "min_requests": MIN_REQUESTS}),
    "latency_p95": AlertDefaults({"warning": Duration.parse("500ms"), "critical": Duration.parse("2s"),
                                  "for": Duration.parse("10m"), "min_requests": MIN_REQUESTS}),
    "metrics_missing": AlertDefaults({"for": Duration.parse("10m")}),
}
# One outage, one page: where an SLO watches the same signal, its burn-rate alert is the page, and the
# threshold alert only warns (the critical burn silences it too: routing.py). SLO -> (alerts key, alertname).
SLO_SIGNALS = {"availability": ("error_rate", "HighErrorRate"), "latency": ("latency_p95", "HighLatency")}


def alerts_for(service: Service) -> dict:
    """ALERTS as they apply to the service: no critical level where an SLO pages for the signal."""
    specs = dict(ALERTS)
    for objective, (key, alertname) in SLO_SIGNALS.items():
        if service.slo is not None and getattr(service.slo, objective) is not None:
            spec = ALERTS[key]
            specs[key] = replace(spec, params={k: v for k, v in spec.params.items() if k != "critical"},
                                 refused={"critical": f"with slo.{objective}, {slo.ALERT} is the page for it: "
                                                      f"{alertname} only warns (remove critical here, or the SLO)"})
    return specs


# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "HighErrorRate": Runbook(
        "More than the threshold share of its requests answered 5xx over the last 5 minutes, among at least "
        "`min_requests` requests (30 by default). With an availability SLO it only warns: ErrorBudgetBurn pages.",
        ("Which routes fail: the message names the worst (where its metrics carry a route), \"5xx by route\" "
         "on its dashboard shows them all.",
         "What the errors are: \"Top errors\" and the Logs panel (search by a request id).",
         "A deploy just before it started (deploy markers); roll back if so.",
         "Its dependencies' dashboards: a database or upstream that is down shows here first.")),
    "HighLatency": Runbook(
        "Its 95th percentile response time stayed above the threshold: one request in twenty is slower "
        "(among at least `min_requests` requests in 5 minutes). With a latency SLO it only warns.",
        ("Which routes are slow: the latency panels; is it all of them or one?",
         "Saturation: its container's CPU and memory, the host's CPU and disk I/O.",
         "Slow dependencies: database, cache, upstream HTTP calls.",
         "Traffic: a surge in requests on its dashboard.")),
    "RequestMetricsMissing": Runbook(
        "The service answers its scrape but exports none of the request metrics its instrumentation preset "
        "names: its RED panels, HighErrorRate, HighLatency and its SLOs see nothing, so they cannot fire.",
        ("A deploy renamed them (a library upgrade, another preset): compare its /metrics with the preset "
         "(docs/inventory.md) and fix `instrumentation`.",
         "The metrics middleware is off or not mounted in this build.",
         "Or it has served no request since it started: client libraries export a labelled counter only "
         "after its first request.")),
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
# The buckets' rates, summed over instances and routes once: every quantile and the latency alert's
# traffic guard (the +Inf bucket counts every request) read this instead of the raw buckets.
BUCKETS = "service:http_request_duration_seconds_bucket:rate5m"


def dashboard(service: Service) -> str:
    return f"svc-{service.name}"


def check(service: Service) -> list:
    _, problems = presets.resolve(service.instrumentation)
    return [(("instrumentation",) + path, msg) for path, msg in problems]


def recording_rules(service: Service, inst: presets.Instrumentation) -> list[Record]:
    sel = f'{{service="{service.name}"}}'
    err_sel = f'{{service="{service.name}",{inst.server_errors}}}'
    by = "sum by (service, team)"
    rules = [
        Record(REQUESTS, f"{by} (rate({inst.requests}{sel}[{RATE_WINDOW}]))"),
        # `or ... * 0`: a service without a single 5xx yet has an error rate of 0, not "no data".
        Record(ERRORS, f"{by} (rate({inst.requests}{err_sel}[{RATE_WINDOW}])) or {REQUESTS}{sel} * 0"),
        # Over no traffic the ratio is absent, not NaN (0/0).
        Record(ERROR_RATIO, f"{ERRORS}{sel} / ({REQUESTS}{sel} > 0)"),
    ]
    if inst.duration:
        rules.append(Record(BUCKETS, f"sum by (service, team, le) (rate({inst.duration}_bucket{sel}[{RATE_WINDOW}]))"))
        for q, phi in QUANTILES:
            # `>= 0` drops the NaN of a window without requests: no traffic, no quantile.
            rules.append(Record(LATENCY.format(q=q), f"histogram_quantile({phi}, {BUCKETS}{sel}) >= 0"))
    return rules


def plan(service: Service, ctx: Context) -> ServicePlan:
    inst, _ = presets.resolve(service.instrumentation)
    out = scraped_plan(service, ctx, alerts_for(service), service.targets, dashboard(service),
                       lambda params, disabled: red_rules(service, ctx, inst, params, disabled))
    # The SLOs' long windows, in a slower group of their own, evaluated before the alerts that read them.
    out.groups[:0] = slo.window_groups(service, inst, ctx.timing)
    return out


def traffic_guard(requests_rate: str, min_requests: float) -> str:
    """`and` clause: at least `min_requests` requests in the alerts' window, from a rate of them per
    second by (service, team); none with 0."""
    if not min_requests:
        return ""
    return f" and on (service, team) {requests_rate} * {RATE_WINDOW.seconds:g} >= {promql_number(min_requests)}"


def red_rules(service: Service, ctx: Context, inst: presets.Instrumentation, params: dict, disabled) -> tuple:
    dash = dashboard(service)
    rules, tests = list(recording_rules(service, inst)), []
    labels = service_labels(service)
    sel = f'{{service="{service.name}"}}'
    settle = RATE_WINDOW + ctx.timing.scrape
    severities = lambda p: [s for s in ("warning", "critical") if s in p]   # noqa: E731
    if "error_rate" not in disabled:
        p = params["error_rate"]
        levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in severities(p)]
        line = failing_routes.template(service.name, inst, RATE_WINDOW)
        alerts = threshold_alerts(
            "HighErrorRate", ERROR_RATIO + sel, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, "HighErrorRate",
                                   f"{service.name}: {{{{ $value | humanizePercentage }}}} of requests fail",
                                   f"{{{{ $value | humanizePercentage }}}} of requests to {service.name} answered "
                                   f"5xx over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for {p['for']}"
                                   f"{_guard_text(p)}).{line} See the service dashboard for the failing routes, "
                                   f"its logs and errors."), guard=traffic_guard(REQUESTS + sel, p["min_requests"]))
        rules += alerts
        unrouted = _seen(alerts, line, "")      # these tests' series carry no route: no route line
        per = _per_sample(ctx.timing, p["min_requests"])
        tests += threshold_tests(unrouted, levels, lambda v: _traffic(service, inst, v, per), labels, ctx.timing,
                                 start=_guarded_start(ctx.timing, p["min_requests"], per), settle=settle, cap=1.0)
        tests += _trickle_tests(service, inst, unrouted, levels, p, ctx, labels, settle)
        tests += _routes_tests(service, inst, alerts, line, levels, ctx, labels, settle)
    if inst.duration and "latency_p95" not in disabled:
        p = params["latency_p95"]
        levels = [Level(s, p[s].seconds, str(p[s])) for s in severities(p)]
        alerts = threshold_alerts(
            "HighLatency", LATENCY.format(q="p95") + sel, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, "HighLatency",
                                   f"{service.name}: p95 latency {{{{ $value | humanizeDuration }}}}",
                                   f"95% of requests to {service.name} take up to {{{{ $value | humanizeDuration }}}} "
                                   f"({lv.severity} above {lv.text} for {p['for']}{_guard_text(p)})."),
            guard=traffic_guard(f'sum by (service, team) ({BUCKETS}{{service="{service.name}",le="+Inf"}})',
                                p["min_requests"]))
        rules += alerts
        per = _per_sample(ctx.timing, p["min_requests"])
        tests += threshold_tests(alerts, levels, lambda v: _latency(service, inst, v, per), labels, ctx.timing,
                                 start=_guarded_start(ctx.timing, p["min_requests"], per), settle=settle)
    if "metrics_missing" not in disabled:
        alert, t = _metrics_missing(service, ctx, inst, params["metrics_missing"]["for"], dash)
        rules.append(alert)
        tests += t
    if service.slo is not None:
        def slo_annotations(summary, description):
            return annotations(ctx, service, dash, slo.ALERT, summary, description)
        rules += slo.fast_rules(service, inst, labels, slo_annotations)
        tests += slo.tests(service, inst, _labels(service, {}), labels, slo_annotations, ctx.timing)
    return rules, tests


def _guard_text(p: dict) -> str:
    return f", among at least {promql_number(p['min_requests'])} requests" if p["min_requests"] else ""


def _trickle_tests(service, inst, alerts, levels, p, ctx, labels, settle) -> list[RuleTest]:
    """A trickle under the traffic guard, failing past every level, stays quiet; the same share at
    twice the guard fires (the control: the guard is not what keeps the alert quiet everywhere)."""
    n = p["min_requests"]
    if not n:
        return []
    samples = RATE_WINDOW // ctx.timing.scrape             # the samples of one window
    share = untied((max(lv.threshold for lv in levels) + 1) / 2)      # past every level

    def trickle(count: float):
        per = [untied(count / samples * (1 - share)), untied(count / samples * share)]   # 200s, 500s a sample
        return [(selector(inst.requests, _labels(service, {inst.status_label: st})), f"0+{v}x{{n}}")
                for st, v in zip(("200", "500"), per)]
    what = f"{promql_number(share * 100)}% of them failing"
    quiet = silent_test(f"HighErrorRate: quiet on a trickle of {promql_number(n / 2)} requests in {RATE_WINDOW}, "
                        f"{what}", "HighErrorRate", trickle(n / 2), ctx.timing, max(a.for_ for a in alerts), settle)
    loud = firing_tests(f"HighErrorRate: {promql_number(2 * n)} requests in {RATE_WINDOW}, {what}, fire", alerts,
                        trickle(2 * n), labels, share, ctx.timing, start=ctx.timing.scrape,
                        settle=settle + max(a.for_ for a in alerts))
    return [quiet, loud]


def _seen(alerts: list[Alert], line: str, routes: str) -> list[Alert]:
    return [replace(a, annotations=failing_routes.seen(a.annotations, line, routes)) for a in alerts]


# A route test's traffic: the two routes, requests a sample on each (100 in all: the service's share of
# 5xx is the test's), and the share of the 5xx that the first takes (more than the second's: it is named
# first). The other pairs where a share or a count would print a tie: at a 32s scrape the 5m window holds
# 9.375 samples, and 60 of them a sample are 562.5 requests, which Prometheus's floats print as 563.
ROUTES = ("/checkout", "/cart")
TRAFFIC = ((60.0, 40.0), (62.0, 38.0), (58.0, 42.0), (64.0, 36.0))
SPLITS = (0.75, 0.7, 0.8, 0.65)


def _untied(printed, x: float) -> bool:
    """`x` prints the same a hair below and above: a float's last bits cannot tip it."""
    return printed(x * (1 - 1e-9)) == printed(x * (1 + 1e-9))


def _routes_tests(service, inst, alerts, line, levels, ctx, labels, settle) -> list[RuleTest]:
    """5xx on two routes, past every level: every level's description names both, the route with the
    more 5xx first, each with its share and its requests in the window."""
    if not line:
        return []
    top = max(lv.threshold for lv in levels)
    share = untied(min(top * 1.1, (top + 1) / 2))
    errors = 100 * share
    first, second = ROUTES
    per_window = RATE_WINDOW.seconds / ctx.timing.scrape.seconds
    for traffic, split in ((t, sp) for t in TRAFFIC for sp in SPLITS):
        e1 = min(traffic[0], round(errors * split, 6))
        e2 = round(errors - e1, 6)
        shares = [e1 / traffic[0], e2 / traffic[1]]
        if all(_untied(humanize_percentage, s) for s in shares) and \
                all(_untied(lambda c: f"{c:.0f}", n * per_window) for n in traffic):
            break
    routes = failing_routes.text([(r, humanize_percentage(s), n * per_window)
                                  for r, n, s in zip(ROUTES, traffic, shares) if s > 0], RATE_WINDOW)
    series = []
    for route, n, e in zip(ROUTES, traffic, (e1, e2)):
        for status, v in (("200", round(n - e, 6)), ("500", e)):
            series.append((selector(inst.requests, _labels(service, {inst.status_label: status,
                                                                      inst.route_label: route})), f"0+{v}x{{n}}"))
    seen = _seen(alerts, line, routes)
    return [firing_tests(f"HighErrorRate: names the routes that fail most ({first}, then {second})", seen, series,
                         labels, share, ctx.timing, start=ctx.timing.scrape,
                         settle=settle + max(a.for_ for a in alerts))]


def _metrics_missing(service: Service, ctx: Context, inst: presets.Instrumentation, for_: Duration,
                     dash: str) -> tuple[Alert, list[RuleTest]]:
    """Up, but without its request counter: the RED rules and the SLOs would be blind."""
    name = "RequestMetricsMissing"
    job = f'{{job="{service.name}"}}'
    preset = service.instrumentation if isinstance(service.instrumentation, str) else \
        presets.DEFAULT_PRESET if service.instrumentation is None else "its instrumentation mapping"
    alert = Alert(name, f"up{job} == 1 unless on (instance) {inst.requests}{job}", for_,
                  {**service_labels(service), "severity": "warning"},
                  annotations(ctx, service, dash, name, f"{service.name} exports no request metrics",
                              f"{{{{ $labels.instance }}}} answers its scrape but has exported no {inst.requests} "
                              f"(the request counter of {preset}) for {for_}: its RED panels, HighErrorRate, "
                              f"HighLatency and SLOs see nothing. A deploy renamed them, or the metrics middleware "
                              f"is off."))
    target = service.targets[0]
    out = {"job": service.name, "instance": target, **target_labels(service)}
    up = selector("up", out)
    counter = selector(inst.requests, _labels(service, {inst.status_label: "200"}))
    return alert, [
        silent_test(f"{name}: quiet while it counts requests", name, [(up, "1x{n}"), (counter, "0+10x{n}")],
                    ctx.timing, for_),
        silent_test(f"{name}: quiet while down (ServiceDown tells)", name, [(up, "0x{n}")], ctx.timing, for_),
        firing_tests(f"{name}: fires when up without request metrics", [alert], [(up, "1x{n}")], out, 1,
                     ctx.timing),
    ]


def _labels(service: Service, extra: dict) -> dict:
    return {"job": service.name, "instance": service.targets[0], **target_labels(service), **extra}


def _per_sample(timing, min_requests: float) -> int:
    """Requests a sample in the threshold tests' traffic: 100, or enough that the rate window holds
    twice the traffic guard (a guard the traffic only just reached would decide the tests)."""
    return max(100, math.ceil(2 * min_requests * timing.scrape / RATE_WINDOW))


def _guarded_start(timing, min_requests: float, per: int) -> int:
    """When traffic of `per` requests a sample has passed the traffic guard: the sample that brings
    its requests to `min_requests` (a later evaluation reads it)."""
    return timing.scrape * max(1, math.ceil(min_requests / per))


def _traffic(service: Service, inst: presets.Instrumentation, ratio: float, per: int):
    """`per` requests a sample, `ratio` of them 5xx."""
    errors = round(per * ratio, 6)
    return [(selector(inst.requests, _labels(service, {inst.status_label: "200"})),
             f"0+{round(per - errors, 6)}x{{n}}"),
            (selector(inst.requests, _labels(service, {inst.status_label: "500"})), f"0+{errors}x{{n}}")]


def _latency(service: Service, inst: presets.Instrumentation, p95: float, per: int):
    """Every request in the first bucket, whose bound puts the 95th percentile at `p95`; `per` a sample."""
    bound, values = p95 / 0.95, f"0+{per}x{{n}}"
    return [(selector(f"{inst.duration}_bucket", _labels(service, {"le": repr(bound)})), values),
            (selector(f"{inst.duration}_bucket", _labels(service, {"le": "+Inf"})), values),
            (selector(f"{inst.duration}_count", _labels(service, {})), values)]
