"""What each of Vigil's own alerts means and what to look at first: the text of
the runbooks dashboard (vigil-runbooks), which every alert links to unless its
service names a `runbook_url` or the stack a `runbook_base_url`.

A test keeps this in step with kinds.BUILTIN_ALERTNAMES.
"""

from __future__ import annotations

from dataclasses import dataclass

DASHBOARD = "vigil-runbooks"     # its uid; alerts link to DASHBOARD#alertname


@dataclass(frozen=True)
class Runbook:
    means: str                 # what fired, in one or two sentences
    check: tuple[str, ...]     # first things to look at, in order


RUNBOOKS = {
    "ServiceDown": Runbook(
        "Prometheus cannot scrape any target of the service, or its probe fails: it is down, "
        "unreachable, or its /metrics endpoint is broken.",
        ("Is the process or container running? `docker compose ps`, `systemctl status`.",
         "The target's error on Prometheus' Targets page (Status → Targets): refused, timeout, 404.",
         "Its logs just before it stopped (the Logs panel of its dashboard).",
         "A deploy shortly before (the deploy markers on its dashboard).")),
    "HealthCheckFailing": Runbook(
        "The service's `health_url` does not answer 2xx to the blackbox exporter, though its metrics may "
        "still be scraped: it is up but reports itself unhealthy, or a proxy in front of it fails.",
        ("Open the health URL yourself; what does it say?",
         "Its dependencies (database, cache, queue) on their own dashboards.",
         "The probe's failure reason: the Status page, `probe_http_status_code`.")),
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
    "ErrorLogSpike": Runbook(
        "The service logged far more error lines (level error, critical or fatal) in the last 5 minutes than "
        "in the hour before: over 10, and over 3 times its usual 5-minute count. Loki's ruler raises it.",
        ("What the errors are: \"Top errors\" and the Logs panel of its dashboard (search by a request id).",
         "A deploy just before it started (deploy markers); roll back if so.",
         "Its dependencies' dashboards: a failing database or upstream often shows up as errors here.")),
    "HostHighCpu": Runbook(
        "The host's CPUs were busy above the threshold for a while; everything on it slows down.",
        ("Which containers use it: the Containers dashboard.",
         "Load and CPU by mode on the Hosts dashboard (iowait means the disk, not the CPU).")),
    "HostMemoryPressure": Runbook(
        "Available memory fell below the threshold; the kernel will soon swap or kill processes (OOM).",
        ("Which containers grew: memory on the Containers dashboard.",
         "OOM kills in the kernel log: `journalctl -k | grep -i oom`.")),
    "HostDiskFull": Runbook(
        "A filesystem has less free space than the threshold; writes will fail when it is full.",
        ("What grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.",
         "Logs, old images and volumes: `docker system df`, `docker image prune`.",
         "Prometheus' and Loki's retention if it is the stack's own disk.")),
    "HostDiskWillFill": Runbook(
        "At its pace over the last hours the filesystem fills up within the alert's horizon.",
        ("Disk usage over time on the Hosts dashboard: a steady climb or a sudden jump?",
         "The same checks as HostDiskFull, before it is urgent.")),
    "ProbeSlow": Runbook(
        "The probed URL answers, but slower than the threshold.",
        ("Response time on the Status page: one URL or all of them (then the network or the prober)?",
         "The service's own latency panels, if it is one of ours.")),
    "CertificateExpiresSoon": Runbook(
        "The TLS certificate of the probed URL expires within the threshold; browsers will refuse it then.",
        ("Renew it, or check why automatic renewal (certbot, ACME) did not: its logs and timer.",
         "The expiry per URL on the Status page.")),
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
