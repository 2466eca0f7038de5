"""Who gets which alert: the Alertmanager routing tree, its timings and
inhibitions, and the expectations that `amtool config routes test` checks.

Routing knowledge lives here; render/alertmanager.py only writes it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .inventory import Inventory
from .kinds.http import SLO_SIGNALS
from .slo import ALERT as BURN

BLACKHOLE = "blackhole"           # a receiver with no integrations: what nobody should hear
SEVERITIES = ("critical", "warning")

# Critical pages fast and reminds hourly; warnings wait to batch up and remind
# twice a working day. group_interval bounds how soon a new alert joins a
# group that already notified.
TIMINGS = {
    "critical": {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
    "warning": {"group_wait": "1m", "group_interval": "5m", "repeat_interval": "4h"},
}
ROOT_TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
HEARTBEAT_TIMING = {"group_wait": "0s", "group_interval": "1m", "repeat_interval": "1m"}
# `vigil test-notify` labels its alert with the one receiver it is for; this
# route sends it there and nowhere else (no team's pager along the way).
TEST_ALERT = "VigilTestNotification"
TEST_LABEL = "vigil_receiver"
TEST_TIMING = {"group_wait": "0s", "group_interval": "10s", "repeat_interval": "1h"}



def inhibitions(alert_labels: Sequence[str]) -> list[dict]:
    """`alert_labels`: every label that tells one of Vigil's alerts from another (instance, mountpoint,
    slo, …; plan.alert_labels). Each inhibition silences only what the source alert explains."""
    same_alert = ["alertname", *sorted(set(alert_labels) - {"alertname", "severity"})]
    return [
        # A critical alert silences the warning of the same alert instance: every identifying label equal
        # (a critical on /var must not hide a warning on /, nor one replica's another's).
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": same_alert},
        # A service none of whose targets serves silences its other symptoms.
        {"source_matchers": ['alertname="ServiceDown"'], "target_matchers": ['alertname!="ServiceDown"'],
         "equal": ["service"]},
        # A target that is down, while others serve, silences only its own alerts, not the service's.
        {"source_matchers": ['alertname="InstanceDown"'], "target_matchers": ['alertname!="InstanceDown"'],
         "equal": ["service", "instance"]},
        # One outage, one page: a critical burn of an SLO silences the threshold alert on the same signal.
        *({"source_matchers": [f'alertname="{BURN}"', 'severity="critical"', f'slo="{objective}"'],
           "target_matchers": [f'alertname="{alertname}"'], "equal": ["service"]}
          for objective, (_, alertname) in SLO_SIGNALS.items()),
    ]


@dataclass
class Route:
    matchers: list[str]
    receiver: str
    timing: dict = field(default_factory=dict)
    cont: bool = False
    routes: list["Route"] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)   # set on the root; children inherit it


@dataclass(frozen=True)
class RouteCase:
    """Labels of an alert, and the receivers it must reach (in order)."""
    labels: dict
    receivers: tuple


def timing(inventory: Inventory, severity: str) -> dict:
    """The defaults above, with the inventory's overrides."""
    override = getattr(inventory.routing.timings, severity)
    return {k: (str(getattr(override, k)) if getattr(override, k) is not None else v)
            for k, v in TIMINGS[severity].items()}


def routes(inventory: Inventory) -> Route:
    r = inventory.routing
    root = Route([], r.default_receiver, dict(ROOT_TIMING), group_by=list(r.group_by))
    root.routes.append(Route([f'alertname="{TEST_ALERT}"'], BLACKHOLE, dict(TEST_TIMING), routes=[
        Route([f'{TEST_LABEL}="{rcv.name}"'], rcv.name) for rcv in inventory.receivers]))
    root.routes.append(Route(['alertname="Watchdog"'], r.heartbeat_receiver or BLACKHOLE, dict(HEARTBEAT_TIMING)))
    root.routes.append(Route(['severity="info"'], BLACKHOLE))
    for team in inventory.teams:
        by_severity = [(sev, name) for sev in SEVERITIES for name in getattr(team.notify, sev)]
        if not by_severity:
            continue
        children = [Route([f'severity="{sev}"'], name, timing(inventory, sev), cont=True) for sev, name in by_severity]
        for i, child in enumerate(children):
            # Within a severity every receiver gets the alert; the last of them stops the search.
            nxt = children[i + 1] if i + 1 < len(children) else None
            child.cont = nxt is not None and nxt.matchers == child.matchers
        root.routes.append(Route([f'team="{team.name}"'], r.default_receiver, routes=children))
    return root


def cases(inventory: Inventory) -> list[RouteCase]:
    """Every team x severity, a team nobody knows, info, Watchdog, and each receiver's test alert."""
    r = inventory.routing
    out = [RouteCase({"alertname": TEST_ALERT, TEST_LABEL: rcv.name, "team": "any", "severity": "critical"},
                     (rcv.name,)) for rcv in inventory.receivers]
    for team in inventory.teams:
        for sev in SEVERITIES:
            names = tuple(getattr(team.notify, sev)) or (r.default_receiver,)
            out.append(RouteCase({"team": team.name, "severity": sev, "alertname": "ServiceDown"}, names))
        out.append(RouteCase({"team": team.name, "severity": "info", "alertname": "ServiceDown"}, (BLACKHOLE,)))
    out.append(RouteCase({"team": "no-such-team", "severity": "critical", "alertname": "ServiceDown"},
                         (r.default_receiver,)))
    out.append(RouteCase({"alertname": "Watchdog", "severity": "info", "team": "stack"},
                         (r.heartbeat_receiver or BLACKHOLE,)))
    return out
