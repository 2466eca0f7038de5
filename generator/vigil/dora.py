"""DORA metrics from real events: the deploys `vigil deploy` records and the
critical alerts Prometheus fires, turned into recording rules per service and
per team over 7 and 30 days, with promtool scenario tests of known answers.

Events and where they live:

- a deploy is one group on the Pushgateway (job vigil-deploy, service,
  version), which Prometheus scrapes with honor_labels:
      vigil_deploy_time_seconds{service,team,version,status,commit}       when it happened (unix s)
      vigil_deploy_lead_time_seconds{...}                                 deploy time - commit time
  A group, so a rerun of the same deploy replaces it (idempotent) and a later
  `--status rolled-back` changes its status in place.
- an incident is a stretch of time in which a critical alert of the service
  fires: ALERTS / ALERTS_FOR_STATE, which Prometheus writes itself. The rules
  below mark its start and its end with one sample each (they run in a group of
  their own every EVAL, and `x unless x offset EVAL` is true for one evaluation).

Formulas (W = 7d or 30d; README "DORA metrics" says the same for people):

    deployment frequency   deploys in W / days of W; band: on demand >= 1 a day,
                           weekly >= 1 a week, monthly >= 1 a month, else less
    lead time              median over deploys in W of (deploy time - commit time)
    change failure rate    deploys in W that failed, were rolled back, or were followed
                           within the failure window (stack.dora.failure_window, 1h by default)
                           by a critical alert of their service
                           (attributed to the last deploy before the alert) / deploys in W
    time to restore        median over incidents that ended in W of (end - start), start
                           being when the first critical alert's condition held (its
                           `for` included: the failure began then)
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import ExprCheck, Record, RuleFile, RuleGroup, RuleTest, selector
from .units import Duration

DEPLOY_JOB = "vigil-deploy"                 # the Pushgateway job of deploy events
DEPLOY_TIME = "vigil_deploy_time_seconds"
LEAD_TIME = "vigil_deploy_lead_time_seconds"
STATUSES = ("succeeded", "failed", "rolled-back")
FAILED = ("failed", "rolled-back")
FAILED_MATCHER = 'status=~"' + "|".join(FAILED) + '"'
WINDOWS = (Duration.parse("7d"), Duration.parse("30d"))
EVAL = Duration.parse("1m")                 # the DORA group's own interval: the precision of incident times
# The failure window's bounds: a few minutes at least (incident times are known to the minute, and a
# shorter window counts almost no alert); a day at most (an alert a day later is rarely the deploy's
# doing, and the scenarios below fit in the 7-day window).
FAILURE_WINDOW_RANGE = (Duration.parse("5m"), Duration.parse("1d"))
GROUP = "vigil:dora"
PATH = "rules/dora.yml"
SUITE = "dora"

# Bands of the DORA report (Accelerate State of DevOps 2023): value -> (frequency band, lowest deploys a day).
FREQUENCY_BANDS = ((4, "on demand", 1.0), (3, "weekly", 1 / 7), (2, "monthly", 1 / 30), (1, "less", 0.0))
# Elite / high / medium / low of the other three keys, for the dashboard's thresholds and legend.
LEAD_TIME_BANDS = (("elite", "less than a day", 86400), ("high", "a day to a week", 7 * 86400),
                   ("medium", "a week to a month", 30 * 86400), ("low", "more than a month", None))
FAILURE_BANDS = (("elite", "up to 5%", 0.05), ("high", "up to 10%", 0.10), ("medium", "up to 15%", 0.15),
                 ("low", "more", None))
RESTORE_BANDS = (("elite", "less than an hour", 3600), ("high", "less than a day", 86400),
                 ("medium", "a day to a week", 7 * 86400), ("low", "more than a week", None))

# Recorded series. `{w}` is the window (7d, 30d); `{level}` is service or team.
INCIDENT_SINCE = "service:dora_incident:since"                  # start of the incident going on now
INCIDENT_STARTED = "service:dora_incident:started"              # one sample at the first evaluation
RESTORED = "{level}:dora_incident_restored:seconds"             # one sample when it ends: its duration
DEPLOY_HIT = "service:dora_deploy_followed_by_incident:seconds"  # deploy labels, one sample: deploy -> alert
DEPLOYS = "{level}:dora_deploys:count{w}"
FREQUENCY = "{level}:dora_deploy_frequency:per_day{w}"
BAND = "{level}:dora_deploy_frequency:band{w}"
LEAD = "{level}:dora_lead_time_seconds:median{w}"
FAILURES = "{level}:dora_failed_deploys:count{w}"
CFR = "{level}:dora_change_failure:ratio{w}"
RESTORE = "{level}:dora_time_to_restore_seconds:median{w}"
LEVELS = {"service": "service, team", "team": "team"}


def name(template: str, level: str, w: Duration | None = None) -> str:
    return template.format(level=level, w=w or "")


def _in(w: Duration, matchers: str = "") -> str:
    """Deploys whose time lies in the last w."""
    return f"{DEPLOY_TIME}{{{matchers}}} > time() - {w.seconds:g}" if matchers else f"{DEPLOY_TIME} > time() - {w.seconds:g}"


def window_problem(window: Duration) -> str | None:
    """What is wrong with a failure window (stack.dora.failure_window), if anything."""
    lo, hi = FAILURE_WINDOW_RANGE
    if window % EVAL or not lo <= window <= hi:
        return (f"{window} is not a whole number of minutes from {lo} to {hi} (the DORA rules run every {EVAL}; "
                f"a deploy followed within this by a critical alert of its service counts as failed)")
    return None


def rules(failure_window: Duration) -> list[Record]:
    e = EVAL
    firing = 'ALERTS_FOR_STATE{severity="critical",service!=""} and ignoring (alertstate) ALERTS{alertstate="firing"}'
    out = [
        Record(INCIDENT_SINCE, f"min by (service, team) ({firing})"),
        Record(INCIDENT_STARTED, f"{INCIDENT_SINCE} unless {INCIDENT_SINCE} offset {e}"),
        Record(name(RESTORED, "service"), f"time() - ({INCIDENT_SINCE} offset {e}) unless {INCIDENT_SINCE}"),
        # Two services of a team ending incidents in the same minute count once (the longer).
        Record(name(RESTORED, "team"), f"max by (team) ({name(RESTORED, 'service')})"),
        # At an incident's first minute: the last deploy of its service, if that was under the failure window ago.
        Record(DEPLOY_HIT, f"(time() - topk by (service) (1, {DEPLOY_TIME})) < {failure_window.seconds:g} "
                           f"and on (service) {INCIDENT_STARTED}"),
    ]
    for w in WINDOWS:
        days = w.seconds / 86400
        failed_status = f"max by (service, team, version) ({_in(w, FAILED_MATCHER)})"
        hit = (f"max by (service, team, version) (max_over_time({DEPLOY_HIT}[{w}]) "
               f"and on (service, version) ({_in(w)}))")
        for level, by in LEVELS.items():
            deploys, failures = name(DEPLOYS, level, w), name(FAILURES, level, w)
            freq = name(FREQUENCY, level, w)
            out += [
                Record(deploys, f"count by ({by}) ({_in(w)})"),
                Record(freq, f"{deploys} / {days:g}"),
                Record(name(BAND, level, w), " or ".join(
                    f"({freq} >= {lo:.6g}) * 0 + {v}" if lo else f"{freq} * 0 + {v}" for v, _, lo in FREQUENCY_BANDS)),
                Record(name(LEAD, level, w), f"quantile by ({by}) (0.5, {LEAD_TIME} and on (service, version) "
                                             f"({_in(w)}))"),
                Record(failures, f"count by ({by}) ({failed_status} or {hit})"),
                Record(name(CFR, level, w), f"({failures} or {deploys} * 0) / {deploys}"),
                Record(name(RESTORE, level, w), f"quantile_over_time(0.5, {name(RESTORED, level)}[{w}])"),
            ]
    return out


def scrape_job(pushgateway: str, team: str) -> dict:
    """Prometheus' job for the Pushgateway. honor_labels: the pushed job/service/team/version labels
    are the events'; its own metrics take the target's, so the stack's ServiceDown watches it too."""
    return {"job_name": "pushgateway", "honor_labels": True,
            "static_configs": [{"targets": [pushgateway], "labels": {"service": "pushgateway", "team": team,
                                                                     "kind": "stack"}}]}


# ---------------------------------------------------------------- scenario tests: known answers


@dataclass(frozen=True)
class Deploy:
    service: str
    minute: int                  # minutes from the scenario's start (before it: on the Pushgateway from the start)
    version: str
    status: str = "succeeded"
    lead: int | None = None      # minutes from commit to deploy


@dataclass(frozen=True)
class Incident:
    service: str
    minute: int                  # its critical alert fires from here...
    minutes: int                 # ...for this long
    state: str = "firing"        # "pending": its `for` never passed, no incident


@dataclass(frozen=True)
class Scenario:
    name: str
    minutes: int                 # evaluated at the end
    deploys: tuple[Deploy, ...]
    incidents: tuple[Incident, ...]
    expect: dict                 # (template, level, labels, window) -> value


TEAM = "payments"                # every scenario service's team


def _values(runs: list[tuple[object, int]]) -> str:
    """promtool values from (value, minutes) runs: None absent, "stale" one staleness marker."""
    out = []
    for value, n in runs:
        if value is None:
            out.append(f"_x{n}") if n else None
        elif value == "stale":
            out.append("stale")
        elif n:
            out.append(f"{value:g}x{n - 1}")
    return " ".join(out)


def _series(sc: Scenario) -> list[tuple[str, str]]:
    out = []
    for d in sc.deploys:
        labels = {"job": DEPLOY_JOB, "service": d.service, "team": TEAM, "version": d.version, "status": d.status,
                  "commit": f"c{d.version}"}
        pushed = max(d.minute, 0)
        out.append((selector(DEPLOY_TIME, labels), _values([(None, pushed), (d.minute * 60, sc.minutes - pushed + 1)])))
        if d.lead is not None:
            out.append((selector(LEAD_TIME, labels), _values([(None, pushed), (d.lead * 60, sc.minutes - pushed + 1)])))
    for n, i in enumerate(sc.incidents):
        labels = {"alertname": f"Critical{n}", "service": i.service, "team": TEAM, "severity": "critical"}
        runs = lambda v: _values([(None, i.minute), (v, i.minutes), ("stale", 1)])   # noqa: E731
        out.append((selector("ALERTS", {**labels, "alertstate": i.state}), runs(1)))
        out.append((selector("ALERTS_FOR_STATE", labels), runs(i.minute * 60)))
    return out


def _checks(sc: Scenario) -> list[ExprCheck]:
    out = []
    for (level, who), values in sc.expect.items():
        labels = {"service": who, "team": TEAM} if level == "service" else {"team": who}
        for (template, w), value in values.items():
            series = name(template, level, Duration.parse(w))
            out.append(ExprCheck(Duration(sc.minutes * 60_000), selector(series, labels),
                                 (({"__name__": series, **labels}, value),)))
    return out


def _same(values: dict) -> dict:
    return {("service", "checkout"): values, ("team", TEAM): values}


def scenarios(failure_window: Duration) -> tuple[Scenario, ...]:
    """The known answers, their times placed against the failure window (u minutes): the same
    answers for every window the inventory may set, and an incident on each side of its edge."""
    u = int(failure_window.seconds // 60)
    soon = lambda minutes: min(minutes, u // 2)   # noqa: E731  (well inside the window)
    # Attribution: an alert at 5/6 of the window after v4 (and 10 minutes more after v3) fails v4
    # only; one an hour past the window after v5 fails none; an alert that stays pending is no
    # incident; v2 failed and s2 was rolled back by their status. Another service of the team
    # (search) counts for the team, not for checkout.
    edge = 210 + u * 5 // 6                       # the incident near the window's edge
    v5 = edge + 40
    late = v5 + u + 60                            # the one past it
    return (
        # The example: 8 deploys in the last 7 days, 2 of them followed within the window by a
        # critical alert, lasting 30 and 90 minutes; lead times of 1, 2 and 3 hours. And a deploy 8 days
        # ago (lead 10 hours), still on the Pushgateway: in the 30-day numbers, not in the 7-day ones.
        # The windows count deploys by their recorded time, so the recent ones lie 2 hours apart (16 hours
        # of evaluations, not 7 days: the same numbers at a seventh of promtool's time).
        Scenario("8 deploys in 7 days, 2 followed by an incident of 30 and 90 minutes, and one 8 days ago", 960,
                 (Deploy("checkout", 960 - 8 * 1440, "v0", lead=600),
                  *(Deploy("checkout", 60 + k * 120, f"v{k + 1}", lead=[60, 120, 180][k] if k < 3 else None)
                    for k in range(8))),
                 (Incident("checkout", 60 + 2 * 120 + soon(30), 30), Incident("checkout", 60 + 5 * 120 + soon(20), 90)),
                 _same({(DEPLOYS, "7d"): 8, (FREQUENCY, "7d"): 8 / 7, (BAND, "7d"): 4, (LEAD, "7d"): 7200,
                        (FAILURES, "7d"): 2, (CFR, "7d"): 0.25, (RESTORE, "7d"): 3600,
                        # over 30 days, v0 too: 9/30 a day is "weekly"; the median lead is of 1, 2, 3 and 10 hours
                        (DEPLOYS, "30d"): 9, (FREQUENCY, "30d"): 9 / 30, (BAND, "30d"): 3, (LEAD, "30d"): 9000,
                        (FAILURES, "30d"): 2, (CFR, "30d"): 2 / 9, (RESTORE, "30d"): 3600})),
        Scenario(f"failures go to the last deploy before the alert, within {failure_window}", late + 200,
                 (Deploy("checkout", 60, "v1", lead=30), Deploy("checkout", 120, "v2", status="failed"),
                  Deploy("checkout", 200, "v3", lead=90), Deploy("checkout", 210, "v4", lead=60),
                  Deploy("checkout", v5, "v5"), Deploy("search", 100, "s1"),
                  Deploy("search", v5 + 20, "s2", status="rolled-back")),
                 (Incident("checkout", edge, 20), Incident("checkout", late, 10),
                  Incident("checkout", v5 + 20, 20, "pending"), Incident("search", 100 + soon(10), 5)),
                 {("service", "checkout"): {(DEPLOYS, "7d"): 5, (FAILURES, "7d"): 2, (CFR, "7d"): 0.4,
                                            (RESTORE, "7d"): 900, (LEAD, "7d"): 3600, (BAND, "7d"): 3},
                  ("service", "search"): {(DEPLOYS, "7d"): 2, (FAILURES, "7d"): 2, (CFR, "7d"): 1,
                                          (RESTORE, "7d"): 300},
                  # 7 deploys in 7 days: exactly one a day is "on demand"
                  ("team", TEAM): {(DEPLOYS, "7d"): 7, (FREQUENCY, "7d"): 1, (BAND, "7d"): 4, (FAILURES, "7d"): 4,
                                   (CFR, "7d"): 4 / 7, (RESTORE, "7d"): 600, (LEAD, "7d"): 3600}}),
    )


def tests(failure_window: Duration) -> list[RuleTest]:
    return [RuleTest(f"DORA: {sc.name}", _series(sc), [], EVAL, SUITE, EVAL, _checks(sc))
            for sc in scenarios(failure_window)]


def rule_file(failure_window: Duration) -> RuleFile:
    return RuleFile(PATH, [RuleGroup(GROUP, rules(failure_window), interval=EVAL)], tests(failure_window))
