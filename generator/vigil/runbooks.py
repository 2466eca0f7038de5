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
        "Prometheus refused its last configuration, in every scrape of 5 minutes, and still runs the one before.",
        ("`make check` or `vigil check` on the rendered files.",
         "Prometheus' log: `docker compose logs prometheus`.")),
    "PrometheusRuleEvaluationFailing": Runbook(
        "Some rules fail to evaluate: their alerts cannot fire.",
        ("The failing rule and its error: Prometheus' Rules page (Status → Rules).",
         "A custom rule of the inventory is the usual suspect: its `expr`.")),
    "PrometheusNotificationsFailing": Runbook(
        "More than 1% of the alerts Prometheus sends to Alertmanager fail, over 5 minutes: nobody is told about "
        "anything. One failure in a thousand sends does not fire it (prometheus-mixin: warning at 1% for some "
        "Alertmanagers, critical at 3% for all; Vigil runs one, so critical at 1%).",
        ("Alertmanager up? (Stack health dashboard.)",
         "Prometheus' log for the notifier's errors.")),
    "PrometheusAlertmanagerMissing": Runbook(
        "Prometheus knows no Alertmanager to send alerts to.",
        ("The `alerting` section of prometheus/prometheus.yml and the Alertmanager endpoint in the inventory.",)),
    "PrometheusStorageFilling": Runbook(
        "The disk holding Prometheus' data has under 20% free and, at the last hour's pace, is full within 4h; "
        "when full, Prometheus stops ingesting. A disk half free and filling does not fire it.",
        ("Retention (`--storage.tsdb.retention.time`) against the disk's size.",
         "Series growth: \"Series in memory\" on the Stack health dashboard; a label with unbounded values?")),
    "AlertmanagerNotificationsAllFailing": Runbook(
        "Over 5 minutes more than half the deliveries of every integration Alertmanager uses failed: no receiver "
        "gets anything (integrations that send nothing are left out).",
        ("Alertmanager's log: the same error for all (DNS, an outbound proxy, no route to the internet)?",
         "The machine's network: `curl -sS https://hooks.slack.com` from the Alertmanager container.",
         "The secrets in .env, if every receiver shares one mail relay or proxy.")),
    "PrometheusNotificationQueueFilling": Runbook(
        "Alerts wait longer and longer to be sent to Alertmanager: at the last 5 minutes' pace the queue is full "
        "within 30 minutes, and then Prometheus drops alerts (prometheus-mixin's PrometheusNotificationQueueRunningFull).",
        ("Alertmanager slow or unreachable: its up and latency on the Stack health dashboard.",
         "Thousands of alerts at once (a rule firing per series): the Alerts dashboard.")),
    "PrometheusMissingRuleEvaluations": Runbook(
        "A rule group's evaluation took longer than its interval, so Prometheus skipped iterations: its alerts "
        "fire late or not at all, and `for` no longer means what it says (prometheus-mixin's "
        "PrometheusMissingRuleEvaluations).",
        ("Which group and how long it takes: Status → Rules, or "
         "`prometheus_rule_group_last_duration_seconds` against `prometheus_rule_group_interval_seconds`.",
         "Prometheus' CPU (the Stack health dashboard): is it starved by other work on the host?",
         "Expensive rules: long ranges over raw series (SLO windows), high-cardinality aggregations.")),
    "PrometheusRuleGroupSlow": Runbook(
        "A rule group takes over 80% of its interval on average: there is little headroom before it misses "
        "evaluations (PrometheusMissingRuleEvaluations).",
        ("The group's duration over time (Status → Rules shows the last one).",
         "Growth in series (\"Series in memory\" on the Stack health dashboard) or in services with SLOs.",
         "More CPU for Prometheus, or fewer services per Prometheus.")),
    "PrometheusTSDBCompactionsFailing": Runbook(
        "Prometheus failed to compact the blocks of its storage: the in-memory head and the WAL keep growing.",
        ("Prometheus' log: `docker compose logs prometheus | grep -i compact`.",
         "The disk: full (HostDiskFull) or read-only (HostFilesystemErrors)?",
         "A corrupt block named in the log: stop Prometheus, move that block directory away, start it.")),
    "PrometheusTSDBReloadsFailing": Runbook(
        "Prometheus failed to load blocks of its storage from disk: some data is not queryable.",
        ("Prometheus' log names the block; `promtool tsdb analyze` on the data directory.",
         "Permissions and free space of the data directory.")),
    "PrometheusTSDBWALCorrupted": Runbook(
        "Prometheus found corruption in its write-ahead log (after a crash or a full disk) and dropped what "
        "followed it: a gap in every series.",
        ("Prometheus' log around its last start: `docker compose logs prometheus | grep -i -E 'wal|corrupt'`.",
         "Why it stopped uncleanly: OOM kills (HostOomKill), the disk filling.")),
    "PrometheusSampleLimitHit": Runbook(
        "Whole scrapes were rejected because a target exposed more series than its job's `sample_limit`: the "
        "target reads as down and none of its samples are stored.",
        ("Which target: `increase(prometheus_target_scrapes_exceeded_sample_limit_total[1h])` is per Prometheus, "
         "so look at Status → Targets for `sample limit exceeded`.",
         "A label with unbounded values (user ids, URLs) in the target's metrics: fix it there, or raise the limit.")),
    "PrometheusOutOfOrderSamples": Runbook(
        "Prometheus dropped samples whose timestamps went back in time: a target exposing explicit timestamps, "
        "or two targets writing the same series.",
        ("Prometheus' log names the series (`Error on ingesting out-of-order samples`).",
         "Two jobs with the same labels after relabelling, or a Pushgateway job without `honor_labels`.")),
    "PrometheusDuplicateTimestamps": Runbook(
        "Prometheus dropped samples with the same timestamp as one it has but a different value: one target "
        "exposes the same series twice.",
        ("Prometheus' log names the series (`Error on ingesting samples with different value but same timestamp`).",
         "The target's /metrics: a metric registered twice, or labels that relabelling removes.")),
    "PrometheusTemplateExpansionFailing": Runbook(
        "Prometheus failed to expand the labels or annotations of alerts: those alerts carry an error text "
        "instead of their summary.",
        ("Prometheus' log names the rule (`Expanding alert template failed`).",
         "A custom rule's summary or description in the inventory: `vigil validate` checks what it can.")),
    "PrometheusRemoteWriteFailing": Runbook(
        "More than 1% of the samples sent to remote storage fail beyond retries: they are lost there "
        "(prometheus-mixin's PrometheusRemoteStorageFailures). Only with `remote_write` in the inventory.",
        ("Prometheus' log for the remote endpoint's answers (401/403: the credentials; 400: rejected samples).",
         "The remote end's status page and limits (ingestion rate, series).")),
    "PrometheusRemoteWriteBehind": Runbook(
        "Remote write has fallen over 2 minutes behind the newest samples for 15 minutes: the remote end or the "
        "network cannot keep up (prometheus-mixin's PrometheusRemoteWriteBehind).",
        ("Shards: `prometheus_remote_storage_shards` against `..._shards_max`; raise `max_shards` if at the max.",
         "The network to the remote end, and its latency (`prometheus_remote_storage_sent_batch_duration_seconds`).")),
    "StackComponentRestarting": Runbook(
        "A part of the monitoring stack started more than twice in 30 minutes: it crashes or is killed after "
        "starting, and watches nothing in between.",
        ("`docker compose ps` (restart counts) and `docker compose logs <service>`.",
         "OOM kills: HostOomKill on the stack host, memory on the Containers dashboard.",
         "A bad configuration it refuses at start: `make check`.")),
    "LokiRequestErrors": Runbook(
        "Over 10% of Loki's requests to one route fail with 5xx (loki-mixin's LokiRequestErrors): pushes fail "
        "(logs lost) or queries fail (panels and log alerts blind). Vigil warns where the mixin pages: logs are "
        "not the alert path of the metrics.",
        ("Loki's log: `docker compose logs loki`.",
         "The disk under Loki's data (HostDiskFull on the stack host), and its memory.")),
    "LokiPanics": Runbook(
        "Loki recovered from a panic: a bug hit by some request or some data.",
        ("The stack trace in Loki's log: `docker compose logs loki | grep -A20 panic`.",
         "The Loki version pinned by Vigil, and its known issues.")),
    "LokiRuleEvaluationFailing": Runbook(
        "Loki's ruler fails to evaluate log alert rules (ErrorLogSpike): they cannot fire.",
        ("Loki's log for the ruler's errors.",
         "`make check` runs the LogQL of the rendered rules; a rule over a stream that no longer exists is fine.")),
    "LogShipperDroppingLines": Runbook(
        "The log shipper (Alloy) gave up sending lines to Loki after its retries: those lines are lost, and "
        "ErrorLogSpike cannot see them.",
        ("The `reason` label: `ingester_error` (Loki refused or failed), `rate_limited`, `line_too_long`, "
         "`stream_limited`.",
         "Loki up and accepting pushes? LokiRequestErrors, Loki's log.",
         "Alloy's log: `docker compose logs alloy`.")),
    "ContainerRestarting": Runbook(
        "A container on the Docker host started more than twice in 15 minutes: it crashes or is killed after "
        "starting (a restart policy brings it back, so it looks up in between).",
        ("`docker logs <name>` (the last lines before each exit) and `docker inspect <name>` (State.ExitCode, "
         "OOMKilled).",
         "Its restarts on the Containers dashboard; a deploy just before?")),
    "ContainerOomKilled": Runbook(
        "The kernel killed a process of a container at its memory limit (cAdvisor's container_oom_events_total; "
        "cAdvisor 0.39 and later).",
        ("Its memory against its limit on the Containers dashboard.",
         "Raise its `mem_limit` in docker-compose.yml, or find the leak.")),
    "ContainerMemoryNearLimit": Runbook(
        "A container has used over 90% of its memory limit (working set) for 15 minutes: the next burst is an "
        "OOM kill. Only for containers with a limit.",
        ("Its memory on the Containers dashboard: a steady climb (a leak) or its normal size?",
         "Raise its limit, or size its caches and heaps (JVM -Xmx, worker counts) below it.")),
    "ContainerCpuThrottled": Runbook(
        "Over 25% of a container's CPU periods were throttled at its CPU limit (kubernetes-mixin's "
        "CPUThrottlingHigh): it gets less CPU than it asks for, and answers slower.",
        ("Its CPU on the Containers dashboard against its `cpus` limit.",
         "Raise the limit, or find what burns the CPU.")),
    "ProbeScrapeFailing": Runbook(
        "Prometheus' scrape of the blackbox exporter for one probe fails (a timeout, the exporter down): the "
        "probe then has no probe_success at all, so its own down alert cannot fire.",
        ("Status → Targets, job blackbox_http: the scrape's error.",
         "The probe's URL slower than the scrape timeout: raise its timeout, or look at the URL itself.",
         "The blackbox exporter up? (Stack health dashboard.)")),
    "AlertmanagerConfigReloadFailed": Runbook(
        "Alertmanager refused its last configuration, in every scrape of 5 minutes, and still routes with the one "
        "before.",
        ("`make check` (amtool check-config) on alertmanager/alertmanager.yml.",
         "Alertmanager's log: `docker compose logs alertmanager`.")),
    "AlertmanagerNotificationsFailing": Runbook(
        "More than 1% of Alertmanager's deliveries through one integration (Slack, e-mail, PagerDuty, a webhook) "
        "failed over 5 minutes (alertmanager-mixin's AlertmanagerFailedToSendAlerts). One failure in a thousand "
        "does not fire it.",
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
