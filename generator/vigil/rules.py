"""Rules and their promtool tests, built side by side from the same parameters.

A kind module describes an alert once (expression, thresholds, `for`,
annotations) together with how to make input series that push its value to a
chosen number; the helpers here turn that into the alert rules *and* the unit
tests that show each one silent below its threshold, silent before its `for`
has passed, and firing after, with the exact labels and annotations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from .humanize import expand, humanize, humanize_duration, humanize_percentage
from .quoting import double_quoted
from .units import Duration

Series = list[tuple[str, str]]          # (promtool series selector, values with {n} for the sample count)


@dataclass(frozen=True)
class Record:
    record: str
    expr: str
    labels: dict = field(default_factory=dict)     # added to every series it records


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: Duration
    labels: dict                         # service, team, severity, ...
    annotations: dict                    # summary, description, runbook_url, dashboard_url


@dataclass(frozen=True)
class Expect:
    labels: dict
    annotations: dict


@dataclass(frozen=True)
class Check:
    at: Duration
    alertname: str
    alerts: tuple[Expect, ...] = ()


@dataclass(frozen=True)
class ExprCheck:
    """A PromQL expression and the samples it must return at `at` (promql_expr_test):
    for recorded series, whose maths a scenario pins to known answers."""
    at: Duration
    expr: str
    samples: tuple[tuple[dict, float], ...]


@dataclass
class RuleTest:
    name: str
    series: list[tuple[str, str]]
    checks: list[Check]
    interval: Optional[Duration] = None  # between the series' samples; None: the stack's scrape interval
    # A suite of its own (tests/<suite>/...test.yml) evaluated every `evaluation` rather than at the
    # stack's interval: promtool evaluates every rule at every step, long scenarios need coarser steps.
    suite: str = ""
    evaluation: Optional[Duration] = None
    exprs: list[ExprCheck] = field(default_factory=list)


@dataclass
class RuleGroup:
    name: str
    rules: list                          # Record | Alert, in evaluation order
    interval: Optional[Duration] = None  # None: the stack's evaluation_interval


@dataclass
class RuleFile:
    path: str                            # relative to prometheus/, e.g. rules/services/checkout.yml
    groups: list[RuleGroup]
    tests: list[RuleTest] = field(default_factory=list)


@dataclass(frozen=True)
class Timing:
    """Sample and evaluation intervals of the rule tests."""
    scrape: Duration
    evaluation: Duration

    @property
    def step(self) -> Duration:
        return max(self.scrape, self.evaluation)

    def samples(self, until: int) -> int:
        return until // self.scrape + 10

    def every_evaluation(self) -> "Timing":
        """The tests' samples every gcd of the two intervals, so that one falls on each evaluation:
        for a series read against time() (an expiry, a push's age), exact only where a sample is."""
        return Timing(Duration(math.gcd(self.scrape, self.evaluation)), self.evaluation)

    @property
    def gauge_window(self) -> Duration:
        """How far back an alert reads an instant gauge: a few scrapes, so that one failed
        scrape (its staleness marker) neither resets a `for` nor ends an alert."""
        return Duration(GAUGE_SCRAPES * self.scrape)


GAUGE_SCRAPES = 4


def steady(expr: str, timing: Timing, falling: bool = False) -> str:
    """An instant gauge read through the gauge window, the way its alert needs it: a rising
    alert sees the lowest sample of the window (every sample above the threshold), a falling
    one the highest. A range skips staleness markers, so a missed scrape leaves the others."""
    return f"{'max' if falling else 'min'}_over_time({expr}[{timing.gauge_window}])"


def latest(expr: str, timing: Timing) -> str:
    """A gauge's last sample within the gauge window: a limit (max_connections, maxmemory)
    that a failed scrape must not blank out."""
    return f"last_over_time({expr}[{timing.gauge_window}])"


def series_labels(selector: str) -> dict:
    """'up{job="a",x="b"}' -> {'job': 'a', 'x': 'b'} (no __name__). Values must not hold '",'."""
    _, _, rest = selector.partition("{")
    out = {}
    for pair in filter(None, rest.rstrip("}").split('",')):
        k, _, v = pair.partition("=")
        out[k.strip()] = v.strip().strip('"')
    return out


def selector(metric: str, labels: dict) -> str:
    return metric + "{" + ",".join(f"{k}={double_quoted(v)}" for k, v in labels.items()) + "}"


def _ceil_to(t: int, timing: "Timing") -> Duration:
    """Round up to an evaluation time. Not to one where a sample falls too: with intervals
    that do not divide each other (55s and 59s) that is their least common multiple, most
    of an hour away, past the end of what a scenario set up (a restart's window, a clock
    being corrected). Between samples an evaluation reads the last one, which is as good."""
    return Duration(-(-t // timing.evaluation) * timing.evaluation)


def _fill(series: Series, n: int) -> list[tuple[str, str]]:
    return [(s, v.replace("{n}", str(n))) for s, v in series]


def expected(alert: Alert, out_labels: dict, value: Optional[float]) -> Expect:
    """What promtool should see: the expression's labels plus the rule's, annotations expanded."""
    labels = {k: expand(v, out_labels, value) if "{{" in v else v for k, v in alert.labels.items()}
    return Expect({**out_labels, **labels},
                  {k: expand(v, out_labels, value) for k, v in alert.annotations.items()})


def firing_check_time(start: int, for_: int, timing: Timing, settle: int = 0) -> Duration:
    """When firing_tests checks that an alert true from `start` fires: `for` and two steps
    later (after `settle`), on an evaluation."""
    return _ceil_to(max(start + for_ + 2 * timing.step, settle + timing.step), timing)


def firing_tests(name: str, alerts: Sequence[Alert], series: Series, out_labels: dict | Sequence[dict],
                 value: Optional[float], timing: Timing, start: int = 0, settle: int = 0) -> RuleTest:
    """`series` make every alert in `alerts` (one alertname) true from `start`:
    none fires before its `for` has passed; all fire after, once for each of `out_labels`
    (one label set, or a list of them). `settle`: when the value reaches `value` exactly
    (rates need their window full of samples)."""
    outs = [out_labels] if isinstance(out_labels, dict) else list(out_labels)
    late = firing_check_time(start, max(a.for_ for a in alerts), timing, settle)
    checks = []
    early = start + min(a.for_ for a in alerts) - timing.step
    if early >= start and min(a.for_ for a in alerts) > 0:
        checks.append(Check(Duration(early // timing.evaluation * timing.evaluation), alerts[0].name))
    checks.append(Check(late, alerts[0].name, tuple(expected(a, o, value) for a in alerts for o in outs)))
    return RuleTest(name, _fill(series, timing.samples(late)), checks, timing.scrape)


def silent_check_time(longest_for: int, timing: Timing, settle: int = 0) -> Duration:
    """When silent_test checks: three steps past the longest `for`, and one past `settle` and it."""
    return _ceil_to(max(longest_for + 3 * timing.step, settle + longest_for + timing.step), timing)


def silent_test(name: str, alertname: str, series: Series, timing: Timing, longest_for: int,
                settle: int = 0) -> RuleTest:
    late = silent_check_time(longest_for, timing, settle)
    return RuleTest(name, _fill(series, timing.samples(late)), [Check(late, alertname)], timing.scrape)


@dataclass(frozen=True)
class Level:
    severity: str
    threshold: float                     # in the unit the expression yields
    text: str                            # as the user wrote it: "5%", "2s"


def threshold_alerts(name: str, value_expr: str, levels: Sequence[Level], for_: Duration,
                     labels: dict, annotations: Callable[[Level], dict], *, falling: bool = False,
                     guard: str = "") -> list[Alert]:
    """`guard`: a clause appended to each comparison (e.g. ` and on (service) ...`), which keeps its value."""
    op = "<" if falling else ">"
    return [Alert(name, f"{value_expr} {op} {promql_number(lv.threshold)}{guard}", for_,
                  {**labels, "severity": lv.severity}, annotations(lv)) for lv in levels]


def threshold_tests(alerts: Sequence[Alert], levels: Sequence[Level], series_at: Callable[[float], Series],
                    out_labels: dict, timing: Timing, *, start: int = 0, settle: int = 0,
                    falling: bool = False, cap: Optional[float] = None, gap: bool = False,
                    title: str = "") -> list[RuleTest]:
    """For each threshold, a value 10% short of it and one 10% past it: exactly
    the levels whose threshold the value crosses fire, and only after `for`. A rising
    threshold of 0 ("any at all") is passed by half the lowest positive one (or 0.5).
    `gap`: the alert reads a gauge through the gauge window; the value past every
    threshold fires too with one failed scrape in the middle of its `for` (gap_test).
    `title`: what the tests' names begin with, where the alert's name does not tell them apart."""
    title = title or alerts[0].name

    def crossed(value: float) -> list:
        return [a for a, lv in zip(alerts, levels) if (value < lv.threshold if falling else value > lv.threshold)]
    values = []
    any_at_all = min([lv.threshold for lv in levels if lv.threshold > 0] + [1.0]) / 2
    for lv in levels:
        under, over = (lv.threshold * 1.1, lv.threshold * 0.9) if falling else (lv.threshold * 0.9, lv.threshold * 1.1)
        if not falling and lv.threshold <= 0:
            over = any_at_all
        if cap is not None:
            over = min(over, (lv.threshold + cap) / 2)
        values += [v for v in (untied(under), untied(over)) if v not in values]
    tests = case_tests(alerts, [_case(v, crossed(v), series_at, start) for v in values], out_labels, timing,
                       quiet_for=max(a.for_ for a in alerts) + start, quiet_settle=settle, firing_settle=settle,
                       title=title)
    if gap:
        value = max(values, key=lambda v: len(crossed(v)))
        tests += gap_test(f"{title}: {crossed(value)[-1].labels['severity']} through one missed scrape",
                          crossed(value), series_at(value), out_labels, value, timing, start, settle)
    return tests


@dataclass(frozen=True)
class Case:
    """One case of an alert's tests: its series, the alerts (levels) they fire and from when, and the
    value those alerts show."""
    label: str                           # "quiet at 0.9", "fires"
    series: Series
    crossed: list
    value: Optional[float] = None
    start: int = 0


def case_tests(alerts: Sequence[Alert], cases: list[Case], out_labels: dict, timing: Timing, *, quiet_for: int,
               quiet_settle: int = 0, firing_settle: int = 0, title: str = "") -> list[RuleTest]:
    """The cases of one alert side by side in one test, each on an instance of its own, where the alert
    is per instance: promtool's cost is each test's steps times its file's rules, and a test per
    case made a host's tests the slowest of a check. Else one test per case. The tests' names begin
    with `title`, or else the alert's name."""
    name = alerts[0].name
    title = title or name
    apart = [_own_instance(c.series, out_labels, c.label) for c in cases]
    firing = [(c, out) for c, (_, out) in zip(cases, apart) if c.crossed] if all(apart) else []
    # One check before the first case could fire (nothing yet), once every case has crossed; without
    # it (no `for`) each case is a test of its own, so every alert is still shown silent by a check.
    shortest = min((a.for_ for c, _ in firing for a in c.crossed), default=0)
    early = min((c.start for c, _ in firing), default=0) + shortest - timing.step
    if len(cases) < 2 or not all(apart) or not shortest or early < max(c.start for c, _ in firing):
        return [firing_tests(f"{title}: {c.label}", c.crossed, c.series, out_labels, c.value, timing, c.start,
                             firing_settle) if c.crossed else
                silent_test(f"{title}: {c.label}", name, c.series, timing, quiet_for, quiet_settle)
                for c in cases]
    # and one when the last case's own test would check.
    late = max([silent_check_time(quiet_for, timing, quiet_settle)] * (len(firing) < len(cases)) +
               [firing_check_time(c.start, max(a.for_ for a in c.crossed), timing, firing_settle) for c, _ in firing])
    checks = [Check(Duration(early // timing.evaluation * timing.evaluation), name),
              Check(late, name, tuple(expected(a, out, c.value) for c, out in firing for a in c.crossed))]
    return [RuleTest(f"{title}: {', '.join(c.label for c in cases)}", _fill([s for series, _ in apart for s in series],
                                                                        timing.samples(late)), checks, timing.scrape)]


def _own_instance(series: Series, out_labels: dict, case: str) -> Optional[tuple[Series, dict]]:
    """The series of one case on an instance of its own ("db:5432 (warning at 0.9)"), or None where
    the alert is not per instance (or a series is not of that instance)."""
    instance = out_labels.get("instance")
    if instance is None:
        return None
    own = f"{instance} ({case})"
    label = re.compile(rf"(?<=[{{,])instance={re.escape(double_quoted(instance))}(?=[,}}])")
    renamed = [(label.sub(lambda _: f"instance={double_quoted(own)}", s, count=1), v) for s, v in series]
    if any(new == old for (new, _), (old, _) in zip(renamed, series)):
        return None
    return renamed, {**out_labels, "instance": own}


_VALUES = re.compile(r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)(?:([+-])([0-9.]+(?:e[+-]?[0-9]+)?))?x\{n\}")


def with_gap(values: str, at: int) -> str:
    """promtool values ('5x{n}', '0+3x{n}') with sample `at` a staleness marker: what
    Prometheus writes for every series of a target whose scrape failed."""
    m = _VALUES.fullmatch(values)
    if not m:
        raise ValueError(f"cannot put a gap into {values!r}")
    first, sign, step = m.groups()
    inc = "" if sign is None else f"{sign}{step}"
    d = 0.0 if sign is None else float(f"{sign}{step}")
    after = promql_number(float(first) + d * (at + 1))
    return f"{first}{inc}x{at - 1} stale {after}{inc}x{{n}}"


def gap_test(name: str, alerts: Sequence[Alert], series: Series, out_labels: dict, value: Optional[float],
             timing: Timing, start: int = 0, settle: int = 0) -> list[RuleTest]:
    """firing_tests with one failed scrape (every series stale at one sample) halfway through
    `for`: an alert that reads the gauge bare restarts its `for` there and is still pending
    at the check; through the gauge window it fires on time. Nothing when `for` is too short
    for a restart to show (under six steps)."""
    for_ = max(a.for_ for a in alerts)
    if for_ < 6 * timing.step:
        return []
    at = _ceil_to(max(start, settle - for_) + for_ // 2, timing) // timing.scrape
    return [firing_tests(name, alerts, [(s, with_gap(v, at)) for s, v in series], out_labels, value, timing,
                         start, settle)]


def untied(x: float) -> float:
    """x to 6 digits, moved off a rounding tie of the 4-digit text that
    annotations print (float error in a PromQL ratio could tip a tie either
    way). Durations of a minute and more print whole seconds from exact data."""
    v = float(f"{x:.6g}")
    for _ in range(20):
        texts = (humanize, humanize_percentage) + ((humanize_duration,) if abs(v) < 60 else ())
        if all(f(v * (1 - 1e-9)) == f(v * (1 + 1e-9)) for f in texts):
            break
        v = float(f"{v * 1.0001:.6g}")
    return v


def promql_number(x: float) -> str:
    """Shortest decimal text of a float, never in exponent form."""
    text = repr(float(x))
    if "e" in text:
        text = format(x, ".12f").rstrip("0").rstrip(".")
    return text.removesuffix(".0")


def rate_threshold_tests(alerts: list, levels: list, series_at, out: dict, timing: Timing,
                         window: Duration) -> list[RuleTest]:
    """threshold_tests for `rate(counter[window]) > threshold`, fed by a counter rising at `v` a second
    from 0 at time 0 (`series_at(v)`). Such a rate climbs as v * t / window until its window is full,
    so a level turns true no sooner than threshold * window / v: its `for` counts from there. A
    threshold of 0 ("any at all") is tested with 0 (quiet) and 1 a second (firing)."""
    values = []
    for lv in levels:
        for v in ((lv.threshold * 0.9, lv.threshold * 1.1) if lv.threshold else (0.0, 1.0)):
            v = untied(v)
            if v not in values:
                values.append(v)
    settle = window + timing.scrape
    longest = max(a.for_ for a in alerts)
    cases = []
    for v in values:
        crossed = [a for a, lv in zip(alerts, levels) if v > lv.threshold]
        # No sooner than this evaluation (ms), one evaluation early to be safe: `for` counts from here.
        onset = int(min(lv.threshold for lv in levels if v > lv.threshold) * window / v) if crossed else 0
        cases.append(_case(v, crossed, series_at, Duration(max(0, onset // timing.evaluation * timing.evaluation
                                                                - timing.evaluation))))
    return case_tests(alerts, cases, out, timing, quiet_for=longest, quiet_settle=settle,
                      firing_settle=settle + longest)


def _case(value: float, crossed: list, series_at: Callable[[float], Series], start: int) -> Case:
    label = f"{crossed[-1].labels['severity'] if crossed else 'quiet'} at {promql_number(value)}"
    return Case(label, series_at(value), crossed, value, start)
