"""Servers watched through their standard exporter (uid vigil-<kind>, `service`
variable): each kind's vital signs (its module's VITALS, as data) on one shared layout."""

from __future__ import annotations

from ..kinds import KINDS
from .builder import Dashboard, Row, Target, Variable, timeseries
from .common import alerts_table, firing_count, instances_up, nav, tags, uid_of, up_stat

S = 'service=~"$service"'
EXPORTER_KINDS = ("postgres", "mysql", "redis", "nginx")

# kind -> (title, the exporter's own "can I reach the server" gauge, [(panel title, expr, legend, unit)])


def dashboard(kind: str) -> Dashboard:
    title, up_metric, vitals = KINDS[kind].VITALS
    glance = (instances_up(f'kind="{kind}",{S}', "Exporters up"), up_stat(S, f"{title} reachable", metric=up_metric),
              firing_count(S))
    panels = tuple(timeseries(name, Target(expr, legend), unit=unit) for name, expr, legend, unit in vitals)
    service = Variable.from_query("service", f'label_values(up{{kind="{kind}"}}, service)', multi=True,
                                  include_all=True)
    return Dashboard(uid=uid_of(kind), title=title, tags=tags(kind), variables=(service,), links=nav(),
                     description=f"{title} servers, through their exporter",
                     rows=(Row("At a glance", glance), Row(title, panels), Row("Alerts", (alerts_table(S),))))
