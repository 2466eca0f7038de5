"""What several dashboards share: their uids, the navigation between them, the
panels every service dashboard has (up, its alerts, the inventory's own panels)
and thresholds taken from the same parameters as the alerts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

from .. import logs as log
from ..inventory import Service
from ..kinds import KINDS, alert_specs
from ..kinds.base import alert_params
from .builder import GREEN, ORANGE, RED, TABLE_CUSTOM, UP_DOWN, Column, DashboardList, Link, Panel, TagAnnotations, Target, \
    Thresholds, Variable, bargauge, gauge, logs, stat, table, timeseries
from .datasources import LOKI

TAG = "vigil"                        # every Vigil dashboard; the navigation dropdown lists them
OVERVIEW = "vigil-overview"
ALERTS = "vigil-alerts"


def dashboard_path(kind: str, name: str) -> str:
    """Where an alert of a `kind` service named `name` links: the kind module's own scheme."""
    return KINDS[kind].dashboard(SimpleNamespace(name=name, kind=kind))


def uid_of(kind: str) -> str:
    """The uid of the dashboard a kind links to (shared ones take ?var-service=)."""
    return dashboard_path(kind, "_").partition("?")[0]


def nav(*extra: Link) -> tuple:
    return (DashboardList("Vigil dashboards", TAG), Link("Overview", f"/d/{OVERVIEW}"),
            Link("Alerts", f"/d/{ALERTS}"), *extra)


def tags(*extra: str) -> tuple[str, ...]:
    return (TAG, *extra)


def params(service: Service, alert: str) -> Optional[dict]:
    """The service's parameters of one of its kind's alerts as they apply to it (None when disabled):
    the levels its rules have, so a panel draws no line no alert fires at."""
    values, disabled, _ = alert_params(alert_specs(service), service.alerts)
    return None if alert in disabled else values[alert]


def up_stat(matchers: str, title: str = "Up", metric: str = "up") -> Panel:
    """UP when every series of `metric` (a 0/1 gauge, `up` by default) is 1."""
    return stat(title, Target(f"min({metric}{{{matchers}}})"), mappings=(UP_DOWN,),
                thresholds=Thresholds.falling(critical=1), description=f"Whether every {metric} is 1")


# "Up" coloured by its share of "of": percentage thresholds run from min 0 to the largest value of
# the panel (Grafana's range when max is unset: every field's), which is the count. Red when none
# answers, orange when some do, green only when all do.
ALL_UP = Thresholds(((1e-3, ORANGE), (100, GREEN)), RED, mode="percentage")
# ("of" is the total, not a state: in the text's colour)
NEUTRAL = {"matcher": {"id": "byFrameRefID", "options": "B"},
           "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "text"}}]}


def instances_up(matchers: str, title: str = "Instances up") -> Panel:
    """How many of a service's instances answer, of how many: "1 up of 2", green when all do,
    orange when some do not, red when none does."""
    return stat(title, Target(f"sum(up{{{matchers}}})", "up"),
                Target(f"count(up{{{matchers}}})", "of"), options={"textMode": "value_and_name"},
                thresholds=ALL_UP, min=0, overrides=(NEUTRAL,), description="Targets answering their scrape, of all")


# A ratio over no traffic is 0/0: Prometheus says NaN, Grafana would print it. Say what it means.
# (The recorded ratios and quantiles have no series then; a ratio of sums still can be NaN.)
NO_TRAFFIC = {"type": "special", "options": {"match": "nan", "result": {"text": "no traffic", "index": 0}}}


def up_timeseries(matchers: str) -> Panel:
    return timeseries("Targets up", Target(f"up{{{matchers}}}", "{{instance}}"), unit="short", min=0, max=1,
                      width=12, mappings=(UP_DOWN,))


def firing_count(matchers: str) -> Panel:
    """How many alerts fire (severity info aside); 0, not "No data", when none do."""
    return stat("Firing alerts", Target(f'count(ALERTS{{alertstate="firing",severity!="info",{matchers}}}) '
                                        f"or vector(0)"),
                thresholds=Thresholds.rising(critical=1), description="Alerts firing now (without info)")


def alerts_table(matchers: str) -> Panel:
    return table("Alerts", [Column("Instances", f"sum by (alertname, severity, alertstate) (ALERTS{{{matchers}}})")],
                 ["alertname", "severity", "alertstate"],
                 label_titles={"alertname": "Alert", "severity": "Severity", "alertstate": "State"},
                 no_value="Nothing firing or pending", height=6,
                 description="Alerts firing or pending now; firing ones went to the team's receivers")


def user_panels(service: Service) -> list[Panel]:
    """The inventory's own `panels`, as the user described them."""
    out = []
    for p in service.panels:
        if p.type == "timeseries":
            out.append(timeseries(p.title, Target(p.expr, p.legend), unit=p.unit, width=12))
        elif p.type == "table":
            out.append(Panel("table", p.title, (Target(p.expr, p.legend, instant=True, format="table"),), unit=p.unit,
                             custom=TABLE_CUSTOM, width=12))
        else:
            make = {"stat": stat, "gauge": gauge, "bargauge": bargauge}[p.type]
            out.append(make(p.title, Target(p.expr, p.legend), unit=p.unit, width=6, height=8))
    return out


def deploy_tags(service: Service) -> tuple[str, ...]:
    """Tags of the Grafana annotations shown as deploy markers on the service's dashboard
    (what `vigil annotate --service` posts): every one must be on an annotation."""
    return ("deploy", f"service:{service.name}")


def deploy_markers(service: Service) -> TagAnnotations:
    return TagAnnotations("Deploys", deploy_tags(service))


LOG_SEARCH = Variable.textbox("search", label="Search logs")


def service_logs(service: Service) -> tuple:
    """Its log lines by level, its errors grouped by exception class, and the lines themselves,
    filtered by the `search` box (a request id, a user's words: case-insensitive, taken literally)."""
    stream = log.stream(service.name)
    by_level = f"sum by ({log.LEVEL}) (count_over_time({stream} [$__auto]))"
    return (
        timeseries("Log lines by level", Target(by_level, f"{{{{{log.LEVEL}}}}}", datasource=LOKI), unit="short",
                   min=0, stack=True, width=12, description="Lines per interval, by their level"),
        bargauge("Top errors", Target(log.error_types(service.name, "$__range"), f"{{{{{log.ERROR_TYPE}}}}}",
                                      datasource=LOKI),
                 width=12, no_value="No errors logged", thresholds=Thresholds.rising(critical=1),
                 description=f"Error lines (level {', '.join(log.ERROR_LEVELS)}) over the time range, "
                          f"by the `{log.ERROR_TYPE}` field of their JSON"),
        logs("Logs", Target(f"{stream} |~ `(?i)${{search:regex}}`", datasource=LOKI),
             description="Newest first; type a request id or any text in the search box"),
    )


def matchers(**labels: str) -> str:
    """label="value",... — what goes between the braces of a selector."""
    return ",".join(f'{k}="{v}"' for k, v in labels.items())
