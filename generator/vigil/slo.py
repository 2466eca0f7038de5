"""Service level objectives of an http service: error budgets over 30 days and
multi-window, multi-burn-rate alerts on them (Google SRE workbook, "Alerting
on SLOs"), in the manner of slok/sloth: the windows and the burn-rate table
are data, and the rules, their promtool scenario tests and the dashboards are
all made from them.

An objective is "`objective`% of requests are good over 30 days": for
`availability` a good request is one not answered 5xx; for `latency` one
answered within `threshold` (a bucket boundary of the latency histogram). The
error budget is the remaining share, 1 - objective. A *burn rate* is how fast
the budget goes: the share of bad requests over a window divided by the
budget; at 1 the budget lasts exactly 30 days.

Recorded series (labels service, team, slo="availability"|"latency"):

    service:slo_requests:rate<W>                 requests per second over W
    service:slo_errors:ratio_rate<W>             share of bad requests over W
    service:slo_error_budget_remaining:ratio30d  1 - ratio_rate30d / budget (negative: overspent)

for W in WINDOWS. The alert ErrorBudgetBurn (severity critical or warning,
label slo) fires when both windows of one row of BURN_RATES burn faster than
its factor and the long window saw more than `min_request_rate` requests per
second (the low-traffic guard); its value is the long window's burn rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Optional

from . import presets
from .humanize import go_value, humanize, humanize_percentage
from .inventory import Service
from .rules import Alert, Check, Expect, Record, RuleTest, promql_number, selector
from .units import Duration, percent_text

PERIOD = Duration.parse("30d")
WINDOWS = tuple(Duration.parse(w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"))


@dataclass(frozen=True)
class BurnRate:
    """One condition: both windows burn the budget faster than `factor`."""
    severity: str
    factor: float
    long: Duration
    short: Duration          # 1/12 of the long one: the alert stops soon after the burn does


# For a 30-day budget (SRE workbook, table 5-8): page when 2% of the budget goes in an hour or
# 5% in six hours; open a ticket when 10% goes in a day or in three days.
BURN_RATES = (
    BurnRate("critical", 14.4, Duration.parse("1h"), Duration.parse("5m")),
    BurnRate("critical", 6.0, Duration.parse("6h"), Duration.parse("30m")),
    BurnRate("warning", 3.0, Duration.parse("1d"), Duration.parse("2h")),
    BurnRate("warning", 1.0, Duration.parse("3d"), Duration.parse("6h")),
)
SEVERITIES = ("critical", "warning")

ALERT = "ErrorBudgetBurn"
REQUESTS = "service:slo_requests:rate{w}"
ERROR_RATIO = "service:slo_errors:ratio_rate{w}"
BUDGET_LEFT = "service:slo_error_budget_remaining:ratio30d"


@dataclass(frozen=True)
class Objective:
    slo: str                 # availability | latency
    percent: Decimal         # of requests that must be good
    promise: str             # what a good request is, for people
    requests: str            # the counter of every request
    bad: str                 # PromQL: a window's share of bad requests, `{w}` where the window goes

    @property
    def budget(self) -> Decimal:
        return (100 - self.percent) / 100

    @property
    def budget_text(self) -> str:
        return format(self.budget.normalize(), "f")


def le_matcher(seconds: float) -> str:
    """The `le` label of a bucket boundary as every client spells it: Go clients write
    1, Python's and Prometheus 3 (which normalises) write 1.0."""
    spellings = sorted({go_value(seconds), repr(float(seconds))}, key=len)
    if len(spellings) == 1:
        return f'le="{spellings[0]}"'
    return 'le=~"' + "|".join(s.replace(".", "\\\\.") for s in spellings) + '"'


def objectives(service: Service, inst: presets.Instrumentation) -> list[Objective]:
    slo = service.slo
    if slo is None:
        return []
    sel = f'service="{service.name}"'
    by = "sum by (service, team)"
    out = []
    if slo.availability is not None:
        requests = REQUESTS + f'{{{sel},slo="availability"}}'
        # `or ... * 0`: a service that has not failed yet has a ratio of 0, not "no data".
        out.append(Objective("availability", slo.availability, "answered without a 5xx", inst.requests,
                             f'{by} (rate({inst.requests}{{{sel},{inst.status_label}=~"5.."}}[{{w}}])) '
                             f"/ ignoring (slo) {requests} or ignoring (slo) 0 * {requests}"))
    if slo.latency is not None and inst.duration:
        requests = REQUESTS + f'{{{sel},slo="latency"}}'
        le = le_matcher(slo.latency.threshold.seconds)
        out.append(Objective("latency", slo.latency.objective, f"answered within {slo.latency.threshold}",
                             f"{inst.duration}_count",
                             f"1 - {by} (rate({inst.duration}_bucket{{{sel},{le}}}[{{w}}])) "
                             f"/ ignoring (slo) {requests}"))
    return out


def selector_of(service: Service, obj: Objective) -> str:
    return f'{{service="{service.name}",slo="{obj.slo}"}}'


# ---------------------------------------------------------------- validation


def problems(service: Service, inst: Optional[presets.Instrumentation]) -> list[tuple[tuple, str]]:
    """(path under the service, message): a latency SLO needs a histogram with a bucket at its threshold."""
    if service.slo is None or service.slo.latency is None or inst is None:
        return []
    threshold = service.slo.latency.threshold
    if not inst.duration:
        return [(("slo", "latency"), "a latency SLO needs the latency histogram: give the instrumentation's "
                                     "duration")]
    if inst.buckets is None or any(math.isclose(b, threshold.seconds, rel_tol=1e-9) for b in inst.buckets):
        return []
    raw = service.instrumentation
    source = f"{raw}'s histogram" if isinstance(raw, str) or raw is None else "the histogram's buckets " \
                                                                             "(instrumentation.buckets)"
    if raw is None:
        source = f"{presets.DEFAULT_PRESET}'s histogram"
    below = [b for b in inst.buckets if b < threshold.seconds]
    above = [b for b in inst.buckets if b > threshold.seconds]
    near = ([_duration(below[-1])] if below else []) + ([_duration(above[0])] if above else [])
    return [(("slo", "latency", "threshold"), f"{threshold} is not a bucket boundary of {source} "
                                              f"(nearest: {', '.join(near)})")]


def _duration(seconds: float) -> str:
    return str(Duration(round(seconds * 1000)))


# ---------------------------------------------------------------- rules


def rules(service: Service, inst: presets.Instrumentation, labels: dict, annotations) -> list:
    """Recording rules, then the alerts, of every objective of the service. `labels`: the
    alerts' (service, team); `annotations(summary, description)`: runbook and dashboard links added."""
    out: list = []
    for obj in objectives(service, inst):
        out += records(service, obj)
    for obj in objectives(service, inst):
        out += alerts(service, obj, labels, annotations)
    return out


def records(service: Service, obj: Objective) -> list[Record]:
    sel, own = f'{{service="{service.name}"}}', selector_of(service, obj)
    out = [Record(REQUESTS.format(w=w), f"sum by (service, team) (rate({obj.requests}{sel}[{w}]))",
                  {"slo": obj.slo}) for w in WINDOWS]
    out += [Record(ERROR_RATIO.format(w=w), obj.bad.replace("{w}", str(w)), {"slo": obj.slo}) for w in WINDOWS]
    out.append(Record(BUDGET_LEFT, f"1 - {ERROR_RATIO.format(w=PERIOD)}{own} / {obj.budget_text}"))
    return out


def _condition(obj: Objective, br: BurnRate, own: str, min_rate: float) -> str:
    f = promql_number(br.factor)
    return (f"({ERROR_RATIO.format(w=br.long)}{own} / {obj.budget_text} > {f} "
            f"and {ERROR_RATIO.format(w=br.short)}{own} / {obj.budget_text} > {f} "
            f"and {REQUESTS.format(w=br.long)}{own} > {promql_number(min_rate)})")


def alerts(service: Service, obj: Objective, labels: dict, annotations) -> list[Alert]:
    own = selector_of(service, obj)
    out = []
    for severity in SEVERITIES:
        expr = " or ".join(_condition(obj, br, own, service.slo.min_request_rate)
                           for br in BURN_RATES if br.severity == severity)
        left = (f"{{{{ with query `{BUDGET_LEFT}{own}` }}}}{{{{ . | first | value | humanizePercentage }}}}"
                f"{{{{ end }}}}")
        summary, description = texts(service, obj, severity, "{{ $value | humanize }}", left)
        out.append(Alert(ALERT, expr, Duration(0), {**labels, "slo": obj.slo, "severity": severity},
                         annotations(summary, description)))
    return out


def texts(service: Service, obj: Objective, severity: str, burn: str, left: str) -> tuple[str, str]:
    """Summary and description; `burn` and `left` are templates in the rule, their values in a test."""
    when = " or ".join(f"{promql_number(br.factor)}× over {br.long} and {br.short}" for br in BURN_RATES
                       if br.severity == severity)
    return (f"{service.name}: {obj.slo} error budget burning at {burn}×",
            f"{service.name} promises {percent_text(obj.percent)} of requests {obj.promise} over {PERIOD}: an "
            f"error budget of {percent_text(obj.budget * 100)} of its requests. It is being spent {burn}× as fast "
            f"as that allows ({severity} above {when}, with more than {promql_number(service.slo.min_request_rate)} "
            f"requests/s). Error budget left over {PERIOD}: {left}.")


# ---------------------------------------------------------------- scenario tests

# The scenario tests sample their series and evaluate the rules once a minute, whatever the
# stack's intervals: promtool evaluates every rule at every step, and an hour of 1s steps would
# take minutes. Nothing is lost: the SLO alerts have no `for`, and their shortest window (5m)
# holds five samples, so the burn rates are those of any finer sampling.
SAMPLE = Duration.parse("1m")
SUITE = "slo"                   # their test files: prometheus/tests/slo/services/<name>.test.yml


@dataclass(frozen=True)
class Scenario:
    """Traffic minute by minute: (minutes, requests a minute, share of them bad) segments."""
    name: str
    segments: tuple[tuple[int, Fraction, Fraction], ...]
    checks: tuple[int, ...]          # minutes at which to compare the alerts with the model

    def cumulative(self) -> tuple[list[Fraction], list[Fraction]]:
        total, bad = [Fraction(0)], [Fraction(0)]
        for minutes, n, share in self.segments:
            for _ in range(minutes):
                total.append(total[-1] + n)
                bad.append(bad[-1] + n * share)
        return total, bad


def _window(values: list, t: int, w: Duration) -> Fraction:
    return values[t] - values[max(0, t - w // SAMPLE)]


def expected_alerts(service: Service, obj: Objective, sc: Scenario, t: int, labels: dict,
                    annotations) -> Optional[tuple[Expect, ...]]:
    """What the rules should fire at minute t, from the same table; None when a quantity sits
    too near a threshold (or a value near a rounding tie of its text) to state it exactly."""
    total, bad = sc.cumulative()
    budget = Fraction(obj.budget)
    min_rate = Fraction(str(service.slo.min_request_rate))

    def burn(w: Duration) -> Optional[Fraction]:
        n = _window(total, t, w)
        return None if t < 1 or n == 0 else _window(bad, t, w) / n / budget

    out = []
    for severity in SEVERITIES:
        value = None
        for br in (b for b in BURN_RATES if b.severity == severity):
            long_, short = burn(br.long), burn(br.short)
            rate = _window(total, t, br.long) / Fraction(br.long.seconds)   # rate() divides by the window
            if long_ is None or short is None:
                continue
            for x, edge in ((long_, br.factor), (short, br.factor), (rate, min_rate)):
                if edge and abs(float(x) / float(edge) - 1) < 0.01:
                    return None
            if long_ > Fraction(br.factor) and short > Fraction(br.factor) and rate > min_rate:
                value = long_
                break
        if value is None:
            continue
        if _window(total, t, br.long) != total[t]:
            return None             # the value's window must hold every sample: then it is exact
        ratio = bad[t] / total[t]
        b = float(obj.budget_text)
        value_f, left_f = float(ratio) / b, 1 - float(ratio) / b     # as PromQL computes them
        if ratio not in (0, 1) and any(f(v * (1 - 1e-9)) != f(v * (1 + 1e-9))
                                       for f, v in ((humanize, value_f), (humanize_percentage, left_f))):
            return None             # float error could tip the printed digits either way
        summary, description = texts(service, obj, severity, humanize(value_f), humanize_percentage(left_f))
        out.append(Expect({**labels, "slo": obj.slo, "severity": severity}, annotations(summary, description)))
    return tuple(out)


def scenarios(service: Service, obj: Objective, step: int) -> list[Scenario]:
    """The burns the alerts must tell apart. `step`: minutes between times the tests
    may look (a multiple of the evaluation interval)."""
    budget = Fraction(obj.budget)
    min_rate = Fraction(str(service.slo.min_request_rate))
    up = lambda m: -(-m // step) * step                                           # noqa: E731
    first = up(5)
    # Enough requests that every long window, holding only the test's few minutes, is over the
    # guard by the first check (rate() divides by the whole window), and whole bad requests a minute.
    longest = max(br.long for br in BURN_RATES).seconds
    n = max(Fraction(60), 2 * min_rate * Fraction(longest) / first)
    unit = (budget / 2).denominator
    n = Fraction(math.ceil(n / unit) * unit)

    def share(burn: Fraction) -> Fraction:
        return min(Fraction(1), burn * budget)

    # Just over each row's factor (and under the next of its severity): that row alone fires.
    rows = []
    for br in BURN_RATES:
        burn = Fraction(str(br.factor)) * Fraction(6, 5)
        if share(burn) < 1 and all(burn < Fraction(str(o.factor)) for o in BURN_RATES
                                   if o.severity == br.severity and o.factor > br.factor):
            rows.append(Scenario(f"a {promql_number(float(burn))}× burn fires {br.severity} ({promql_number(br.factor)}× over "
                                 f"{br.long} and {br.short})", ((first, n, share(burn)),), (first,)))
    quiet, spike = up(10), up(10)
    out = [
        Scenario("a total outage pages within minutes", ((up(10), n, Fraction(1)),), (first,)),
        Scenario("a 2× burn opens a ticket but never pages", ((up(30), n, share(Fraction(2))),), (first, up(30))),
        Scenario("a 0.5× burn stays silent", ((up(30), n, share(Fraction(1, 2))),), (first, up(30))),
        # A total outage of 10 minutes among good requests: it pages; once both short windows
        # (5m, 30m) have cleared the page stops, though the long ones still burn far above 14.4×.
        Scenario("a short spike that ends: the page stops once the short windows clear",
                 ((quiet, n, Fraction(0)), (spike, n, Fraction(1)), (up(40), n, Fraction(0))),
                 (quiet + spike, up(quiet + spike + 32))),
        # A blip after a quiet hour: 3 minutes at 30× burn the 5m window far over 14.4×, but not
        # the hour: no page (it may open a ticket). The long windows keep blips from paging.
        Scenario("a brief blip does not page", ((up(50), n, Fraction(0)), (3, n, share(Fraction(30))),
                                                (up(10), n, Fraction(0))), (up(50) + 3,)),
        *rows,
    ]
    if min_rate > 0:
        # Half the guard's rate, every request failing: a handful a minute.
        out.append(Scenario(f"the low-traffic guard: {promql_number(float(min_rate / 2 * 60))} requests a minute, all "
                            f"failing, never page", ((up(30), min_rate / 2 * 60, Fraction(1)),), (first, up(30))))
    return out


def _values(counts: list[tuple[int, Fraction]]) -> str:
    """promtool notation for a counter growing by `inc` a minute for `minutes`, segment after segment.
    promtool adds the increment up in float64, as Python does here."""
    parts, value, first = [], 0.0, True
    for minutes, inc in counts:
        inc_f = float(inc)
        start = value if first else value + inc_f
        times = minutes if first else minutes - 1
        parts.append(f"{promql_number(start)}+{promql_number(inc_f)}x{times}")
        value = start
        for _ in range(times):
            value += inc_f
        first = False
    return " ".join(parts)


def series(obj: Objective, inst: presets.Instrumentation, sc: Scenario, labels: dict,
           threshold: Optional[Duration]) -> list[tuple[str, str]]:
    good = [(m, n * (1 - s)) for m, n, s in sc.segments]
    bad = [(m, n * s) for m, n, s in sc.segments]
    total = [(m, n) for m, n, _ in sc.segments]
    if obj.slo == "availability":
        return [(selector(inst.requests, {**labels, inst.status_label: "200"}), _values(good)),
                (selector(inst.requests, {**labels, inst.status_label: "500"}), _values(bad))]
    hist = inst.duration
    return [(selector(f"{hist}_bucket", {**labels, "le": repr(threshold.seconds)}), _values(good)),
            (selector(f"{hist}_bucket", {**labels, "le": "+Inf"}), _values(total)),
            (selector(f"{hist}_count", labels), _values(total))]


def tests(service: Service, inst: presets.Instrumentation, series_labels: dict, alert_labels: dict,
          annotations, evaluation: Duration = SAMPLE) -> list[RuleTest]:
    """Scenario tests of every objective: series a sample a minute, looked at on whole minutes
    that are also evaluation times."""
    step = math.lcm(SAMPLE, evaluation) // SAMPLE
    out = []
    threshold = service.slo.latency.threshold if service.slo.latency else None
    for obj in objectives(service, inst):
        for sc in scenarios(service, obj, step):
            checks = []
            for t in sc.checks:
                alerts_at = expected_alerts(service, obj, sc, t, alert_labels, annotations)
                if alerts_at is not None:
                    checks.append(Check(Duration(t * SAMPLE), ALERT, alerts_at))
            if checks:
                out.append(RuleTest(f"{ALERT} ({obj.slo}): {sc.name}",
                                    series(obj, inst, sc, series_labels, threshold), checks, SAMPLE,
                                    SUITE, evaluation))
    return out
