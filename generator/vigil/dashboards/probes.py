"""Probes and status page (uid vigil-probes, `service` variable): every URL the
blackbox exporter checks — the inventory's probes and the services' health checks —
up or down, how fast, how long its certificate lasts and its uptime over 24 h,
7 days and 30 days (no longer than the retention), in words people outside the team read."""

from __future__ import annotations

from ..inventory import Stack
from ..kinds import probe
from ..kinds.base import PROBE_JOB
from ..units import Duration
from .builder import UP_DOWN, Column, Dashboard, Row, Target, Thresholds, Variable, bargauge, table, timeseries
from .common import nav, tags, uid_of

P = f'job="{PROBE_JOB}",service=~"$service"'
UPTIME = Thresholds(((0.99, "orange"), (0.999, "green")), "red")


def _slow() -> Thresholds:
    return Thresholds.rising(probe.ALERTS["slow"].params["warning"].seconds)


def _expiry() -> Thresholds:
    p = probe.ALERTS["tls_expiry"].params
    return Thresholds.falling(p["warning"].seconds, p["critical"].seconds)


UPTIME_WINDOWS = ("24h", "7d", "30d")


def uptime_windows(retention: Duration) -> dict[Duration, str]:
    """24 h, 7 days and 30 days, each no longer than what Prometheus keeps (a 30-day average over
    15 days of data would be a 15-day one under a false title) -> its title, which says when a
    window was cut to the retention."""
    out = {}
    for w in map(Duration.parse, UPTIME_WINDOWS):
        out.setdefault(min(w, retention), f"{retention} (all that is kept)" if w > retention else str(w))
    return out


def dashboard(stack: Stack) -> Dashboard:
    windows = uptime_windows(stack.retention)
    longest = max(windows)
    status = table("Status", [
        Column("Up", f"probe_success{{{P}}}", mappings=(UP_DOWN,)),
        Column("Response time", f"probe_duration_seconds{{{P}}}", unit="s", thresholds=_slow()),
        *(Column(f"Uptime {title}", f"avg_over_time(probe_success{{{P}}}[{w}])",
                 unit="percentunit", thresholds=UPTIME, decimals=3) for w, title in windows.items()),
        Column("Certificate expires in", f"probe_ssl_earliest_cert_expiry{{{P}}} - time()", unit="dtdurations",
               thresholds=_expiry()),
    ], ["service", "instance"], label_titles={"service": "Service", "instance": "URL"},
        description="Every checked URL now: up or down, answer time, uptime, TLS certificate lifetime")
    history = (
        timeseries("Up", Target(f"probe_success{{{P}}}", "{{service}} {{instance}}"), min=0, max=1,
                   mappings=(UP_DOWN,), width=8),
        timeseries("Response time", Target(f"probe_duration_seconds{{{P}}}", "{{service}} {{instance}}"), unit="s",
                   thresholds=_slow(), width=8),
        bargauge(f"Uptime over {windows[longest]}",
                 Target(f"avg_over_time(probe_success{{{P}}}[{longest}])", "{{service}}"),
                 unit="percentunit", thresholds=UPTIME, min=0.9, max=1, decimals=3, width=8,
                 description="One value per URL, computed once for the range's end, not at every point"),
    )
    service = Variable.from_query("service", f'label_values(probe_success{{job="{PROBE_JOB}"}}, service)',
                                  multi=True, include_all=True)
    return Dashboard(uid=uid_of("probe"), title="Status page", tags=tags("probes", "status"), time_from="now-24h",
                     description="Uptime of every probed URL and health check", variables=(service,), links=nav(),
                     rows=(Row("Now", (status,)), Row("History", history)))
