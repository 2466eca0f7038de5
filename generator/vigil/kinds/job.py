"""kind: job — a worker or batch process with a /metrics endpoint, or a Pushgateway
that batch jobs push to.

Vigil knows nothing of its metrics: it is scraped and watched for being down; the rest
is the inventory's own `rules` and `panels`. Scraping a Pushgateway, it also watches
each pushed group's push_time_seconds: a batch job that stopped pushing (its last
successful push older than `push_age`). The series exist on Pushgateways only, so on
any other job the alert is empty, never firing.
"""

from __future__ import annotations

from ..inventory import Service
from ..rules import Level, latest, selector, threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration
from .base import AlertDefaults, Context, ServicePlan, annotations, scraped_alerts, scraped_plan, service_labels, \
    target_labels

NAME = "job"
FIELDS = {"targets": "required"}
ALERTS = {
    **scraped_alerts(),
    # a daily batch job that missed a run, with an hour to spare
    "push_age": AlertDefaults({"warning": Duration.parse("25h"), "for": Duration.parse("0s")}),
}
RUNBOOKS = {
    "JobPushStale": Runbook(
        "A batch job pushed nothing to the Pushgateway for longer than the threshold: it has not run, or it "
        "fails before pushing. The Pushgateway keeps serving its last values, so its own metrics look fine.",
        ("The job's scheduler (cron, systemd timer, Kubernetes CronJob): did it run, and how did it exit?",
         "The job's logs around its schedule; a push that fails shows in push_failure_time_seconds.",
         "A job retired on purpose: delete its group (`curl -X DELETE <pushgateway>/metrics/job/<name>`).")),
}


def dashboard(service: Service) -> str:
    return f"svc-{service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    return scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service),
                        lambda params, disabled: push_rules(service, ctx, params, disabled))


def push_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple[list, list]:
    if "push_age" in disabled:
        return [], []
    p, name = params["push_age"], "JobPushStale"
    levels = [Level(s, p[s].seconds, str(p[s])) for s in ("warning", "critical") if s in p]
    # Without honor_labels the pushed job's name is exported_job (job is the scrape job's).
    by = "job, instance, service, team, exported_job"
    pushed = latest(f'push_time_seconds{{service="{service.name}"}}', ctx.timing)
    alerts = threshold_alerts(
        name, f"time() - max by ({by}) ({pushed})", levels, p["for"], service_labels(service),
        lambda lv: annotations(ctx, service, dashboard(service), name,
                               f"{service.name}: batch job {{{{ $labels.exported_job }}}} stopped pushing",
                               f"Batch job {{{{ $labels.exported_job }}}} last pushed to {{{{ $labels.instance }}}} "
                               f"{{{{ $value | humanizeDuration }}}} ago ({lv.severity} above {lv.text})."))
    group = {"job": service.name, "instance": service.targets[0], **target_labels(service), "exported_job": "nightly"}
    out = {k: group[k] for k in by.split(", ")}
    clock = ctx.timing.every_evaluation()
    # A push `v` seconds before each sample: its age is v at each (and a sample at each evaluation).
    tests = threshold_tests(alerts, levels, lambda v: [(selector("push_time_seconds", group),
                                                        f"{-v!r}+{clock.scrape.seconds:g}x{{n}}")], out, clock)
    return alerts, tests
