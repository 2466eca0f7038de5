"""kind: job — a worker or batch process with a /metrics endpoint, or (`pushgateway: true`)
a Pushgateway that batch jobs push to.

Vigil knows nothing of its metrics: it is scraped and watched for being down; the rest
is the inventory's own `rules` and `panels`. A Pushgateway is scraped with honor_labels,
so that each pushed group keeps the job (and instance) it was pushed as, and each group's
push_time_seconds is watched: a batch job that stopped pushing (its last successful push
older than `push_age`).
"""

from __future__ import annotations

from dataclasses import replace

from ..inventory import Service
from ..rules import Level, latest, selector, threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration
from .base import AlertDefaults, Context, ServicePlan, annotations, scraped_alerts, scraped_plan, service_labels, \
    target_labels

NAME = "job"
FIELDS = {"targets": "required", "pushgateway": True}
ALERTS = {
    **scraped_alerts(),
    # a daily batch job that missed a run, with an hour to spare
    "push_age": AlertDefaults({"warning": Duration.parse("25h"), "for": Duration.parse("0s")}),
}
RUNBOOKS = {
    "JobPushStale": Runbook(
        "A batch job pushed nothing to the Pushgateway for longer than the threshold: it has not run, or it "
        "fails before pushing. The Pushgateway keeps serving its last values, so its own metrics look fine.",
        ("The alert's `job` label is the job as it pushed (the Pushgateway is scraped with honor_labels); "
         "its group on the Pushgateway's page shows the last push and the last failed one.",
         "The job's scheduler (cron, systemd timer, Kubernetes CronJob): did it run, and how did it exit?",
         "The job's logs around its schedule; a push that fails shows in push_failure_time_seconds.",
         "A job retired on purpose: delete its group (`curl -X DELETE <pushgateway>/metrics/job/<name>`).")),
}


def dashboard(service: Service) -> str:
    return f"svc-{service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    out = scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service),
                       lambda params, disabled: push_rules(service, ctx, params, disabled))
    if service.pushgateway:
        # The pushed job and instance labels win over the scrape job's (the Pushgateway's README says so):
        # without it every group would be job=<this service>, its own job in exported_job.
        out.jobs = [replace(j, honor_labels=True) for j in out.jobs]
    return out


def check(service: Service) -> list:
    if not service.pushgateway and "push_age" in service.alerts:
        return [(("alerts", "push_age"), "push_age watches the groups pushed to a Pushgateway: set pushgateway: true "
                                         "on this job, or remove push_age")]
    return []


def push_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple[list, list]:
    if not service.pushgateway or "push_age" in disabled:
        return [], []
    p, name = params["push_age"], "JobPushStale"
    levels = [Level(s, p[s].seconds, str(p[s])) for s in ("warning", "critical") if s in p]
    # job and instance: the pushed group's (honor_labels); a group pushed without an instance has none.
    by = "job, instance, service, team"
    pushed = latest(f'push_time_seconds{{service="{service.name}"}}', ctx.timing)
    alerts = threshold_alerts(
        name, f"time() - max by ({by}) ({pushed})", levels, p["for"], service_labels(service),
        lambda lv: annotations(ctx, service, dashboard(service), name,
                               f"{service.name}: batch job {{{{ $labels.job }}}} stopped pushing",
                               f"Batch job {{{{ $labels.job }}}} last pushed to the Pushgateway {service.name} "
                               f"{{{{ $value | humanizeDuration }}}} ago ({lv.severity} above {lv.text})."))
    group = {"job": "nightly", **target_labels(service)}
    out = {k: group[k] for k in by.split(", ") if k in group}
    clock = ctx.timing.every_evaluation()
    # A push `v` seconds before each sample: its age is v at each (and a sample at each evaluation).
    tests = threshold_tests(alerts, levels, lambda v: [(selector("push_time_seconds", group),
                                                        f"{-v!r}+{clock.scrape.seconds:g}x{{n}}")], out, clock)
    return alerts, tests
