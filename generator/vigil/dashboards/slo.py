"""SLO panels, from the recorded series of slo.py: a row per objective on the
service's dashboard (the SLI and the budget left over 30 days, and the burn rate
over each pair of windows with its alert threshold drawn on it), and the budget
left of every service and objective on the overview.
"""

from __future__ import annotations

from .. import presets, slo
from ..inventory import Service
from ..rules import promql_number
from ..units import percent_text
from .builder import ORANGE, RED, Link, Row, Target, Thresholds, bargauge, stat, timeseries

STEP = "[$__rate_interval]"    # at least a step of the range (and four scrapes): each point covers its step
# Budget left: red when spent, orange in its last quarter.
BUDGET_THRESHOLDS = Thresholds(((0.0, ORANGE), (0.25, "green")), RED)


def rows(service: Service) -> list[Row]:
    inst, _ = presets.resolve(service.instrumentation)
    return [Row(f"SLO: {obj.slo} — {percent_text(obj.percent)} of requests {obj.promise}", tuple(_panels(service, obj)))
            for obj in slo.objectives(service, inst)]


def _panels(service: Service, obj: slo.Objective) -> list:
    own = slo.selector_of(service, obj)

    def ratio(w) -> str:
        return slo.ERROR_RATIO.format(w=w) + own

    def worst(w) -> str:
        """The worst of the recorded ratio within each step: wide ranges hide no spike (no traffic,
        NaN: a gap)."""
        return f"(max_over_time({ratio(w)}{STEP}) >= 0)"

    def over(expr: str, legend: str, w) -> Target:
        """A window's line: the long windows are recorded every SLOW_INTERVAL, so their steps are no
        shorter (and a step of a few seconds would find none of their samples)."""
        return Target(expr, legend, interval=str(slo.SLOW_INTERVAL) if w in slo.SLOW_WINDOWS else "")
    objective = float(obj.percent / 100)
    good = Thresholds(((objective, "green"),), RED)
    panels = [
        stat(f"SLI ({slo.PERIOD})", Target(f"1 - {ratio(slo.PERIOD)}"), unit="percentunit", decimals=3,
             thresholds=good, description=f"Share of requests {obj.promise} over the last 30 days; "
                                          f"the objective is {percent_text(obj.percent)}"),
        stat(f"Error budget left ({slo.PERIOD})", Target(f"{slo.BUDGET_LEFT}{own}"), unit="percentunit",
             thresholds=BUDGET_THRESHOLDS, description="1 - (bad share over 30 days) / (1 - objective); "
                                                       "negative: overspent"),
        timeseries("SLI", *(over(f"1 - {worst(w)}", f"over {w}", w) for w in (slo.WINDOWS[0], slo.WINDOWS[2],
                                                                                    slo.PERIOD)),
                   unit="percentunit", thresholds=good, width=8,
                   description=f"Share of requests {obj.promise}; the line is the objective"),
        timeseries("Error budget left", over(f"min_over_time({slo.BUDGET_LEFT}{own}{STEP})", "budget left",
                                             slo.PERIOD),
                   unit="percentunit",
                   thresholds=BUDGET_THRESHOLDS, width=8),
    ]
    for br in slo.BURN_RATES:
        f = promql_number(br.factor)
        colour = RED if br.severity == "critical" else ORANGE
        panels.append(timeseries(
            f"Burn rate {br.long} / {br.short} ({br.severity} above {f}×)",
            *(over(f"{worst(w)} / {obj.budget_text}", f"over {w}", w) for w in (br.long, br.short)),
            unit="short", min=0, thresholds=Thresholds(((br.factor, colour),)), width=6,
            description=f"How fast the error budget goes (1: it lasts 30 days). ErrorBudgetBurn ({br.severity}) "
                        f"fires when both lines are above {f}."))
    return panels


def overview_row(team_matcher: str) -> Row:
    """Every objective of every service: what is left of its budget, and its SLI, over 30 days."""
    sel = f"{{{team_matcher}}}"
    legend = "{{service}} {{slo}}"
    link = (Link("Open its dashboard", "/d/svc-${__field.labels.service}"),)
    return Row("SLOs", (
        bargauge(f"Error budget left ({slo.PERIOD})", Target(f"sort({slo.BUDGET_LEFT}{sel})", legend), unit="percentunit",
                 thresholds=BUDGET_THRESHOLDS, min=-1, max=1, decimals=1, data_links=link, width=12,
                 description="Per service and SLO: the share of its 30-day error budget still left "
                             "(negative: overspent). Click one for its dashboard."),
        bargauge(f"SLI ({slo.PERIOD})", Target(f"sort(1 - {slo.ERROR_RATIO.format(w=slo.PERIOD)}{sel})", legend),
                 unit="percentunit", decimals=3, max=1, data_links=link, width=12,
                 description="Per service and SLO: the share of good requests over 30 days"),
    ))
