"""Errors (uid vigil-errors), Sentry-style from the logs: the exceptions of the services'
JSON error lines grouped by service and exception class — how many, over time, first
and last seen — and the latest of them with their stack traces. ErrorLogSpike (the
Loki ruler) alerts when a service's error lines spike; its runbook points here.
"""

from __future__ import annotations

from .. import logs as log
from ..inventory import Inventory
from .builder import Dashboard, Row, Target, Variable, bargauge, logs, timeseries
from .common import nav, tags
from .datasources import LOKI

UID = "vigil-errors"
S = "$service"


def dashboard(inventory: Inventory) -> Dashboard:
    names = [s.name for s in inventory.services if s.kind in log.ERROR_SPIKE_KINDS]
    legend = f"{{{{{log.SERVICE}}}}} {{{{{log.ERROR_TYPE}}}}}"
    issues = (
        bargauge("Errors by service and exception", Target(
            f"topk(20, {log.errors_by_type(S, '$__range')})", legend, datasource=LOKI),
            width=8, height=10, no_value="No exceptions logged", description="Error lines over the time range"),
        bargauge("First seen", Target(log.error_seen(S, "$__range", last=False), legend, datasource=LOKI),
                 unit="dateTimeFromNow", width=8, height=10, no_value="No exceptions logged",
                 description="The first line of each exception in the time range"),
        bargauge("Last seen", Target(log.error_seen(S, "$__range", last=True), legend, datasource=LOKI),
                 unit="dateTimeFromNow", width=8, height=10, no_value="No exceptions logged",
                 description="The latest line of each exception"),
        timeseries("Errors over time", Target(log.errors_by_type(S, "$__auto"), legend, datasource=LOKI),
                   unit="short", min=0, stack=True, width=24),
    )
    traces = logs("Latest exceptions with their stack traces", Target(
        f"{log.errors_of(S)} | {log.ERROR_TYPE}=~`(?i).*${{exception:regex}}.*` "
        f'| line_format `{{{{.{log.SERVICE}}}}} {{{{.{log.ERROR_TYPE}}}}}: {{{{.{log.MESSAGE}}}}} '
        f'(request {{{{.{log.REQUEST_ID}}}}})\n{{{{.{log.STACKTRACE}}}}}`', datasource=LOKI),
        height=16, description="Newest first; filter by exception class in the box above")
    variables = (Variable.custom("service", names or ["none"], multi=True, include_all=True, all_value=".+"),
                 Variable.textbox("exception", label="Exception"))
    return Dashboard(uid=UID, title="Errors", tags=tags("errors", "logs"), variables=variables, links=nav(),
                     time_from="now-24h", description="Exceptions from the services' logs, grouped",
                     rows=(Row("Exceptions", issues), Row("Stack traces", (traces,))))
