"""The stack watching itself (SPEC §4): its parts are scraped and alerted on,
its host is a `host` service, and Watchdog always fires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import webauth
from .inventory import Service, Stack
from .kinds import host
from .kinds.base import PROBE_JOB, Context, ScrapeJob, ServicePlan, annotations
from .rules import Alert, Case, RuleGroup, case_tests, firing_tests, latest, selector, silent_test, steady
from .units import Duration

COMPONENTS = ("prometheus", "alertmanager", "grafana", "loki", "alloy", "blackbox", "cadvisor")
STACK_HOST = "stack-host"
RESERVED = frozenset(COMPONENTS + (STACK_HOST, "node-exporter", "vigil", "pushgateway", "status-page"))
DASHBOARD = "vigil-stack"
KIND = "stack"
NO_TEAM = "stack"   # team label of the stack's own alerts when stack.team is not set


def team_of(stack: Stack) -> str:
    return stack.team or NO_TEAM


def host_service(stack: Stack) -> Service | None:
    """The stack's host as a `host` service; None when no node exporter runs here."""
    if stack.endpoints.node_exporter is None:
        return None
    return Service(name=STACK_HOST, team=team_of(stack), kind="host", targets=[stack.endpoints.node_exporter])


@dataclass(frozen=True)
class _Watch:
    """One self-monitoring alert over a metric of a stack part, and the values
    that keep it quiet or make it fire."""
    name: str
    component: str
    expr: str                 # with {sel} for the component's selector
    metric: str
    quiet: str
    firing: str
    for_: str
    severity: str
    summary: str
    description: str
    extra: tuple = ()         # labels of the metric beyond the target's
    rate: bool = False        # the expression takes a rate: true one sample in
    more: tuple = ()          # further series: (metric, quiet values, firing values, its labels beyond the target's)
    by: tuple = ()            # the labels the expression keeps, when it aggregates (else the series')
    value: Optional[float] = None   # what it fires with, for annotations that print $value


# Windows of the stack's alerts, after prometheus-mixin and alertmanager-mixin.
RELOAD_WINDOW = "5m"          # a reload failed in every scrape of this long: not one in flight
TSDB_WINDOW = "3h"            # compactions run every 2h: a failure is seen for one cycle and more
RULE_GROUP = (("rule_group", "/etc/prometheus/rules/stack.yml;vigil:stack"),)
REMOTE = (("remote_name", "a1b2c3"), ("url", "https://metrics.example.com/api/v1/write"))
AM_URL = (("alertmanager", "http://alertmanager:9093/api/v2/alerts"),)
SLACK = (("integration", "slack"),)
PUSH = (("route", "loki_api_v1_push"),)
CONTAINER = (("name", "vigil-demo-1"), ("id", "/docker/0123abcd"))


WATCHES = (
    _Watch("PrometheusConfigReloadFailed", "prometheus",
           f"max_over_time(prometheus_config_last_reload_successful{{sel}}[{RELOAD_WINDOW}]) == 0",
           "prometheus_config_last_reload_successful", "1x{n}", "0x{n}", "1m", "warning",
           "Prometheus could not load its new configuration",
           "Prometheus is still running its previous configuration: the last reload failed. "
           "Run `make check` to see why."),
    _Watch("PrometheusRuleEvaluationFailing", "prometheus",
           "increase(prometheus_rule_evaluation_failures_total{sel}[5m]) > 0",
           "prometheus_rule_evaluation_failures_total", "3x{n}", "0+1x{n}", "5m", "warning",
           "Rules of group {{ $labels.rule_group }} fail to evaluate",
           "Prometheus failed to evaluate rules of {{ $labels.rule_group }} in the last 5m: "
           "their alerts cannot fire. Its log says why.",
           (("rule_group", "rules/stack.yml;vigil:stack"),), rate=True),
    # One failure in a thousand sends is noise; the mixin warns past 1% and pages past 3%: Vigil
    # has one Alertmanager, where "some" and "all" of them are the same, so one alert at 1%, critical.
    _Watch("PrometheusNotificationsFailing", "prometheus",
           "rate(prometheus_notifications_errors_total{sel}[5m]) / rate(prometheus_notifications_sent_total{sel}[5m]) "
           "> 0.01",
           "prometheus_notifications_errors_total", "0+1x{n}", "0+5x{n}", "5m", "critical",
           "Prometheus cannot send alerts to Alertmanager",
           "{{ $value | humanizePercentage }} of the alerts Prometheus sent to {{ $labels.alertmanager }} failed over "
           "5m: nobody is being notified.",
           AM_URL, rate=True, value=0.05,
           more=(("prometheus_notifications_sent_total", "0+1000x{n}", "0+100x{n}", AM_URL),)),
    _Watch("PrometheusAlertmanagerMissing", "prometheus", "prometheus_notifications_alertmanagers_discovered{sel} < 1",
           "prometheus_notifications_alertmanagers_discovered", "1x{n}", "0x{n}", "5m", "critical",
           "Prometheus knows no Alertmanager", "Prometheus has no Alertmanager to send alerts to: check "
           "the alerting section of prometheus.yml."),
    _Watch("PrometheusNotificationQueueFilling", "prometheus",
           "predict_linear(prometheus_notifications_queue_length{sel}[5m], 1800) > "
           "min_over_time(prometheus_notifications_queue_capacity{sel}[5m])",
           "prometheus_notifications_queue_length", "0x{n}", "0+1000x{n}", "15m", "warning",
           "Prometheus' queue of alerts to send fills up",
           "At the pace of the last 5m the queue of alerts waiting for Alertmanager is full within 30m; "
           "past it, alerts are dropped.",
           more=(("prometheus_notifications_queue_capacity", "10000x{n}", "10000x{n}", ()),)),
    _Watch("PrometheusMissingRuleEvaluations", "prometheus",
           "increase(prometheus_rule_group_iterations_missed_total{sel}[5m]) > 0",
           "prometheus_rule_group_iterations_missed_total", "3x{n}", "0+1x{n}", "15m", "warning",
           "Prometheus skips evaluations of {{ $labels.rule_group }}",
           "Rule group {{ $labels.rule_group }} missed evaluations in the last 5m: an evaluation took longer "
           "than its interval, so its alerts fire late or not at all. Prometheus is overloaded.",
           RULE_GROUP, rate=True),
    # Headroom before the misses: a group that takes most of its interval.
    _Watch("PrometheusRuleGroupSlow", "prometheus",
           "avg_over_time(prometheus_rule_group_last_duration_seconds{sel}[5m]) > 0.8 * "
           "last_over_time(prometheus_rule_group_interval_seconds{sel}[5m])",
           "prometheus_rule_group_last_duration_seconds", "2x{n}", "13x{n}", "15m", "warning",
           "Rule group {{ $labels.rule_group }} takes most of its interval",
           "Evaluating {{ $labels.rule_group }} has taken {{ $value | humanizeDuration }} on average over 5m, over "
           "80% of its interval: little more load and it misses evaluations (PrometheusMissingRuleEvaluations).",
           RULE_GROUP, value=13, more=(("prometheus_rule_group_interval_seconds", "15x{n}", "15x{n}", RULE_GROUP),)),
    _Watch("PrometheusTSDBCompactionsFailing", "prometheus",
           f"increase(prometheus_tsdb_compactions_failed_total{{sel}}[{TSDB_WINDOW}]) > 0",
           "prometheus_tsdb_compactions_failed_total", "2x{n}", "0+1x{n}", "0s", "warning",
           "Prometheus fails to compact its storage",
           f"Prometheus failed to compact blocks of its TSDB in the last {TSDB_WINDOW}: the head grows in memory "
           "and on disk. Its log says why (disk full, permissions, corrupt block)."),
    _Watch("PrometheusTSDBReloadsFailing", "prometheus",
           f"increase(prometheus_tsdb_reloads_failures_total{{sel}}[{TSDB_WINDOW}]) > 0",
           "prometheus_tsdb_reloads_failures_total", "2x{n}", "0+1x{n}", "0s", "warning",
           "Prometheus fails to reload its storage blocks",
           f"Prometheus failed to reload blocks from disk in the last {TSDB_WINDOW}: a corrupt or unreadable block."),
    _Watch("PrometheusTSDBWALCorrupted", "prometheus",
           f"increase(prometheus_tsdb_wal_corruptions_total{{sel}}[{TSDB_WINDOW}]) > 0",
           "prometheus_tsdb_wal_corruptions_total", "1x{n}", "0+1x{n}", "0s", "warning",
           "Prometheus found its write-ahead log corrupted",
           f"Prometheus found corruption in its WAL in the last {TSDB_WINDOW} (a crash, a full disk): the samples "
           "after it are lost."),
    _Watch("PrometheusSampleLimitHit", "prometheus",
           "increase(prometheus_target_scrapes_exceeded_sample_limit_total{sel}[5m]) > 0",
           "prometheus_target_scrapes_exceeded_sample_limit_total", "3x{n}", "0+1x{n}", "10m", "warning",
           "Scrapes rejected at their sample limit",
           "Prometheus rejected whole scrapes in the last 5m because a target exposed more series than its job's "
           "sample_limit: those targets read as down, and none of their samples are stored.", rate=True),
    _Watch("PrometheusOutOfOrderSamples", "prometheus",
           "increase(prometheus_target_scrapes_sample_out_of_order_total{sel}[5m]) > 0",
           "prometheus_target_scrapes_sample_out_of_order_total", "3x{n}", "0+1x{n}", "10m", "warning",
           "Samples dropped as out of order",
           "Prometheus dropped samples in the last 5m whose timestamps went back: a target exposing explicit "
           "timestamps, or two targets writing the same series.", rate=True),
    _Watch("PrometheusDuplicateTimestamps", "prometheus",
           "increase(prometheus_target_scrapes_sample_duplicate_timestamp_total{sel}[5m]) > 0",
           "prometheus_target_scrapes_sample_duplicate_timestamp_total", "3x{n}", "0+1x{n}", "10m", "warning",
           "Samples dropped for duplicate timestamps",
           "Prometheus dropped samples in the last 5m with the same timestamp and a different value: a target "
           "exposing one series twice (labels lost by relabelling, honor_labels).", rate=True),
    _Watch("PrometheusTemplateExpansionFailing", "prometheus",
           "increase(prometheus_template_text_expansion_failures_total{sel}[5m]) > 0",
           "prometheus_template_text_expansion_failures_total", "3x{n}", "0+1x{n}", "5m", "warning",
           "Alert templates fail to expand",
           "Prometheus failed to expand alert labels or annotations in the last 5m: those alerts carry the error "
           "text instead of their summary. Its log names the rule.", rate=True),
    # The series exist with a remote_write only.
    _Watch("PrometheusRemoteWriteFailing", "prometheus",
           "rate(prometheus_remote_storage_samples_failed_total{sel}[5m]) / "
           "(rate(prometheus_remote_storage_samples_failed_total{sel}[5m]) + "
           "rate(prometheus_remote_storage_samples_total{sel}[5m])) > 0.01",
           "prometheus_remote_storage_samples_failed_total", "0+1x{n}", "0+100x{n}", "15m", "critical",
           "Prometheus fails to send samples to {{ $labels.url }}",
           "{{ $value | humanizePercentage }} of the samples sent to remote storage {{ $labels.url }} failed over "
           "5m, beyond retries: they are lost there.", REMOTE, rate=True, value=0.5,
           more=(("prometheus_remote_storage_samples_total", "0+1000x{n}", "0+100x{n}", REMOTE),)),
    _Watch("PrometheusRemoteWriteBehind", "prometheus",
           "max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds{sel}[5m]) - ignoring (remote_name, url)"
           " group_right max_over_time(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{sel}[5m]) > 120",
           "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "1000+15x{n}", "1000+15x{n}", "15m",
           "critical", "Remote write to {{ $labels.url }} falls behind",
           "The samples sent to remote storage {{ $labels.url }} have been over 2m behind the newest for 15m: "
           "it cannot keep up, and Prometheus drops what falls out of its WAL.", REMOTE,
           more=(("prometheus_remote_storage_highest_timestamp_in_seconds", "1000+15x{n}", "1300+15x{n}", ()),)),
    _Watch("AlertmanagerConfigReloadFailed", "alertmanager",
           f"max_over_time(alertmanager_config_last_reload_successful{{sel}}[{RELOAD_WINDOW}]) == 0",
           "alertmanager_config_last_reload_successful", "1x{n}", "0x{n}", "1m", "warning",
           "Alertmanager could not load its new configuration",
           "Alertmanager is still running its previous configuration: the last reload failed. "
           "Run `make check` to see why."),
    # Per integration, a warning past 1% (alertmanager-mixin's AlertmanagerFailedToSendAlerts): one
    # failure in a thousand is quiet.
    _Watch("AlertmanagerNotificationsFailing", "alertmanager",
           "rate(alertmanager_notifications_failed_total{sel}[5m]) / rate(alertmanager_notifications_total{sel}[5m]) "
           "> 0.01",
           "alertmanager_notifications_failed_total", "0+1x{n}", "0+5x{n}", "5m", "warning",
           "Alertmanager fails to deliver to {{ $labels.integration }}",
           "{{ $value | humanizePercentage }} of the notifications through {{ $labels.integration }} failed over 5m: "
           "check the receiver's secret in .env and the Alertmanager log.", SLACK, rate=True, value=0.05,
           more=(("alertmanager_notifications_total", "0+1000x{n}", "0+100x{n}", SLACK),)),
    # Every integration that sends fails: nothing reaches anyone (integrations that send nothing are 0/0, left out).
    _Watch("AlertmanagerNotificationsAllFailing", "alertmanager",
           "min by (job, instance, service, team) (rate(alertmanager_notifications_failed_total{sel}[5m]) / "
           "rate(alertmanager_notifications_total{sel}[5m])) > 0.5",
           "alertmanager_notifications_failed_total", "0+1x{n}", "0+80x{n}", "5m", "critical",
           "Alertmanager delivers to no receiver",
           "Over 5m, more than half the notifications of every integration Alertmanager uses failed "
           "({{ $value | humanizePercentage }} at best): nobody is being told.", SLACK, rate=True, value=0.8,
           by=("job", "instance", "service", "team"),
           more=(("alertmanager_notifications_total", "0+100x{n}", "0+100x{n}", SLACK),
                 # e-mail, configured and sending fine: one integration still delivers (quiet), or none sends.
                 ("alertmanager_notifications_total", "0+100x{n}", "0x{n}", (("integration", "email"),)))),
    # A restart loop: any part of the stack started over more than twice in 30m (awesome-prometheus-alerts'
    # PrometheusTooManyRestarts, for every part).
    _Watch("StackComponentRestarting", "loki",
           'changes(process_start_time_seconds{kind="stack"}[30m]) > 2',
           "process_start_time_seconds", "1000x{n}", "1000+60x{n}", "0s", "warning",
           "{{ $labels.service }} restarts in a loop",
           "{{ $labels.service }}, part of the monitoring stack, started more than twice in the last 30m: it "
           "crashes or is killed (OOM) after starting. `docker compose logs` and `docker compose ps` say why.",
           rate=True),
    # Loki (loki-mixin's LokiRequestErrors at 10%, LokiRequestPanics); warnings: logs are not the alert path.
    _Watch("LokiRequestErrors", "loki",
           'sum by (job, instance, service, team, route) (rate(loki_request_duration_seconds_count{{job},status_code=~"5.."}[5m])) / '
           'sum by (job, instance, service, team, route) (rate(loki_request_duration_seconds_count{sel}[5m])) > 0.1',
           "loki_request_duration_seconds_count", "0+1000x{n}", "0+1x{n}", "15m", "warning",
           "Loki fails requests to {{ $labels.route }}",
           "{{ $value | humanizePercentage }} of Loki's requests to {{ $labels.route }} failed (5xx) over 5m: logs "
           "are not stored or not found, and ErrorLogSpike goes blind.", PUSH + (("status_code", "204"),),
           rate=True, value=0.5, by=("job", "instance", "service", "team", "route"),
           more=(("loki_request_duration_seconds_count", "0+1x{n}", "0+1x{n}", PUSH + (("status_code", "500"),)),)),
    _Watch("LokiPanics", "loki", "increase(loki_panic_total{sel}[10m]) > 0",
           "loki_panic_total", "1x{n}", "0+1x{n}", "0s", "warning", "Loki panics",
           "Loki recovered from panics in the last 10m: a bug, hit by some request. Its log has the stack trace."),
    _Watch("LokiRuleEvaluationFailing", "loki",
           "increase(loki_prometheus_rule_evaluation_failures_total{sel}[5m]) > 0",
           "loki_prometheus_rule_evaluation_failures_total", "3x{n}", "0+1x{n}", "15m", "warning",
           "Loki's ruler fails to evaluate its rules",
           "Loki's ruler failed to evaluate log alert rules in the last 5m: ErrorLogSpike and the other log "
           "alerts cannot fire. Loki's log says why.", (("user", "fake"),), rate=True),
    # Containers of the Docker host (cAdvisor; awesome-prometheus-alerts' container rules, kubernetes-mixin's
    # KubePodCrashLooping and CPUThrottlingHigh for the thresholds). `name` is the container's.
    _Watch("ContainerRestarting", "cadvisor", 'changes(container_start_time_seconds{{job},name!=""}[15m]) > 2',
           "container_start_time_seconds", "1000x{n}", "1000+60x{n}", "0s", "warning",
           "Container {{ $labels.name }} restarts in a loop",
           "Container {{ $labels.name }} started more than twice in the last 15m: it crashes, fails its health "
           "check or is killed after starting. `docker logs {{ $labels.name }}` says why.", CONTAINER, rate=True),
    _Watch("ContainerOomKilled", "cadvisor", 'increase(container_oom_events_total{{job},name!=""}[10m]) > 0',
           "container_oom_events_total", "2x{n}", "0+1x{n}", "0s", "warning",
           "Container {{ $labels.name }} killed for memory",
           "The kernel killed a process of container {{ $labels.name }} at its memory limit in the last 10m.",
           CONTAINER, rate=True),
    _Watch("ContainerMemoryNearLimit", "cadvisor",
           'min_over_time(container_memory_working_set_bytes{{job},name!=""}[5m]) / '
           '(last_over_time(container_spec_memory_limit_bytes{{job},name!=""}[5m]) > 0) > 0.9',
           "container_memory_working_set_bytes", "500x{n}", "950x{n}", "15m", "warning",
           "Container {{ $labels.name }} near its memory limit",
           "Container {{ $labels.name }} has used {{ $value | humanizePercentage }} of its memory limit for 15m: "
           "next, the OOM killer.", CONTAINER, value=0.95,
           more=(("container_spec_memory_limit_bytes", "1000x{n}", "1000x{n}", CONTAINER),)),
    _Watch("ContainerCpuThrottled", "cadvisor",
           'rate(container_cpu_cfs_throttled_periods_total{{job},name!=""}[5m]) / '
           'rate(container_cpu_cfs_periods_total{{job},name!=""}[5m]) > 0.25',
           "container_cpu_cfs_throttled_periods_total", "0+1x{n}", "0+5x{n}", "15m", "warning",
           "Container {{ $labels.name }} CPU-throttled",
           "{{ $value | humanizePercentage }} of the CPU periods of container {{ $labels.name }} were throttled "
           "at its CPU limit over 5m: it runs slower than it could.", CONTAINER, rate=True, value=0.5,
           more=(("container_cpu_cfs_periods_total", "0+10x{n}", "0+10x{n}", CONTAINER),)),
    # The log shipper (Alloy's loki.write): lines it gave up on are lost for good.
    _Watch("LogShipperDroppingLines", "alloy",
           "increase(loki_write_dropped_entries_total{sel}[10m]) > 0",
           "loki_write_dropped_entries_total", "3x{n}", "0+1x{n}", "5m", "warning",
           "The log shipper drops lines ({{ $labels.reason }})",
           "Alloy dropped log lines bound for Loki in the last 10m ({{ $labels.reason }}): they are lost, and "
           "the log alerts (ErrorLogSpike) are blind to them.", (("host", "loki:3100"), ("reason", "ingester_error")),
           rate=True),
)


def plan(stack: Stack) -> tuple[list[ScrapeJob], ServicePlan, ServicePlan | None]:
    """-> (scrape jobs of the stack's parts, the stack's rules, the stack host's plan or None).
    A part whose endpoint is null is not run here: no scrape job, no alert about it."""
    ctx = Context.of(stack)
    team = team_of(stack)
    endpoints = stack.endpoints.model_dump()
    jobs = [ScrapeJob(c, (endpoints[c],), {"service": c, "team": team, "kind": KIND},
                      password_of=c if stack.basic_auth and c in webauth.PARTS else None)
            for c in COMPONENTS if endpoints[c] is not None]
    by_name = {j.name: j for j in jobs}
    rules, tests = [], []

    def alert(name, expr, for_, severity, summary, description):
        a = Alert(name, expr, Duration.parse(for_), {"team": team, "severity": severity},
                  annotations(ctx, None, DASHBOARD, name, summary, description))
        rules.append(a)
        return a

    # Every part of the stack answers its scrape.
    down = alert("ServiceDown", f'up{{kind="{KIND}"}} == 0', "2m", "critical",
                 "{{ $labels.service }} is down",
                 "{{ $labels.instance }}, part of the monitoring stack, has not answered its scrape for 2m.")
    am = by_name["alertmanager"]
    am_out = {"job": am.name, "instance": am.targets[0], **am.labels}
    tests += [silent_test("stack ServiceDown: quiet while up", down.name, [(selector("up", am_out), "1x{n}")],
                          ctx.timing, down.for_),
              firing_tests("stack ServiceDown: fires when down", [down], [(selector("up", am_out), "0x{n}")],
                           am_out, 0, ctx.timing)]
    for w in WATCHES:
        if w.component not in by_name:      # a part not run here (a null endpoint): nothing to watch
            continue
        job = by_name[w.component]
        target = {"job": job.name, "instance": job.targets[0], **job.labels}
        first = {**target, **dict(w.extra)}
        out = {k: first[k] for k in w.by} if w.by else first
        a = alert(w.name, w.expr.replace("{sel}", f'{{job="{job.name}"}}').replace("{job}", f'job="{job.name}"'),
                  w.for_, w.severity, w.summary, w.description)
        start = ctx.timing.scrape if w.rate else 0

        def series(firing: bool) -> list:
            more = [(selector(m, {**target, **dict(extra)}), f if firing else q) for m, q, f, extra in w.more]
            return [(selector(w.metric, first), w.firing if firing else w.quiet), *more]
        tests += case_tests([a], [Case("quiet", series(False), []), Case("fires", series(True), [a], w.value, start)],
                            out, ctx.timing, quiet_for=a.for_ + start)

    node = host_service(stack)
    if node is not None:
        tests += _storage_filling(ctx, team, node, alert)

    # A probe whose scrape fails has no probe_success at all: its down alert cannot fire.
    probe = alert("ProbeScrapeFailing", f'up{{job="{PROBE_JOB}"}} == 0', "5m", "warning",
                  "The blackbox exporter cannot probe {{ $labels.instance }}",
                  "Prometheus' scrapes of the blackbox exporter for {{ $labels.instance }} (service "
                  "{{ $labels.service }}) have failed for 5m: the probe times out or the exporter is unreachable, "
                  "so the probe's own down alert cannot fire.")
    probed = {"job": PROBE_JOB, "instance": "https://shop.example.com/", "service": "homepage", "team": team,
              "kind": "probe"}
    tests += [silent_test("ProbeScrapeFailing: quiet while probed", probe.name, [(selector("up", probed), "1x{n}")],
                          ctx.timing, probe.for_),
              firing_tests("ProbeScrapeFailing: fires when the probe's scrape fails", [probe],
                           [(selector("up", probed), "0x{n}")], {**probed, "team": team}, 0, ctx.timing)]

    # Watchdog fires always: if it stops arriving, the alert path is broken.
    watchdog = Alert("Watchdog", "vector(1)", Duration(0), {"service": "prometheus", "team": team, "severity": "info"},
                     annotations(ctx, None, DASHBOARD, "Watchdog", "The alert pipeline works",
                                 "This alert always fires. A heartbeat receiver that stops getting it means "
                                 "Prometheus or Alertmanager is broken."))
    rules.append(watchdog)
    tests.append(firing_tests("Watchdog: always fires", [watchdog], [], {}, 1, ctx.timing))
    return jobs, ServicePlan(groups=[RuleGroup("vigil:stack", rules)], tests=tests), \
        host.plan(node, ctx) if node is not None else None


def _storage_filling(ctx: Context, team: str, node: Service, alert) -> list:
    """The disk under the TSDB (from the stack host's node exporter)."""
    hfs = {"job": node.name, "instance": node.targets[0], "service": node.name, "team": team, "kind": "host",
           "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    # Little space left *and* the trend (node-mixin's NodeFilesystemSpaceFillingUp): a disk half free
    # and filling is not a page.
    root = f'{{service="{STACK_HOST}",mountpoint="/"}}'
    disk = alert("PrometheusStorageFilling",
                 f"predict_linear(node_filesystem_avail_bytes{root}[1h], 4 * 3600) < 0 and "
                 f"{steady('node_filesystem_avail_bytes' + root, ctx.timing, falling=True)} / "
                 f"{latest('node_filesystem_size_bytes' + root, ctx.timing)} < 0.2", "15m", "critical",
                 "The stack's disk fills within 4h",
                 "At the pace of the last hour the disk holding Prometheus' data on {{ $labels.instance }} is full "
                 "within 4h, and it has under 20% free; then Prometheus stops storing samples. Free space or "
                 "shorten stack.retention.")
    avail, size = selector("node_filesystem_avail_bytes", hfs), (selector("node_filesystem_size_bytes", hfs),
                                                                 "10000000000x{n}")

    def filling(free: int, per_second: int) -> tuple:
        """A disk of 10 GB, `free` bytes free, losing `per_second` (per second, whatever the scrape)."""
        return avail, f"{free}-{round(per_second * ctx.timing.scrape.seconds)}x{{n}}"
    # Both fill within 4h (1 MB/s: 5 GB in 83 min; 0.5 MB/s: 1.5 GB in 50 min) and keep their share
    # of free space through the test (under 20 minutes).
    return [silent_test("PrometheusStorageFilling: quiet while steady", disk.name, [(avail, "1500000000x{n}"), size],
                        ctx.timing, disk.for_),
            silent_test("PrometheusStorageFilling: quiet half free and filling", disk.name,
                        [filling(5_000_000_000, 1_000_000), size], ctx.timing, disk.for_),
            firing_tests("PrometheusStorageFilling: fires while filling with little left", [disk],
                         [filling(1_500_000_000, 500_000), size], hfs, None, ctx.timing, start=ctx.timing.scrape)]
