"""What every service kind shares: its plan, alert overrides, the down alert,
the health probe and the user's own rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from .. import runbooks
from ..errors import did_you_mean
from ..humanize import expand, template_problem, uses_value
from ..inventory import Service, Stack
from ..rules import Alert, Check, Level, RuleGroup, RuleTest, Series, Timing, expected, firing_tests, gap_test, \
    latest, promql_number, selector, series_labels, silent_test, steady
from ..units import Duration, parse_percent, percent_text

# ---------------------------------------------------------------- the plan of one service


@dataclass(frozen=True)
class ScrapeJob:
    name: str
    targets: tuple
    labels: dict
    metrics_path: str = "/metrics"
    password_of: str | None = None   # the stack part (webauth.PARTS) whose password the target asks for
    honor_labels: bool = False       # the target's own service and team labels win (the errors exporter)


@dataclass(frozen=True)
class Probe:
    """A URL the blackbox exporter checks; its labels tell whose it is."""
    url: str
    labels: dict


@dataclass
class ServicePlan:
    jobs: list[ScrapeJob] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    groups: list[RuleGroup] = field(default_factory=list)
    tests: list[RuleTest] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a kind needs to know of the stack."""
    stack: Stack
    timing: Timing

    @classmethod
    def of(cls, stack: Stack) -> "Context":
        return cls(stack, Timing(stack.scrape_interval, stack.eval_interval))

    def runbook(self, service: Optional[Service], alertname: str) -> Optional[str]:
        """The alert's runbook; None when it would be Grafana's runbooks dashboard and no Grafana
        is run (a link that would not open)."""
        if service is not None and service.runbook_url:
            return service.runbook_url
        if self.stack.runbook_base_url:
            return f"{self.stack.runbook_base_url}#{alertname.lower()}"
        if not self.stack.has_grafana:
            return None
        return runbooks.link(self.stack.external_url("grafana"), alertname, service and service.name)

    def dashboard(self, path: str) -> Optional[str]:
        return f"{self.stack.external_url('grafana')}/d/{path}" if self.stack.has_grafana else None


# ---------------------------------------------------------------- alert overrides


@dataclass(frozen=True)
class AlertDefaults:
    """One overridable alert of a kind: parameter -> default. The default's type
    says how an override is read (Duration, Decimal percent, or float). `optional`:
    parameters unset by default, name -> an example value of their type."""
    params: dict
    falling: bool = False            # fires when the value drops below its thresholds
    optional: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)   # parameter -> why this service may not set it
    # (warning's parameter, critical's parameter) pairs, beyond warning/critical, whose critical
    # must be the smaller value (the nearer horizon, the fuller disk): each alert its own case.
    below: tuple = ()

    def accepts(self, key: str) -> bool:
        return key in self.params or key in self.optional

    def keys(self) -> list:
        return [*self.params, *self.optional]


def _parse_param(default, value):
    if isinstance(default, Duration):
        return Duration.parse(value)
    if isinstance(default, Decimal):
        return parse_percent(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    if not 0 <= value < float("inf"):    # counts, rates and ratios: none is negative
        raise ValueError(f"expected a number, 0 or more, got {value!r}")
    return float(value)


def _text(value) -> str:
    return percent_text(value) if isinstance(value, Decimal) else str(value)


def alert_params(specs: dict, raw: dict) -> tuple[dict, frozenset, list]:
    """Overrides from the inventory -> (alert -> params, disabled names, problems)."""
    params = {name: dict(spec.params) for name, spec in specs.items()}
    disabled, problems = frozenset(), []
    for name, value in raw.items():
        if name == "disabled":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(((name,), "expected a list of alert names"))
                continue
            for i, v in enumerate(value):
                if v not in specs:
                    problems.append(((name, i), f"no alert {v!r} for this kind{did_you_mean(v, specs)}"
                                                 f" (alerts: {', '.join(specs)})"))
            disabled = frozenset(value)
            continue
        if name not in specs:
            problems.append(((name,), f"no alert {name!r} for this kind{did_you_mean(name, specs)}"
                                      f" (alerts: {', '.join(specs) or 'none'}; or 'disabled')"))
            continue
        if not isinstance(value, dict):
            problems.append(((name,), f"expected a mapping of {', '.join(specs[name].params)}"))
            continue
        bad = len(problems)
        spec = specs[name]
        for key, v in value.items():
            if key in spec.refused:
                problems.append(((name, key), spec.refused[key]))
                continue
            if not spec.accepts(key):
                problems.append(((name, key), f"unknown key {key!r}{did_you_mean(key, spec.keys())}"
                                              f" (allowed: {', '.join(spec.keys())})"))
                continue
            try:
                params[name][key] = _parse_param(spec.params.get(key, spec.optional.get(key)), v)
            except ValueError as e:
                problems.append(((name, key), str(e)))
        p = params[name]
        if "warning" in p and "critical" in p and len(problems) == bad:
            w, c = p["warning"], p["critical"]
            if (w >= c) if not specs[name].falling else (w <= c):
                side = "above" if specs[name].falling else "below"
                problems.append(((name,), f"warning threshold {_text(w)} must be {side} the critical one {_text(c)}"))
        for w_key, c_key in specs[name].below:
            if len(problems) == bad and p[c_key] > p[w_key]:
                problems.append(((name, c_key), f"{_text(p[c_key])} must not be over {w_key} ({_text(p[w_key])}): "
                                                f"the critical is the nearer, fuller case"))
    return params, disabled, problems


# ---------------------------------------------------------------- shared alerts


def service_labels(service: Service) -> dict:
    return {"service": service.name, "team": service.team}


def target_labels(service: Service) -> dict:
    return {**service_labels(service), "kind": service.kind, **service.labels}


def job_for(service: Service, targets) -> ScrapeJob:
    return ScrapeJob(service.name, tuple(targets), target_labels(service), service.metrics_path)


def annotations(ctx: Context, service: Optional[Service], dashboard: str, alertname: str,
                summary: str, description: str) -> dict:
    links = {"runbook_url": ctx.runbook(service, alertname), "dashboard_url": ctx.dashboard(dashboard)}
    return {"summary": summary, "description": description, **{k: v for k, v in links.items() if v}}


def up_series(job: ScrapeJob, target: str, values: str) -> tuple[str, str]:
    return selector("up", {"job": job.name, "instance": target, **job.labels}), values


def serving(job: ScrapeJob, server_up: Optional[str] = None) -> str:
    """1 for each target of the job that answers its scrape (and, with `server_up`, whose exporter
    reaches its server), else 0. A failed scrape drops the exporter's gauge: `or up * 0` puts it back as 0."""
    up = f'up{{job="{job.name}"}}'
    return up if server_up is None else f'{up} * ({server_up}{{job="{job.name}"}} or {up} * 0)'


def down_alerts(service: Service, ctx: Context, job: ScrapeJob, params: dict, disabled, dashboard: str,
                server_up: Optional[str] = None) -> tuple[list[Alert], list[RuleTest]]:
    """ServiceDown (critical) when no target of the service serves, one alert per target; and, where
    the service has several targets, InstanceDown for each target that is down while others still
    serve (a warning by default: a replica of several is no page). `server_up`: see serving()."""
    expr_up = serving(job, server_up)
    n = len(job.targets)
    outs = [{"job": job.name, "instance": t, **job.labels} for t in job.targets]
    reach = "answered its scrape" + (f" or its exporter reached the {service.kind} server" if server_up else "")
    check = (f"Check that the server and its exporter run" if server_up else "Check that it runs") + \
        f" and that its {job.metrics_path} endpoint is reachable from Prometheus."
    owner = f"({service.kind} of team {service.team})"

    def series(down: int, reached: str = "1x{n}") -> Series:
        """The first `down` targets fail their scrape, the others answer (and reach their server)."""
        out = []
        for i, o in enumerate(outs):
            out.append(up_series(job, o["instance"], "0x{n}" if i < down else "1x{n}"))
            if server_up and i >= down:
                out.append((selector(server_up, o), reached))
        return out

    rules, tests = [], []
    if "down" not in disabled:
        for_ = params["down"]["for"]
        name = "ServiceDown"
        if n == 1:
            expr = f"{expr_up} == 0"
            why = f"{{{{ $labels.instance }}}} {owner} has not {reach} for more than {for_}."
        else:
            expr = f"({expr_up} == 0) unless on (service) (max by (service) ({expr_up}) > 0)"
            why = (f"None of the {n} targets of {service.name} {owner} has {reach} for more than {for_}: "
                   f"{{{{ $labels.instance }}}} is one of them.")
        alert = Alert(name, expr, for_, {**service_labels(service), "severity": "critical"},
                      annotations(ctx, service, dashboard, name, f"{service.name} is down", f"{why} {check}"))
        rules.append(alert)
        down = firing_tests(f"{name}: fires when down", [alert], series(n), outs, 0, ctx.timing)
        if n > 1 and "instances_down" not in disabled:
            down.checks.append(Check(down.checks[-1].at, "InstanceDown"))   # all down: that is ServiceDown alone
        tests += [silent_test(f"{name}: quiet while up", name, series(0), ctx.timing, for_), down]
        if server_up:
            tests.append(firing_tests(f"{name}: fires when the exporter cannot reach the server", [alert],
                                      series(0, reached="0x{n}"), outs, 0, ctx.timing))
    if n > 1 and "instances_down" not in disabled:
        rules_, tests_ = _instances_down(service, ctx, outs, expr_up, params["instances_down"], dashboard,
                                         owner, reach, check, series)
        rules += rules_
        tests += tests_
    return rules, tests


def instances_down_problems(service: Service, targets: int, params: dict) -> list:
    """A level of InstanceDown that only all targets down would pass can never fire (that is ServiceDown)."""
    out = []
    for sev in ("warning", "critical"):
        if sev in params and targets > 1 and int(params[sev] / 100 * targets) + 1 >= targets:
            out.append((("alerts", "instances_down", sev),
                        f"more than {percent_text(params[sev])} of {targets} targets down means all of them, which is "
                        f"ServiceDown: this level could never fire (lower it, or leave it out)"))
    return out


def _instances_down(service, ctx, outs, expr_up, p, dashboard, owner, reach, check, series):
    """InstanceDown: the share of the service's targets that are down passes a level (any, by default),
    but not all of them (that is ServiceDown)."""
    name, n, for_ = "InstanceDown", len(outs), p["for"]
    levels = [Level(sev, float(p[sev] / 100), percent_text(p[sev])) for sev in ("warning", "critical") if sev in p]
    share = f"1 - avg by (service) ({expr_up})"
    alerts = []
    for lv in levels:
        when = "any of them is down" if lv.threshold == 0 else f"more than {lv.text} of them are down"
        alerts.append(Alert(
            name, f"({expr_up} == 0) + on (service) group_left () ({share} > {promql_number(lv.threshold)} < 1)",
            for_, {**service_labels(service), "severity": lv.severity},
            annotations(ctx, service, dashboard, name, f"{{{{ $labels.instance }}}} of {service.name} is down",
                        f"{{{{ $labels.instance }}}} {owner} has not {reach} for more than {for_}: "
                        f"{{{{ $value | humanizePercentage }}}} of the {n} targets of {service.name} are down, the "
                        f"others still serve ({lv.severity} when {when}). {check}")))
    # Every count of targets down that sits at a level's edge, one down and all but one.
    counts = sorted({1, n - 1} | {k for lv in levels for k in (int(lv.threshold * n), int(lv.threshold * n) + 1)
                                  if 0 < k < n})
    tests = []
    for k in counts:
        crossed = [a for a, lv in zip(alerts, levels) if k / n > lv.threshold]
        label = f"{name}: {k} of {n} targets down"
        if crossed:
            t = firing_tests(label, crossed, series(k), outs[:k], k / n, ctx.timing)
        else:
            t = silent_test(label, name, series(k), ctx.timing, for_)
        t.checks.append(Check(t.checks[-1].at, "ServiceDown"))     # the others serve: the service is not down
        tests.append(t)
    return alerts, tests


def health_alert(service: Service, ctx: Context, for_: Duration, dashboard: str) -> tuple[Alert, list[RuleTest]]:
    name = "HealthCheckFailing"
    labels = {**target_labels(service), "probe": "health"}
    alert = Alert(name, f'probe_success{{job="{PROBE_JOB}",service="{service.name}",probe="health"}} == 0', for_,
                  {**service_labels(service), "severity": "critical"},
                  annotations(ctx, service, dashboard, name, f"{service.name} health check fails",
                              f"{{{{ $labels.instance }}}} has failed its health check for more than {for_}."))
    out = {"job": PROBE_JOB, "instance": service.health_url, **labels}
    sel = selector("probe_success", out)
    return alert, [
        silent_test(f"{name}: quiet while healthy", name, [(sel, "1x{n}")], ctx.timing, for_),
        firing_tests(f"{name}: fires when unhealthy", [alert], [(sel, "0x{n}")], out, 0, ctx.timing),
    ]


PROBE_JOB = "blackbox_http"   # one scrape job for every URL the blackbox exporter checks


def user_rules(service: Service, ctx: Context, dashboard: str) -> tuple[list[Alert], list[RuleTest]]:
    """The inventory's own `rules`, labelled and annotated like Vigil's."""
    alerts, tests = [], []
    for rule in service.rules:
        alert = Alert(rule.alert, rule.expr, rule.for_,
                      {**rule.labels, **service_labels(service), "severity": rule.severity},
                      annotations(ctx, service, dashboard, rule.alert, rule.summary,
                                  rule.description or rule.summary))
        alerts.append(alert)
        tests.append(RuleTest(f"{rule.alert}: quiet without data", [],
                              [Check(Duration(rule.for_ + 3 * ctx.timing.step), rule.alert)]))
        if rule.test is None:
            continue
        fire: Series = [(s, _values(v)) for s, v in rule.test.series.items()]
        outs = [rule.test.labels] if rule.test.labels is not None else [series_labels(s) for s, _ in fire]
        t = firing_tests(f"{rule.alert}: fires with its example series", [alert], fire, outs[0],
                         rule.test.value, ctx.timing)
        late = t.checks[-1]
        t.checks[-1] = Check(late.at, late.alertname, tuple(expected(alert, o, rule.test.value) for o in outs))
        tests.append(t)
        if rule.test.quiet:
            quiet = [(s, _values(v)) for s, v in rule.test.quiet.items()]
            tests.append(silent_test(f"{rule.alert}: quiet with its example series", rule.alert, quiet,
                                     ctx.timing, rule.for_))
    return alerts, tests


def user_rule_problems(service: Service) -> list:
    """Templates Prometheus would refuse; and, for a rule with example series,
    annotations and labels Vigil must expand to state the alert it expects."""
    out = []
    for i, rule in enumerate(service.rules):
        texts = [((key,), getattr(rule, key)) for key in ("summary", "description")]
        texts += [(("labels", k), v) for k, v in rule.labels.items()]
        for path, text in texts:
            bad = template_problem(text)
            if bad:
                out.append((("rules", i) + path, f"invalid template: {bad}"))
                continue
            if rule.test is None:
                continue
            if uses_value(text) and rule.test.value is None:
                out.append((("rules", i, "test", "value"), f"{path[-1]} uses $value: give test.value, "
                                                           f"the value the alert fires with"))
                continue
            try:
                expand(text, {}, rule.test.value if rule.test.value is not None else 0.0)
            except ValueError as e:
                out.append((("rules", i) + path, f"{e}: with a test, templates may use $labels.NAME, $value "
                                                f"and $value | humanize, humanizePercentage or humanizeDuration"))
    return out


def _values(v) -> str:
    """A constant number holds for the whole test; a string is promtool's own notation."""
    return v if isinstance(v, str) else f"{v}x{{n}}"


def scraped_plan(service: Service, ctx: Context, specs: dict, targets, dash: str, kind_rules=None,
                 server_up: Optional[str] = None) -> ServicePlan:
    """The skeleton of every scraped kind: its job, the down and health alerts,
    the kind's own rules (`kind_rules(params, disabled) -> (rules, tests)`),
    and the user's rules in a group of their own. `server_up`: see down_alert."""
    params, disabled, _ = alert_params(specs, service.alerts)
    job = job_for(service, targets)
    out = ServicePlan(jobs=[job])
    rules, tests = [], []
    if "down" in specs:
        more, t = down_alerts(service, ctx, job, params, disabled, dash, server_up)
        rules += more
        tests += t
    if service.health_url:
        out.probes.append(Probe(service.health_url, {**target_labels(service), "probe": "health"}))
        if "health" in specs and "health" not in disabled:
            alert, t = health_alert(service, ctx, params["health"]["for"], dash)
            rules.append(alert)
            tests += t
    if kind_rules is not None:
        more, t = kind_rules(params, disabled)
        rules += more
        tests += t
    return finish(out, service, ctx, dash, rules, tests)


def finish(out: ServicePlan, service: Service, ctx: Context, dash: str, rules: list, tests: list) -> ServicePlan:
    """The service's group of Vigil's rules, then the user's own rules in a group of their own."""
    out.groups.append(RuleGroup(f"service:{service.name}", rules))
    custom, t = user_rules(service, ctx, dash)
    if custom:
        out.groups.append(RuleGroup(f"service:{service.name}:rules", custom))
    out.tests = tests + t
    return out


def exporter_kind(name: str, port: int, server_up: str, alerts: Optional[dict] = None, kind_rules=None):
    """(FIELDS, ALERTS, dashboard, plan) of a server watched through its exporter,
    scraped at `targets` or at the exporter Compose runs for it, <name>-exporter:<port>.
    `server_up`: the exporter's gauge of reaching its server (down when 0, like the exporter);
    `alerts`: the kind's overridable alerts beyond down and health; `kind_rules(service, ctx,
    params, disabled) -> (rules, tests)`: their rules and promtool tests."""
    specs = {**scraped_alerts(), **(alerts or {})}

    def dashboard(service: Service) -> str:
        return f"vigil-{name}?var-service={service.name}"

    def plan(service: Service, ctx: Context) -> ServicePlan:
        targets = service.targets or [f"{service.name}-exporter:{port}"]
        more = None if kind_rules is None else (lambda params, disabled: kind_rules(service, ctx, params, disabled))
        return scraped_plan(service, ctx, specs, targets, dashboard(service), more, server_up=server_up)
    return {"targets": "optional"}, specs, dashboard, plan


# Down for 30s: with the default 15s scrape and evaluation, a single failed
# scrape never pages, and a dead service pages within about a minute
# (scrape + evaluation + for + critical group_wait = at most 70s).
DOWN_FOR = Duration.parse("30s")


def scraped_alerts() -> dict:
    """The alerts every scraped kind starts from: all its targets down, some of them down (`warning`
    and `critical`: above what share of its targets down; only `warning` by default, at any), its
    health_url failing."""
    return {"down": AlertDefaults({"for": DOWN_FOR}),
            "instances_down": AlertDefaults({"warning": Decimal(0), "for": DOWN_FOR}, optional={"critical": Decimal(50)}),
            "health": AlertDefaults({"for": DOWN_FOR})}


# An exporter that answers and reaches its server, but whose own queries of it failed in
# every scrape of the gauge window (a missing privilege, a query the server version lacks).
SCRAPE_ERRORS_FOR = Duration.parse("10m")


def scrape_error_alert(service: Service, ctx: Context, dashboard: str, name: str, metric: str, server_up: str,
                       for_: Duration, target: str) -> tuple[Alert, list[RuleTest]]:
    """`metric`: the exporter's 0/1 gauge of its last scrape of the server failing (any labels
    it carries, like redis_exporter's err, are summed away: the exporter's log has the error)."""
    sel = f'{{job="{service.name}"}}'
    by = "job, instance, service, team"
    alert = Alert(name, f"min by ({by}) ({steady(metric + sel, ctx.timing)}) == 1 and on (job, instance) "
                        f"{latest(server_up + sel, ctx.timing)} == 1", for_,
                  {**service_labels(service), "severity": "warning"},
                  annotations(ctx, service, dashboard, name, f"{service.name}: the exporter's queries fail",
                              f"The exporter of {{{{ $labels.instance }}}} reaches the {service.kind} server, but "
                              f"each of its scrapes for {for_} reported an error ({metric}): some of the "
                              f"metrics are missing, and the alerts over them cannot fire. Its log says which query."))
    full = {"job": service.name, "instance": target, **target_labels(service)}
    out = {k: full[k] for k in ("job", "instance", "service", "team")}

    def series(error: int, up: int) -> Series:
        return [(selector(metric, full), f"{error}x{{n}}"), (selector(server_up, full), f"{up}x{{n}}")]
    tests = [silent_test(f"{name}: quiet while its scrapes succeed", name, series(0, 1), ctx.timing, for_),
             silent_test(f"{name}: quiet while the server is down (ServiceDown's)", name, series(1, 0), ctx.timing,
                         for_),
             firing_tests(f"{name}: fires while every scrape fails", [alert], series(1, 1), out, 1, ctx.timing)]
    return alert, tests + gap_test(f"{name}: fires through one missed scrape", [alert], series(1, 1), out, 1,
                                   ctx.timing)
