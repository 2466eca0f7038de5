"""The stack watching itself (SPEC §4): its parts are scraped and alerted on,
its host is a `host` service, and Watchdog always fires."""

from __future__ import annotations

from dataclasses import dataclass

from . import webauth
from .inventory import Service, Stack
from .kinds import host
from .kinds.base import Context, ScrapeJob, ServicePlan, annotations
from .rules import Alert, RuleGroup, firing_tests, selector, silent_test
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


WATCHES = (
    _Watch("PrometheusConfigReloadFailed", "prometheus", "prometheus_config_last_reload_successful{sel} == 0",
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
    _Watch("PrometheusNotificationsFailing", "prometheus",
           "rate(prometheus_notifications_errors_total{sel}[5m]) > 0",
           "prometheus_notifications_errors_total", "3x{n}", "0+1x{n}", "5m", "critical",
           "Prometheus cannot send alerts to Alertmanager",
           "Prometheus failed to send alerts to {{ $labels.alertmanager }} for 5m: nobody is being notified.",
           (("alertmanager", "http://alertmanager:9093/api/v2/alerts"),), rate=True),
    _Watch("PrometheusAlertmanagerMissing", "prometheus", "prometheus_notifications_alertmanagers_discovered{sel} < 1",
           "prometheus_notifications_alertmanagers_discovered", "1x{n}", "0x{n}", "5m", "critical",
           "Prometheus knows no Alertmanager", "Prometheus has no Alertmanager to send alerts to: check "
           "the alerting section of prometheus.yml."),
    _Watch("AlertmanagerConfigReloadFailed", "alertmanager", "alertmanager_config_last_reload_successful{sel} == 0",
           "alertmanager_config_last_reload_successful", "1x{n}", "0x{n}", "1m", "warning",
           "Alertmanager could not load its new configuration",
           "Alertmanager is still running its previous configuration: the last reload failed. "
           "Run `make check` to see why."),
    _Watch("AlertmanagerNotificationsFailing", "alertmanager",
           "rate(alertmanager_notifications_failed_total{sel}[5m]) > 0",
           "alertmanager_notifications_failed_total", "3x{n}", "0+1x{n}", "5m", "critical",
           "Alertmanager cannot deliver to {{ $labels.integration }}",
           "Notifications through {{ $labels.integration }} have failed for 5m: check the receiver's "
           "secret in .env and the Alertmanager log.", (("integration", "slack"),), rate=True),
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
        job = by_name[w.component]   # prometheus and alertmanager: they always run
        out = {"job": job.name, "instance": job.targets[0], **job.labels, **dict(w.extra)}
        a = alert(w.name, w.expr.replace("{sel}", f'{{job="{job.name}"}}'), w.for_, w.severity, w.summary,
                  w.description)
        start = ctx.timing.scrape if w.rate else 0
        tests += [silent_test(f"{w.name}: quiet", w.name, [(selector(w.metric, out), w.quiet)], ctx.timing,
                              a.for_ + start),
                  firing_tests(f"{w.name}: fires", [a], [(selector(w.metric, out), w.firing)], out, None,
                               ctx.timing, start=start)]

    node = host_service(stack)
    if node is not None:
        tests += _storage_filling(ctx, team, node, alert)

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
    """The disk under the TSDB: predicted full within 4h at the last hour's pace (from the stack host's
    node exporter)."""
    hfs = {"job": node.name, "instance": node.targets[0], "service": node.name, "team": team, "kind": "host",
           "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    disk = alert("PrometheusStorageFilling",
                 f'predict_linear(node_filesystem_avail_bytes{{service="{STACK_HOST}",mountpoint="/"}}[1h], 4 * 3600)'
                 f" < 0", "15m", "critical", "The stack's disk fills within 4h",
                 "At the pace of the last hour the disk holding Prometheus' data on {{ $labels.instance }} is full "
                 "within 4h; then Prometheus stops storing samples. Free space or shorten stack.retention.")
    avail = selector("node_filesystem_avail_bytes", hfs)
    return [silent_test("PrometheusStorageFilling: quiet while steady", disk.name, [(avail, "5000000000x{n}")],
                          ctx.timing, disk.for_),
              firing_tests("PrometheusStorageFilling: fires while filling", [disk],
                           [(avail, "5000000000-50000000x{n}")], hfs, None, ctx.timing, start=ctx.timing.scrape)]
