"""The Errors row of a reporting service's dashboard: what the error tracker (Bugsink) holds
for it, from the errors exporter's series (tracker_exporter.py) — open issues, the event rate,
the newest issues with a link to each, and a link to the service's project."""

from __future__ import annotations

from ..inventory import Service
from ..tracker_exporter import EVENTS, ISSUE, OPEN, PROJECT
from .builder import Column, Link, Row, Target, Thresholds, stat, table, timeseries

ISSUE_COLUMNS = ("short_id", "type", "message", "culprit", "release", "state")


def rows(service: Service) -> list[Row]:
    """[] for a service that does not report errors."""
    if not service.errors:
        return []
    sel = f'{{service="{service.name}"}}'
    project = Link("Open in Bugsink", "${__field.labels.url}", "The service's issues in the error tracker",
                   keep_time=False, new_tab=True)
    issue = Link("Open the issue", "${__data.fields.url}", "Stack trace, request, user, release, breadcrumbs",
                 keep_time=False, new_tab=True)
    return [Row("Errors (tracker)", (
        stat("Open issues", Target(f"sum({OPEN}{sel}) or vector(0)"), thresholds=Thresholds.rising(critical=1),
             description="Issues in the error tracker neither resolved nor muted; each one alerts "
                         "(ErrorIssueOpen)"),
        stat("Project", Target(f"max by (url) ({PROJECT}{sel})", "{{url}}"), data_links=(project,),
             description="Click through to the service's project in Bugsink", no_value="not provisioned yet"),
        timeseries("Error events a minute", Target(f"sum(rate({EVENTS}{sel}[$__rate_interval])) * 60", "events"),
                   unit="short", min=0, width=16, description="Exceptions the service sent to the tracker"),
        table("Newest issues", [Column("Events", f"max by ({', '.join(ISSUE_COLUMNS)}, url) ({ISSUE}{sel})")],
              list(ISSUE_COLUMNS), hidden=["url"], links={"short_id": issue},
              label_titles={"short_id": "Issue", "type": "Type", "message": "Message", "culprit": "Culprit",
                            "release": "Release", "state": "State"},
              no_value="No open issues", description="Open issues, most recently seen first in Bugsink; "
                                                      "the issue id opens it"),
    ))]
