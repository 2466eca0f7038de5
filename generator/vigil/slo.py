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

    service:slo_requests:increase<T>             requests in each tile of T (1m at a 15s scrape)
    service:slo_errors:increase<T>               bad requests in each tile
    service:slo_errors:ratio_rate<W>             share of bad requests over W
    service:slo_requests:increase<W>             requests over W, for the long window of each alert row
    service:slo_error_budget_remaining:ratio30d  1 - ratio_rate30d / budget, clamped at 0 (exhausted)

for W in WINDOWS. Cost: the short windows of the pages (5m, 30m) are read from the raw counters at
every evaluation, so that a page stops soon after the burn does; every longer window is a sum of
tiles, in a group of its own evaluated once a tile (the sloth and pyrra way): 30 days are 43,200
recorded samples of one series, not months of every raw series at every evaluation. Request-weighted:
the ratio over W is the bad requests over W divided by all requests over W, as from the raw counters.

The alert ErrorBudgetBurn (severity critical or warning, label slo) fires when both windows of one
row of BURN_RATES burn faster than its factor and the long window saw at least `min_requests`
requests (the low-traffic guard, a count: a new service is not under-counted); its value is the
long window's burn rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from decimal import Decimal
from fractions import Fraction
from typing import Optional

from . import failing_routes, presets
from .humanize import go_value, humanize, humanize_percentage
from .inventory import Service
from .rules import Alert, Check, Expect, Record, RuleGroup, RuleTest, Timing, promql_number, selector
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
REQUESTS = "service:slo_requests:increase{w}"
ERRORS = "service:slo_errors:increase{w}"
ERROR_RATIO = "service:slo_errors:ratio_rate{w}"
BUDGET_LEFT = "service:slo_error_budget_remaining:ratio30d"
EXHAUSTED = "none (exhausted)"    # the budget left, once it is spent (BUDGET_LEFT is clamped at 0)
# Read from the raw counters: the short windows of the pages. The fastest page's at every evaluation,
# so that it ends as soon as the errors stop; the others once a tile, in the tiles' group (30 minutes of
# every raw series, read four times less often at a 15s scrape).
RAW_WINDOWS = tuple(sorted({br.short for br in BURN_RATES if br.severity == "critical"}))
FRESH_WINDOWS = RAW_WINDOWS[:1]
TILED_WINDOWS = tuple(w for w in WINDOWS if w not in RAW_WINDOWS)
# Summed from the tiles in a slower group: these sums read most of the samples (the 30d ones alone
# over 80%), and a few minutes' lag is nothing against a window of a day or more.
SLOW_WINDOWS = tuple(w for w in TILED_WINDOWS if w >= Duration.parse("1d"))
SLOW_INTERVAL = Duration.parse("4m")    # under the 5m lookback: its series never go stale in between
GUARDED_WINDOWS = tuple(sorted({br.long for br in BURN_RATES}))
# The availability alert names the routes that failed most over the long window of the fastest page
# (failing_routes.py): queried from the raw counters, only while the alert is active.
ROUTES_WINDOW = min(br.long for br in BURN_RATES)
ROUTE = "/checkout"             # the route of the availability scenarios' requests, where the preset has one


def long_windows_ready(timing: Timing) -> Duration:
    """How long after a fresh start the long windows can take to have data: the long group's first
    evaluation may come a whole SLOW_INTERVAL after the start and before the first tile (up to a tile
    in); then its next evaluation, one more SLOW_INTERVAL on, is the first with data."""
    return Duration(2 * (SLOW_INTERVAL + tile(timing)))


def tile(timing: Timing) -> Duration:
    """The width of a tile, and the interval of the group that records and sums them: a whole number of
    minutes holding at least four scrapes, so that each tile's increase() has samples to go on."""
    minute = Duration.parse("1m")
    return Duration(max(minute, -(-4 * timing.scrape // minute) * minute))


@dataclass(frozen=True)
class Objective:
    slo: str                 # availability | latency
    percent: Decimal         # of requests that must be good
    promise: str             # what a good request is, for people
    total: str               # PromQL: requests over a window, `{w}` where the window goes
    bad: str                 # PromQL: bad requests over a window

    @property
    def budget(self) -> Decimal:
        return (100 - self.percent) / 100

    @property
    def budget_text(self) -> str:
        return format(self.budget.normalize(), "f")

    def counts(self, w: Duration) -> tuple[str, str]:
        """(requests, bad requests) over w; bad is 0, not absent, while none has failed yet."""
        total = self.total.replace("{w}", str(w))
        return total, f"({self.bad.replace('{w}', str(w))} or {total} * 0)"


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
        out.append(Objective("availability", slo.availability, "answered without a 5xx",
                             f"{by} (increase({inst.requests}{{{sel}}}[{{w}}]))",
                             f'{by} (increase({inst.requests}{{{sel},{inst.server_errors}}}[{{w}}]))'))
    if slo.latency is not None and inst.duration:
        le = le_matcher(slo.latency.threshold.seconds)
        total = f"{by} (increase({inst.duration}_count{{{sel}}}[{{w}}]))"
        out.append(Objective("latency", slo.latency.objective, f"answered within {slo.latency.threshold}", total,
                             f"{total} - {by} (increase({inst.duration}_bucket{{{sel},{le}}}[{{w}}]))"))
    return out


def selector_of(service: Service, obj: Objective) -> str:
    return f'{{service="{service.name}",slo="{obj.slo}"}}'


# ---------------------------------------------------------------- validation


def problems(service: Service, inst: Optional[presets.Instrumentation],
             retention: Optional[Duration]) -> list[tuple[tuple, str]]:
    """(path under the service, message): the SLO's window must fit in the retention; a latency SLO
    needs a histogram with a known bucket at its threshold."""
    if service.slo is None:
        return []
    out = []
    if retention is not None and retention < PERIOD:
        out.append((("slo",), f"the SLOs' {PERIOD} window is longer than stack.retention ({retention}): Prometheus "
                              f"would have dropped most of it (set stack.retention to {PERIOD} or more)"))
    if service.slo.latency is None or inst is None:
        return out
    threshold = service.slo.latency.threshold
    if not inst.duration:
        return out + [(("slo", "latency"), "a latency SLO needs the latency histogram: give the instrumentation's "
                                           "duration")]
    raw = service.instrumentation
    name = presets.DEFAULT_PRESET if raw is None else raw if isinstance(raw, str) else None
    if inst.buckets is None:
        source = f"{name}'s histogram has no fixed buckets" if name else "instrumentation gives no buckets"
        return out + [(("slo", "latency", "threshold"),
                       f"{source}, so Vigil cannot know {threshold} is a bucket boundary (a threshold between "
                       f"two buckets never counts a request as good): list them as instrumentation.buckets"
                       + (f", e.g. instrumentation: {{preset: {name}, buckets: [0.1, 0.25, 0.5, 1]}}" if name else ""))]
    if any(math.isclose(b, threshold.seconds, rel_tol=1e-9) for b in inst.buckets):
        return out
    source = f"{name}'s histogram" if name else "the histogram's buckets (instrumentation.buckets)"
    below = [b for b in inst.buckets if b < threshold.seconds]
    above = [b for b in inst.buckets if b > threshold.seconds]
    near = ([_duration(below[-1])] if below else []) + ([_duration(above[0])] if above else [])
    return out + [(("slo", "latency", "threshold"), f"{threshold} is not a bucket boundary of {source} "
                                                    f"(nearest: {', '.join(near)})")]


def _duration(seconds: float) -> str:
    return str(Duration(round(seconds * 1000)))


# ---------------------------------------------------------------- rules


def window_groups(service: Service, inst: presets.Instrumentation, timing: Timing) -> list[RuleGroup]:
    """The tiles and the windows built from them: the windows under a day in the group that records the
    tiles, evaluated once a tile (being one group, its sums see exactly the tiles it wrote, each once),
    with the raw windows not read at every evaluation; the longer ones in a group evaluated every
    SLOW_INTERVAL. Both come before the alerts that read them."""
    t = tile(timing)
    tiled: list = []
    slow: list = []
    for obj in objectives(service, inst):
        own, labels = selector_of(service, obj), {"slo": obj.slo}
        total, bad = obj.counts(t)
        tiled += [Record(REQUESTS.format(w=t), total, labels), Record(ERRORS.format(w=t), bad, labels)]
        tiled += [_raw_ratio(obj, w) for w in RAW_WINDOWS if w not in FRESH_WINDOWS]
        # The slo label is also the tiles', but stated: promtool's lint tells two SLOs' records apart by it.
        for w in TILED_WINDOWS:
            requests = f"sum_over_time({REQUESTS.format(w=t)}{own}[{w}])"
            group = slow if w in SLOW_WINDOWS else tiled
            group.append(Record(ERROR_RATIO.format(w=w),
                                f"sum_over_time({ERRORS.format(w=t)}{own}[{w}]) / ({requests} > 0)", labels))
            if w in GUARDED_WINDOWS:
                group.append(Record(REQUESTS.format(w=w), requests, labels))
        slow.append(Record(BUDGET_LEFT, f"clamp_min(1 - {ERROR_RATIO.format(w=PERIOD)}{own} / {obj.budget_text}, 0)",
                           labels))
    if not tiled:
        return []
    return [RuleGroup(f"service:{service.name}:slo", tiled, t),
            RuleGroup(f"service:{service.name}:slo-long", slow, SLOW_INTERVAL)]


def _raw_ratio(obj: Objective, w: Duration) -> Record:
    total, bad = obj.counts(w)
    return Record(ERROR_RATIO.format(w=w), f"{bad} / ({total} > 0)", {"slo": obj.slo})


def fast_rules(service: Service, inst: presets.Instrumentation, labels: dict, annotations) -> list:
    """The raw windows read at every evaluation, then the alerts, of every objective of the service.
    `labels`: the alerts' (service, team); `annotations(summary, description)`: runbook and dashboard
    links added."""
    out: list = [_raw_ratio(obj, w) for obj in objectives(service, inst) for w in FRESH_WINDOWS]
    for obj in objectives(service, inst):
        out += alerts(service, obj, labels, annotations, routes_line(service, inst, obj))
    return out


def routes_line(service: Service, inst: presets.Instrumentation, obj: Objective) -> str:
    return failing_routes.template(service.name, inst, ROUTES_WINDOW) if obj.slo == "availability" else ""


def _condition(obj: Objective, br: BurnRate, own: str, min_requests: int) -> str:
    f = promql_number(br.factor)
    guard = f" and {REQUESTS.format(w=br.long)}{own} >= {min_requests}" if min_requests else ""
    return (f"({ERROR_RATIO.format(w=br.long)}{own} / {obj.budget_text} > {f} "
            f"and {ERROR_RATIO.format(w=br.short)}{own} / {obj.budget_text} > {f}{guard})")


def alerts(service: Service, obj: Objective, labels: dict, annotations, routes: str = "") -> list[Alert]:
    own = selector_of(service, obj)
    out = []
    for severity in SEVERITIES:
        expr = " or ".join(_condition(obj, br, own, service.slo.min_requests)
                           for br in BURN_RATES if br.severity == severity)
        left = (f"{{{{ with query `{BUDGET_LEFT}{own}` }}}}{{{{ $left := . | first | value }}}}"
                f"{{{{ if gt $left 0.0 }}}}{{{{ $left | humanizePercentage }}}}{{{{ else }}}}{EXHAUSTED}{{{{ end }}}}"
                f"{{{{ end }}}}")
        summary, description = texts(service, obj, severity, "{{ $value | humanize }}", left, routes)
        out.append(Alert(ALERT, expr, Duration(0), {**labels, "slo": obj.slo, "severity": severity},
                         annotations(summary, description)))
    return out



@lru_cache(maxsize=None)
def _when(severity: str) -> str:
    return " or ".join(f"{promql_number(br.factor)}× over {br.long} and {br.short}" for br in BURN_RATES
                       if br.severity == severity)


def texts(service: Service, obj: Objective, severity: str, burn: str, left: str,
          routes: str = "") -> tuple[str, str]:
    """Summary and description; `burn`, `left` and `routes` are templates in the rule, their values in a test."""
    when = _when(severity)
    guard = f", with at least {service.slo.min_requests} requests over the long window" \
        if service.slo.min_requests else ""
    return (f"{service.name}: {obj.slo} error budget burning at {burn}×",
            f"{service.name} promises {percent_text(obj.percent)} of requests {obj.promise} over {PERIOD}: an "
            f"error budget of {percent_text(obj.budget * 100)} of its requests. It is being spent {burn}× as fast "
            f"as that allows ({severity} above {when}{guard}). Error budget left over {PERIOD}: {left}.{routes}")


# ---------------------------------------------------------------- scenario tests

# The scenario tests sample their series and evaluate the rules once a minute, whatever the
# stack's intervals: promtool evaluates every rule at every step, and an hour of 1s steps would
# take minutes. Nothing is lost: the SLO alerts have no `for`, and their shortest window (5m)
# holds five samples, so the burn rates are those of any finer sampling.
SAMPLE = Duration.parse("1m")
SUITE = "slo"                   # their test files: prometheus/tests/slo/services/<name>.test.yml


@dataclass(frozen=True, eq=False)   # hashed by identity: the caches below key on shared Scenarios
class Scenario:
    """Traffic minute by minute: (minutes, requests a minute, share of them bad) segments."""
    name: str
    segments: tuple[tuple[int, Fraction, Fraction], ...]
    checks: tuple[int, ...]          # minutes at which to compare the alerts with the model

    @cached_property
    def cumulative(self) -> tuple[list[Fraction], list[Fraction]]:
        """Requests and bad requests since minute 0, minute by minute; once per scenario (scenarios() shares
        its Scenarios between services with the same parameters)."""
        total, bad = [Fraction(0)], [Fraction(0)]
        for minutes, n, share in self.segments:
            for _ in range(minutes):
                total.append(total[-1] + n)
                bad.append(bad[-1] + n * share)
        return total, bad


def _window(values: list, t: int, w: Duration) -> Fraction:
    return values[t] - values[max(0, t - w // SAMPLE)]


def expected_alerts(service: Service, obj: Objective, sc: Scenario, t: int, labels: dict,
                    annotations, routed: bool = False) -> Optional[tuple[Expect, ...]]:
    """What the rules should fire at minute t, from the same table; None when a quantity sits
    too near a threshold (or a value near a rounding tie of its text) to state it exactly."""
    burns = _burns(sc, t, obj.budget, obj.budget_text, service.slo.min_requests, routed)
    if burns is None:
        return None
    return tuple(Expect({**labels, "slo": obj.slo, "severity": severity},
                        annotations(*texts(service, obj, severity, value, left, routes)))
                 for severity, value, left, routes in burns)


@lru_cache(maxsize=None)
def _burns(sc: Scenario, t: int, budget_d: Decimal, budget_text: str, min_requests: int,
           routed: bool) -> Optional[tuple[tuple[str, str, str, str], ...]]:
    """The numbers of expected_alerts: (severity, burn rate, budget left, the routes line) as the
    annotations print them, or None. They depend on the scenario and the objective's numbers only, not on the service: worked
    out once for all the services that share them."""
    total, bad = sc.cumulative
    budget = Fraction(budget_d)

    def burn(w: Duration) -> Optional[Fraction]:
        n = _window(total, t, w)
        return None if t < 1 or n == 0 else _window(bad, t, w) / n / budget

    out = []
    for severity in SEVERITIES:
        value = None
        for br in (b for b in BURN_RATES if b.severity == severity):
            long_, short = burn(br.long), burn(br.short)
            count = _window(total, t, br.long)
            if long_ is None or short is None:
                continue
            for x, edge in ((long_, br.factor), (short, br.factor), (count, min_requests)):
                if edge and abs(float(x) / float(edge) - 1) < 0.01:
                    return None
            if long_ > Fraction(br.factor) and short > Fraction(br.factor) and count >= min_requests:
                value = long_
                break
        if value is None:
            continue
        if _window(total, t, br.long) != total[t]:
            return None             # the value's window must hold every sample: then it is exact
        ratio = bad[t] / total[t]
        b = float(budget_text)
        value_f, left_f = float(ratio) / b, 1 - float(ratio) / b     # as PromQL computes them
        if abs(left_f) < 1e-9:
            return None             # exactly spent: float error decides between 0% and exhausted
        shown = [(humanize, value_f)] + ([(humanize_percentage, left_f)] if left_f > 0 else []) + \
            ([(humanize_percentage, float(ratio))] if routed else [])
        if ratio not in (0, 1) and any(f(v * (1 - 1e-9)) != f(v * (1 + 1e-9)) for f, v in shown):
            return None             # float error could tip the printed digits either way
        routes = ""
        if routed:                  # every request on ROUTE: the line names it, with its counts since 0
            if t * SAMPLE > ROUTES_WINDOW or abs(float(total[t]) % 1 - 0.5) < 1e-6:
                return None         # past its window the count is not from 0; a count at .5 rounds either way
            routes = failing_routes.text([(ROUTE, humanize_percentage(float(ratio)), float(total[t]))] if ratio else [],
                                         ROUTES_WINDOW)
        out.append((severity, humanize(value_f), humanize_percentage(left_f) if left_f > 0 else EXHAUSTED, routes))
    return tuple(out)


def scenarios(service: Service, obj: Objective, step: int) -> tuple[Scenario, ...]:
    """The burns the alerts must tell apart. `step`: minutes between times the tests
    may look (a multiple of the evaluation interval)."""
    return _scenarios(obj.budget, service.slo.min_requests, step)


@lru_cache(maxsize=None)
def _scenarios(budget_d: Decimal, min_requests: int, step: int) -> tuple[Scenario, ...]:
    """scenarios() from the numbers it depends on: the same Scenario objects (their sums worked out
    once) for every service with the same budget, guard and step."""
    budget = Fraction(budget_d)
    up = lambda m: -(-m // step) * step                                           # noqa: E731
    first = up(5)
    # Enough requests that every long window is over the guard by the first check, and whole bad
    # requests a minute.
    n = max(Fraction(60), Fraction(2 * min_requests, first))
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
                                                (up(10), n, Fraction(0))), (up(up(50) + 3),)),
        *rows,
    ]
    if min_requests > 0:
        # Every request failing, but half the guard's count over the whole test: no page; twice it: a page
        # (the control, so the guard is not what keeps every trickle quiet).
        span = up(30)
        for share_of_guard, what in ((Fraction(1, 2), "never page"), (Fraction(2), "page")):
            count = min_requests * share_of_guard
            out.append(Scenario(f"the low-traffic guard: {promql_number(float(count))} requests in {span} minutes, "
                                f"all failing, {what}", ((span, count / span, Fraction(1)),), (span,)))
    return tuple(out)


def _values(counts: tuple[tuple[int, Fraction], ...]) -> str:
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


def series_names(obj: Objective, inst: presets.Instrumentation, labels: dict,
                 threshold: Optional[Duration]) -> tuple[str, ...]:
    """The input series of an objective's scenarios: the good and bad requests' counters, or the
    latency histogram's bucket at the threshold, its +Inf bucket and its count."""
    if obj.slo == "availability":
        labels = {**labels, inst.route_label: ROUTE} if inst.route_label else labels
        return (selector(inst.requests, {**labels, inst.status_label: "200"}),
                selector(inst.requests, {**labels, inst.status_label: "500"}))
    hist = inst.duration
    return (selector(f"{hist}_bucket", {**labels, "le": repr(threshold.seconds)}),
            selector(f"{hist}_bucket", {**labels, "le": "+Inf"}),
            selector(f"{hist}_count", labels))


@lru_cache(maxsize=None)
def series_values(slo: str, sc: Scenario) -> tuple[str, ...]:
    """The values of series_names' series in a scenario, in that order."""
    good = _values(tuple((m, n * (1 - s)) for m, n, s in sc.segments))
    total = _values(tuple((m, n) for m, n, _ in sc.segments))
    if slo == "availability":
        return good, _values(tuple((m, n * s) for m, n, s in sc.segments))
    return good, total, total


def tests(service: Service, inst: presets.Instrumentation, series_labels: dict, alert_labels: dict,
          annotations, timing: Timing) -> list[RuleTest]:
    """Scenario tests of every objective: series a sample a minute, evaluated once a tile (as the
    window group is: the tiles then follow each other exactly), looked at on evaluation times."""
    evaluation = tile(timing)
    step = evaluation // SAMPLE
    out = []
    threshold = service.slo.latency.threshold if service.slo.latency else None
    for obj in objectives(service, inst):
        names = series_names(obj, inst, series_labels, threshold)
        routed = bool(routes_line(service, inst, obj))
        for sc in scenarios(service, obj, step):
            checks = []
            for t in sc.checks:
                alerts_at = expected_alerts(service, obj, sc, t, alert_labels, annotations, routed)
                if alerts_at is not None:
                    checks.append(Check(Duration(t * SAMPLE), ALERT, alerts_at))
            if checks:
                out.append(RuleTest(f"{ALERT} ({obj.slo}): {sc.name}",
                                    list(zip(names, series_values(obj.slo, sc))), checks, SAMPLE,
                                    SUITE, evaluation))
    return out
