"""What each of Vigil's own alerts means and what to look at first: the text of
the runbooks dashboard (vigil-runbooks), which every alert links to unless its
service names a `runbook_url` or the stack a `runbook_base_url`.

A kind's alerts have theirs in the kind module (RUNBOOKS, next to ALERTS); the
rest are here. Together they are the list of Vigil's own alert names
(kinds.BUILTIN_ALERTNAMES), which a test compares with what is rendered.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Optional

DASHBOARD = "vigil-runbooks"     # its uid; alerts link to DASHBOARD?viewPanel=<their panel>
FIRST_PANEL_ID = 1000             # runbook panels' ids, above the ones Grafana's layout counts up from 1


@dataclass(frozen=True)
class Runbook:
    means: str                 # what fired, in one or two sentences
    check: tuple[str, ...]     # first things to look at, in order


# The alerts of no single kind: a scraped service down, the stack watching itself, the logs.
SHARED = {
    "ServiceDown": Runbook(
        "Prometheus cannot scrape any target of the service, or its probe fails: it is down, "
        "unreachable, or its /metrics endpoint is broken.",
        ("Is the process or container running? `docker compose ps`, `systemctl status`.",
         "The target's error on Prometheus' Targets page (Status → Targets): refused, timeout, 404.",
         "Its logs just before it stopped (the Logs panel of its dashboard).",
         "A deploy shortly before (the deploy markers on its dashboard).")),
    "InstanceDown": Runbook(
        "Some targets of the service fail their scrape while the others still serve: a replica is down or "
        "unreachable. A warning by default (the others carry the traffic); `alerts.instances_down.critical` "
        "pages when more than that share of them is down.",
        ("Which one: the instance label; its process or container (`docker compose ps`, `systemctl status`).",
         "The target's error on Prometheus' Targets page (Status → Targets): refused, timeout, 404.",
         "Can the others carry the load? Their latency and saturation on the service dashboard.")),
    "HealthCheckFailing": Runbook(
        "The service's `health_url` does not answer 2xx to the blackbox exporter, though its metrics may "
        "still be scraped: it is up but reports itself unhealthy, or a proxy in front of it fails.",
        ("Open the health URL yourself; what does it say?",
         "Its dependencies (database, cache, queue) on their own dashboards.",
         "The probe's failure reason: the Status page, `probe_http_status_code`.")),
    "ErrorLogSpike": Runbook(
        "The service logged far more error lines (level error, critical or fatal) in the last 5 minutes than "
        "in the hour before: over 10, and over 3 times its usual 5-minute count. Loki's ruler raises it.",
        ("What the errors are: \"Top errors\" and the Logs panel of its dashboard (search by a request id).",
         "A deploy just before it started (deploy markers); roll back if so.",
         "Its dependencies' dashboards: a failing database or upstream often shows up as errors here.")),
    "Watchdog": Runbook(
        "Always firing, on purpose: proof that rules are evaluated and Alertmanager delivers. It goes to "
        "the heartbeat receiver only; worry when it stops.",
        ("If the heartbeat stopped: Prometheus and Alertmanager up? (Stack health dashboard.)",)),
    "PrometheusConfigReloadFailed": Runbook(
        "Prometheus refused its last configuration and still runs the one before.",
        ("`make check` or `vigil check` on the rendered files.",
         "Prometheus' log: `docker compose logs prometheus`.")),
    "PrometheusRuleEvaluationFailing": Runbook(
        "Some rules fail to evaluate: their alerts cannot fire.",
        ("The failing rule and its error: Prometheus' Rules page (Status → Rules).",
         "A custom rule of the inventory is the usual suspect: its `expr`.")),
    "PrometheusNotificationsFailing": Runbook(
        "Prometheus cannot send alerts to Alertmanager: nobody is told about anything.",
        ("Alertmanager up? (Stack health dashboard.)",
         "Prometheus' log for the notifier's errors.")),
    "PrometheusAlertmanagerMissing": Runbook(
        "Prometheus knows no Alertmanager to send alerts to.",
        ("The `alerting` section of prometheus/prometheus.yml and the Alertmanager endpoint in the inventory.",)),
    "PrometheusStorageFilling": Runbook(
        "The disk holding Prometheus' data is filling up; when full, Prometheus stops ingesting.",
        ("Retention (`--storage.tsdb.retention.time`) against the disk's size.",
         "Series growth: \"Series in memory\" on the Stack health dashboard; a label with unbounded values?")),
    "AlertmanagerConfigReloadFailed": Runbook(
        "Alertmanager refused its last configuration and still routes with the one before.",
        ("`make check` (amtool check-config) on alertmanager/alertmanager.yml.",
         "Alertmanager's log: `docker compose logs alertmanager`.")),
    "AlertmanagerNotificationsFailing": Runbook(
        "Alertmanager fails to deliver to a receiver: Slack, e-mail, PagerDuty or a webhook.",
        ("Which integration fails: \"Deliveries\" on the Stack health dashboard.",
         "Alertmanager's log for the receiver's error (a revoked webhook, a wrong SMTP password).",
         "`vigil test-notify` once it is fixed.")),
}


def all_runbooks() -> dict[str, Runbook]:
    """Every alert Vigil renders itself -> its runbook: SHARED and each kind module's RUNBOOKS."""
    from .kinds import KINDS     # the kinds import Runbook from here
    from .tracker import RUNBOOKS as TRACKER
    out = {**SHARED, **TRACKER}
    for module in KINDS.values():
        out.update(getattr(module, "RUNBOOKS", {}))
    return out


@functools.lru_cache(maxsize=1)
def _builtin() -> frozenset:
    return frozenset(all_runbooks())


def panel_title(alertname: str, service: Optional[str] = None) -> str:
    """The title of an alert's panel on the runbooks dashboard: Vigil's own by name, an
    inventory rule by name and service (two services may each have a rule of one name)."""
    return alertname if service is None or alertname in _builtin() else f"{alertname} ({service})"


def panel_id(title: str) -> int:
    """A runbook panel's id, from its title alone: stable when alerts come and go, so the link in a
    notification sent last month still opens the same panel (a clash is refused by the layout)."""
    return FIRST_PANEL_ID + zlib.crc32(title.encode()) % 1_000_000_000


def link(grafana_url: str, alertname: str, service: Optional[str] = None) -> str:
    """The alert's own runbook, opened alone (viewPanel), not the top of a long page."""
    return f"{grafana_url.rstrip('/')}/d/{DASHBOARD}?viewPanel=panel-{panel_id(panel_title(alertname, service))}"
