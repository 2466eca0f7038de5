"""Alerts (uid vigil-alerts): what fires now and what fired, by team and severity,
from Prometheus' ALERTS series (info included: it is only ever shown here)."""

from __future__ import annotations

from ..inventory import Inventory
from ..stack import team_of
from .builder import Column, Dashboard, Row, Target, Thresholds, Variable, bargauge, stat, table, timeseries
from .common import ALERTS, nav, tags

F = 'team=~"$team",severity=~"$severity"'
SEVERITIES = ("critical", "warning", "info")
COLOURS = {"critical": Thresholds.rising(critical=1), "warning": Thresholds(((1, "orange"),), "green"),
           "info": Thresholds(((1, "blue"),), "green")}


def dashboard(inventory: Inventory) -> Dashboard:
    counts = tuple(stat(f"{sev.capitalize()} firing",
                        Target(f'count(ALERTS{{alertstate="firing",severity="{sev}",team=~"$team"}}) or vector(0)'),
                        thresholds=COLOURS[sev], width=8) for sev in SEVERITIES)
    firing = table("Firing now", [Column("Instances", f'count by (alertname, service, team, severity) '
                                                      f'(ALERTS{{alertstate="firing",{F}}})')],
                   ["alertname", "service", "team", "severity"],
                   label_titles={"alertname": "Alert", "service": "Service", "team": "Team", "severity": "Severity"},
                   no_value="Nothing firing", width=12)
    pending = table("Pending (waiting out their `for`)",
                    [Column("Instances", f'count by (alertname, service, team, severity) '
                                         f'(ALERTS{{alertstate="pending",{F}}})')],
                    ["alertname", "service", "team", "severity"],
                    label_titles={"alertname": "Alert", "service": "Service", "team": "Team",
                                  "severity": "Severity"}, no_value="Nothing pending", width=12)
    history = (
        timeseries("Firing by team and severity", Target(
            f'count by (team, severity) (ALERTS{{alertstate="firing",{F}}})', "{{team}} {{severity}}"),
            stack=True, width=16),
        bargauge("Firing by team", Target(f'count by (team) (ALERTS{{alertstate="firing",{F}}})', "{{team}}"),
                 width=8),
    )
    teams = [t.name for t in inventory.teams]
    teams += [] if team_of(inventory.stack) in teams else [team_of(inventory.stack)]
    variables = (Variable.custom("team", teams, multi=True, include_all=True),
                 Variable.custom("severity", SEVERITIES, multi=True, include_all=True))
    return Dashboard(uid=ALERTS, title="Alerts", tags=tags("alerts"), variables=variables, links=nav(),
                     description="What fires, by team and severity", rows=(
                         Row("Now", counts + (firing, pending)), Row("History", history)))
