"""Stack health (uid vigil-stack): the monitoring stack watching itself — its parts
answering, Watchdog firing, Prometheus ingesting, evaluating and notifying,
Alertmanager delivering.

TODO(issue 4): panels for Grafana, Loki and the log shipper's own metrics come with
their configs; until then they show only as components up or down.
"""

from __future__ import annotations

from .. import stack
from ..inventory import Stack
from .builder import UP_DOWN, Column, Dashboard, Link, Row, Target, Thresholds, stat, table, timeseries, value_map
from .common import dashboard_path, nav, tags

PROM = '{job="prometheus"}'
AM = '{job="alertmanager"}'
OK_FAILED = value_map({"0": ("FAILED", "red"), "1": ("OK", "green")})


def dashboard(s: Stack) -> Dashboard:
    components = table("Components", [
        Column("Up", f'up{{kind="{stack.KIND}"}}', mappings=(UP_DOWN,)),
        Column("Scrape took", f'scrape_duration_seconds{{kind="{stack.KIND}"}}', unit="s"),
    ], ["service", "instance"], label_titles={"service": "Component", "instance": "Address"}, width=12, height=8)
    glance = (
        components,
        stat("Watchdog", Target('count(ALERTS{alertname="Watchdog",alertstate="firing"}) or vector(0)'),
             mappings=(value_map({"0": ("NOT FIRING: alert path broken", "red"), "1": ("firing", "green")}),),
             width=6, height=8, description="Watchdog always fires; if it does not, rules or Alertmanager are broken"),
        stat("Disk free on the stack's host",
             Target(f'min(node_filesystem_avail_bytes{{service="{stack.STACK_HOST}",mountpoint="/"}})'),
             unit="bytes", width=6, height=8, links=(Link("Host", f"/d/{dashboard_path('host', stack.STACK_HOST)}"),)),
    )
    rate = "[$__rate_interval]"
    prometheus = (
        stat("Config loaded", Target(f"min(prometheus_config_last_reload_successful{PROM})"),
             mappings=(OK_FAILED,)),
        stat("Series in memory", Target(f"sum(prometheus_tsdb_head_series{PROM})")),
        stat("Alertmanagers known", Target(f"min(prometheus_notifications_alertmanagers_discovered{PROM})"),
             thresholds=Thresholds.falling(critical=1)),
        stat("Rule failures in range",
             Target(f"sum(increase(prometheus_rule_evaluation_failures_total{PROM}[$__range]))"),
             thresholds=Thresholds.rising(critical=1)),
        stat("Rules loaded", Target(f"sum(prometheus_rule_group_rules{PROM})")),
        # (the WAL's size and the retention are not exported by Prometheus 2.42, which the tests run)
        stat("Stored in blocks", Target(f"sum(prometheus_tsdb_storage_blocks_bytes{PROM})"), unit="bytes"),
        timeseries("Samples ingested", Target(f"rate(prometheus_tsdb_head_samples_appended_total{PROM}{rate})",
                                              "samples/s"), unit="ops"),
        # Ranked once, at the end of the range: ten series, not the union of every step's ten.
        timeseries("Slowest rule groups", Target(
            f"prometheus_rule_group_last_duration_seconds{PROM} and on (rule_group) "
            f"topk(10, prometheus_rule_group_last_duration_seconds{PROM} @ end())", "{{rule_group}}"), unit="s",
            description="The 10 slowest now, over the range"),
        timeseries("Slowest scrapes", Target(
            "max by (job) (scrape_duration_seconds) and on (job) "
            "topk(10, max by (job) (scrape_duration_seconds @ end()))", "{{job}}"), unit="s",
            description="The 10 slowest jobs now (their slowest target), over the range"),
        timeseries("Alerts sent to Alertmanager",
                   Target(f"sum(rate(prometheus_notifications_sent_total{PROM}{rate}))", "sent"),
                   Target(f"sum(rate(prometheus_notifications_errors_total{PROM}{rate}))", "errors"),
                   Target(f"sum(rate(prometheus_notifications_dropped_total{PROM}{rate}))", "dropped"),
                   unit="ops", width=24),
    )
    alertmanager = (
        stat("Config loaded", Target(f"min(alertmanager_config_last_reload_successful{AM})"),
             mappings=(OK_FAILED,)),
        stat("Active alerts", Target('sum(alertmanager_alerts{job="alertmanager",state="active"})')),
        stat("Active silences", Target('sum(alertmanager_silences{job="alertmanager",state="active"})')),
        timeseries("Notifications", Target(
            f"sum by (integration) (rate(alertmanager_notifications_total{AM}{rate}))", "{{integration}}"),
            unit="ops", width=6),
        timeseries("Failed notifications", Target(
            f"sum by (integration) (rate(alertmanager_notifications_failed_total{AM}{rate}))", "{{integration}}"),
            unit="ops", width=6),
    )
    return Dashboard(uid=stack.DASHBOARD, title="Stack health", tags=tags("stack"), links=nav(),
                     description=f"The monitoring stack {s.name} watching itself",
                     rows=(Row("Components", glance), Row("Prometheus", prometheus),
                           Row("Alertmanager", alertmanager)))
