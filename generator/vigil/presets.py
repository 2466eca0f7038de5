"""Instrumentation presets: where real HTTP libraries put the RED metrics.

Each maps the three things Vigil's RED rules need onto a library's names:
the request counter, the label holding the HTTP status, and the latency
histogram (base name, in seconds; the rules add `_bucket`) — and, where the
library has fixed default buckets, their upper bounds: a latency SLO's
threshold must be one of them (an SLO counts the requests at or under it).
Each also says which process metrics its runtime exports (dashboards' saturation row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Names PromQL reads as keywords or numbers where the rules put a metric name.
PROMQL_WORDS = {"bool", "inf", "nan", "on", "ignoring", "group_left", "group_right", "atan2", "and", "unless",
                "offset"}
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class ProcessMetrics:
    """Where a metrics library puts its process' saturation, as PromQL by instance over a
    target's selector `{sel}` (`{window}`: the dashboard's rate window)."""
    library: str
    cpu: str                   # CPU cores in use
    memory: str                # bytes
    memory_of: str             # what that memory is
    open_files: str            # open file descriptors over their limit, 0..1
    metrics: str               # the metric names, for the panels' descriptions


# Every Prometheus client library's process collector (Go, Python, Java simpleclient, Node, Ruby…).
PROCESS_COLLECTOR = ProcessMetrics(
    "Prometheus client libraries", "sum by (instance) (rate(process_cpu_seconds_total{sel}{window}))",
    "sum by (instance) (process_resident_memory_bytes{sel})", "resident set",
    "max by (instance) (process_open_fds{sel} / process_max_fds{sel})",
    "process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds / process_max_fds")
# Micrometer (Spring Boot): a CPU gauge that is a share of every CPU the JVM sees, no resident set
# (the JVM's own memory instead: heap and non-heap, summed over its pools), its own fd names.
MICROMETER_PROCESS = ProcessMetrics(
    "Micrometer", "sum by (instance) (avg_over_time(process_cpu_usage{sel}{window})) "
                  "* max by (instance) (system_cpu_count{sel})",
    "sum by (instance) (jvm_memory_used_bytes{sel})", "JVM heap and non-heap",
    "max by (instance) (process_files_open_files{sel} / process_files_max_files{sel})",
    "process_cpu_usage * system_cpu_count, jvm_memory_used_bytes, "
    "process_files_open_files / process_files_max_files")
# A library Vigil does not know (a mapping, OpenTelemetry's exporter in any language, a job): any of them.
ANY_PROCESS = (PROCESS_COLLECTOR, MICROMETER_PROCESS)


@dataclass(frozen=True)
class Instrumentation:
    requests: str              # counter of requests, every status
    status_label: str          # "500", or "5xx" where the library groups codes
    duration: Optional[str]    # histogram in seconds, without _bucket; None: no latency rules
    route_label: Optional[str] = None   # the route (handler, path template) on the counter, for dashboards
    buckets: Optional[tuple[float, ...]] = None   # the histogram's upper bounds (s), +Inf left out; None: unknown
    duration_by_route: bool = True     # the histogram carries route_label too (dashboards: p95 by route)
    process: tuple[ProcessMetrics, ...] = ANY_PROCESS    # the process metrics its runtime exports

    @property
    def server_errors(self) -> str:
        """The matcher of the 5xx answers ("5xx" too, where the library groups codes)."""
        return f'{self.status_label}=~"5.."'


# Default buckets of the libraries, as installed (checked against each library's source):
# prometheus_client Histogram.DEFAULT_BUCKETS, also starlette-exporter's (it passes none of its own).
PROMETHEUS_CLIENT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# prometheus_fastapi_instrumentator.metrics.default(latency_highr_buckets=...).
FASTAPI_HIGHR_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5,
                         5.0, 7.5, 10.0, 30.0, 60.0)
# django_prometheus.conf.PROMETHEUS_LATENCY_BUCKETS (settings.PROMETHEUS_LATENCY_BUCKETS may change them).
DJANGO_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0)
# The advisory buckets of http.server.request.duration in the stable HTTP semantic conventions
# (opentelemetry.instrumentation._semconv.HTTP_DURATION_HISTOGRAM_BUCKETS_NEW).
OTEL_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


# Through a Prometheus client library's registry (prometheus_client for the Python libraries below).
CLIENT_LIBRARY = (PROCESS_COLLECTOR,)

PRESETS = {
    # Vigil's own convention (the demo app): prometheus_client Counter + Histogram.
    "prometheus-client": Instrumentation("http_requests_total", "status", "http_request_duration_seconds", "route",
                                         PROMETHEUS_CLIENT_BUCKETS, process=CLIENT_LIBRARY),
    # prometheus-fastapi-instrumentator: status grouped as 2xx/5xx; the "highr"
    # histogram has the fine buckets (the default one has only 0.1, 0.5, 1) and no labels at all.
    "prometheus-fastapi-instrumentator": Instrumentation(
        "http_requests_total", "status", "http_request_duration_highr_seconds", "handler", FASTAPI_HIGHR_BUCKETS,
        duration_by_route=False, process=CLIENT_LIBRARY),
    "starlette-exporter": Instrumentation(
        "starlette_requests_total", "status_code", "starlette_request_duration_seconds", "path",
        PROMETHEUS_CLIENT_BUCKETS, process=CLIENT_LIBRARY),
    # Its by-status counter has no view label (views are on another counter).
    "django-prometheus": Instrumentation(
        "django_http_responses_total_by_status_total", "status",
        "django_http_requests_latency_including_middlewares_seconds", buckets=DJANGO_BUCKETS, process=CLIENT_LIBRARY),
    # OpenTelemetry HTTP semantic conventions (stable), as the Prometheus exporter names them
    # (the exporter of any language: its process metrics are those of the runtime's library).
    "opentelemetry": Instrumentation(
        "http_server_request_duration_seconds_count", "http_response_status_code",
        "http_server_request_duration_seconds", "http_route", OTEL_HTTP_BUCKETS),
    # Micrometer; buckets need management.metrics.distribution.percentiles-histogram, and
    # which ones depends on its service-level-objectives and min/max settings: unknown here.
    "spring-boot": Instrumentation(
        "http_server_requests_seconds_count", "status", "http_server_requests_seconds", "uri",
        process=(MICROMETER_PROCESS,)),
}
DEFAULT_PRESET = "prometheus-client"


def resolve(raw: object) -> tuple[Optional[Instrumentation], list[tuple[tuple, str]]]:
    """Inventory value -> (Instrumentation, problems as (sub-path, message))."""
    if raw is None:
        return PRESETS[DEFAULT_PRESET], []
    if isinstance(raw, str):
        if raw in PRESETS:
            return PRESETS[raw], []
        from .errors import did_you_mean
        hint = did_you_mean(raw, PRESETS) or f" (presets: {', '.join(PRESETS)}; or a mapping)"
        return None, [((), f"unknown instrumentation preset {raw!r}{hint}")]
    if not isinstance(raw, dict):
        return None, [((), "expected a preset name or a mapping {requests, status_label, duration}")]
    base = None
    if "preset" in raw:
        base, found = resolve(raw["preset"]) if isinstance(raw["preset"], str) else (None, [((), "")])
        if base is None:
            return None, [(("preset",), msg or f"expected a preset name ({', '.join(PRESETS)})") for _, msg in found]
        # A preset with some of its names or its buckets given: e.g. spring-boot with its buckets.
        raw = {**{"requests": base.requests, "status_label": base.status_label, "duration": base.duration,
                  "route_label": base.route_label,
                  "buckets": list(base.buckets) if base.buckets else None},
               **{k: v for k, v in raw.items() if k != "preset"}}
        raw = {k: v for k, v in raw.items() if v is not None}
    problems = []
    allowed = {"requests": True, "status_label": False, "duration": False, "route_label": False, "buckets": False}
    for key in raw:
        if key == "buckets":
            problems += _bucket_problems(raw[key])
        elif key not in allowed:
            problems.append(((key,), f"unknown key {key!r} (allowed: {', '.join(allowed)}); or `preset: NAME` to "
                                     f"start from a preset"))
    for key, required in allowed.items():
        value = raw.get(key)
        if key == "buckets":
            continue
        if value is None:
            if required:
                problems.append(((), f"missing required key {key!r} (the request counter's metric name)"))
            continue
        is_label = key.endswith("_label")
        if not isinstance(value, str) or not (LABEL_RE if is_label else METRIC_RE).fullmatch(value):
            problems.append(((key,), f"invalid {'label' if is_label else 'metric'} name {value!r}"))
        elif not is_label and value.lower() in PROMQL_WORDS:
            problems.append(((key,), f"{value!r} is a PromQL keyword, not usable as a metric name here"))
        elif key == "duration" and value.endswith("_bucket"):
            problems.append(((key,), f"give the histogram's base name, without _bucket: {value[:-7]!r}"))
    if problems:
        return None, problems
    buckets = raw.get("buckets")
    # a preset's histogram keeps what it knows of its labels; a histogram named here has the route label
    by_route = base.duration_by_route if base is not None and raw.get("duration") == base.duration else True
    return Instrumentation(raw["requests"], raw.get("status_label", "status"), raw.get("duration"),
                           raw.get("route_label"), None if buckets is None else tuple(sorted(map(float, buckets))),
                           by_route, base.process if base is not None else ANY_PROCESS), []


def _bucket_problems(value) -> list[tuple[tuple, str]]:
    """`buckets`: the latency histogram's upper bounds in seconds, for latency SLO thresholds."""
    if not isinstance(value, list) or not value:
        return [(("buckets",), "expected a list of the histogram's bucket upper bounds in seconds, "
                               "e.g. [0.1, 0.25, 0.5, 1]")]
    return [(("buckets", i), f"expected a positive number of seconds, got {v!r}") for i, v in enumerate(value)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf")]
