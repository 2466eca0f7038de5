"""The error tracker's alerts, like a kind's: rules and their promtool tests from the
same parameters, over what `vigil errors exporter` (tracker_exporter.py) exposes.

Per reporting service, in its own rule file (rules/services/<name>.yml), so its
team, runbook and dashboard are the service's:
- ErrorIssueOpen (warning): an issue is open in the tracker — new, or regressed
  after it was resolved. It follows the issue: resolving or muting it in Bugsink
  resolves the alert; a regression fires it again. Its message names the request id
  of the issue's newest event and links the service dashboard's logs searched for it.
- ErrorEventsSpiking (critical): the service sends more than `stack.error_tracker.spike`
  events a minute.
And for the stack: ErrorTrackerDown (warning) when the exporter cannot read Bugsink.
"""

from __future__ import annotations

from typing import Optional

from . import stack as stack_part
from .dashboards.common import LOG_SEARCH
from .inventory import Service, Stack
from .kinds.base import Context, ScrapeJob, annotations
from .rules import Alert, Case, Check, Expect, Level, RuleGroup, RuleTest, case_tests, firing_tests, \
    rate_threshold_tests, selector, silent_test, threshold_alerts
from .tracker import EXPORTER
from .tracker_exporter import EVENTS, ISSUE, OPEN, REQUEST, REQUEST_TAG, UP, USERS
from .units import Duration

JOB = "errors"          # the exporter's scrape job (kind errors: its series carry their own service and team)
SPIKE_WINDOW = Duration.parse("5m")
SPIKE_FOR = Duration.parse("2m")
DOWN_FOR = Duration.parse("5m")
# The logs link's time range: wider than the dashboard's 6h, for a message read the next morning.
LOGS_RANGE = "&from=now-24h&to=now"


_DETAILS = {"issue": "5f0c1d2e-0000-4000-8000-000000000001", "short_id": "SHOP-1", "state": "new",
            "type": "PaymentDeclined", "message": "card ending 0002 declined", "culprit": "app in charge",
            "release": "shop@1.4.2", "url": "http://localhost:8010/issues/issue/5f0c1d2e-0000-4000-8000-000000000001/"}

_REQUEST_ID = "req-8d2c/41"           # a '/' so that the test sees it escaped in the link
_REQUEST_ID_IN_URL = "req-8d2c%2F41"

SUMMARY = "{{ $labels.type }} in {{ $labels.service }}: {{ $labels.message }}"
USERS_OF = ('{{ with printf `' + USERS + '{issue="%s"}` $labels.issue | query }}{{ . | first | value }}'
            '{{ else }}0{{ end }}')
DESCRIPTION = ('{{ if eq $labels.state "regressed" }}Regressed{{ else }}New{{ end }} issue {{ $labels.short_id }} '
               "at {{ $labels.culprit }} (release {{ $labels.release }}): {{ $value }} events, " + USERS_OF +
               " users. {{ $labels.url }}")


def logs_link(dashboard_url: str, request_id: str) -> str:
    """The service dashboard with its logs searched for one request id (its `search` box)."""
    return (f"{dashboard_url}{'&' if '?' in dashboard_url else '?'}var-{LOG_SEARCH.name}={request_id}"
            f"{LOGS_RANGE}")


def request_of(dashboard_url: Optional[str]) -> str:
    """The newest event's request id and its log lines, when the exporter has one (REQUEST): from the
    alert to the request's lines in Loki; the same id is on the event in Bugsink. Without a Grafana
    (dashboard_url None), the id alone."""
    found = f'label "{REQUEST_TAG}" .'
    lines = (", its log lines: " + logs_link(dashboard_url, f"{{{{ {found} | urlquery }}}}")) if dashboard_url else "."
    return ('{{ with printf `' + REQUEST + '{issue="%s"}` $labels.issue | query }}{{ with first . }}'
            f" Newest event: request {{{{ {found} }}}}" + lines + "{{ end }}{{ end }}")


def plan(service: Service, ctx: Context, dash: str) -> tuple[RuleGroup, list[RuleTest]]:
    """The error alerts of one reporting service and their tests."""
    sel = f'{{service="{service.name}"}}'
    labels = {"service": service.name, "team": service.team}
    out = {"job": JOB, "instance": ctx.stack.endpoints.errors_exporter, "kind": JOB, **labels}
    dashboard_url = ctx.dashboard(dash)
    issue = Alert("ErrorIssueOpen", f"{ISSUE}{sel} > 0", Duration(0), {**labels, "severity": "warning"},
                  {**annotations(ctx, service, dash, "ErrorIssueOpen", SUMMARY,
                                 DESCRIPTION + request_of(dashboard_url)),
                   "issue_url": "{{ $labels.url }}"})
    details = {**out, **_DETAILS}
    of_issue = {k: details[k] for k in ("job", "instance", "kind", "service", "issue")}
    users = selector(USERS, of_issue)
    request = selector(REQUEST, {**of_issue, REQUEST_TAG: _REQUEST_ID})

    def fired(description_end: str) -> Expect:
        return Expect({**details, "severity": "warning", "team": service.team},
                      {"summary": f"{_DETAILS['type']} in {service.name}: {_DETAILS['message']}",
                       "description": f"New issue {_DETAILS['short_id']} at {_DETAILS['culprit']} (release "
                                      f"{_DETAILS['release']}): 6 events, 3 users. {_DETAILS['url']}" + description_end,
                       "issue_url": _DETAILS["url"],
                       **{k: issue.annotations[k] for k in ("runbook_url", "dashboard_url") if k in issue.annotations}})
    # Open for 10 scrapes, then gone (resolved): quiet again once the last sample is out of the 5m lookback.
    step, scrape = ctx.timing.step, ctx.timing.scrape
    gone = Duration(-(-(10 * scrape + 300_000 + step) // step) * step)
    open_then_gone = f"x10 _x{gone // scrape}"
    with_request = (f" Newest event: request {_REQUEST_ID}, its log lines: "
                    + logs_link(dashboard_url, _REQUEST_ID_IN_URL))
    tests = [
        RuleTest("ErrorIssueOpen: fires with the issue's details and its request's logs, resolves with it",
                 [(selector(ISSUE, details), "6" + open_then_gone), (users, "3" + open_then_gone),
                  (request, "1" + open_then_gone)],
                 [Check(Duration(2 * step), issue.name, (fired(with_request),)), Check(gone, issue.name)]),
        RuleTest("ErrorIssueOpen: without a request id, no logs link",
                 [(selector(ISSUE, details), "6x10"), (users, "3x10")],
                 [Check(Duration(2 * step), issue.name, (fired(""),))]),
        silent_test("ErrorIssueOpen: quiet without open issues", issue.name,
                    [(selector(OPEN, out), "0x{n}")], ctx.timing, 0),
    ]
    spike = ctx.stack.error_tracker.spike
    levels = [Level("critical", spike / 60, f"{spike:g}/min")]
    spiking = threshold_alerts(
        "ErrorEventsSpiking", f"sum by (service, team) (rate({EVENTS}{sel}[{SPIKE_WINDOW}]))", levels, SPIKE_FOR,
        labels, lambda lv: annotations(
            ctx, service, dash, "ErrorEventsSpiking", "{{ $labels.service }} is raising errors fast",
            "{{ $labels.service }} sent {{ $value | humanize }} error events a second to the tracker over 5m "
            f"(more than {lv.text})."))
    tests += rate_threshold_tests(spiking, levels, lambda v: [(selector(EVENTS, out), f"0+{v * ctx.timing.scrape.seconds:g}x{{n}}")],
                                  labels, ctx.timing, SPIKE_WINDOW)
    return RuleGroup(f"errors:{service.name}", [issue, *spiking]), tests


def scrape_job(stack: Stack) -> ScrapeJob:
    """The exporter's job. Its series carry their own service and team, which win over the job's
    (honor_labels); its own `up` is the stack's."""
    return ScrapeJob(JOB, (stack.endpoints.errors_exporter,),
                     {"service": EXPORTER, "team": stack_part.team_of(stack), "kind": JOB}, honor_labels=True)


def stack_plan(ctx: Context) -> tuple[RuleGroup, list[RuleTest]]:
    """ErrorTrackerDown: the exporter answers but cannot read Bugsink, or cannot be scraped."""
    stack, team, dash = ctx.stack, stack_part.team_of(ctx.stack), stack_part.DASHBOARD
    labels = {"team": team}
    out = {"job": JOB, "instance": stack.endpoints.errors_exporter, "kind": JOB, "service": EXPORTER, "team": team}
    down = Alert("ErrorTrackerDown", f'{UP}{{job="{JOB}"}} == 0 or up{{job="{JOB}"}} == 0', DOWN_FOR,
                 {**labels, "severity": "warning"},
                 annotations(ctx, None, dash, "ErrorTrackerDown", "The error tracker cannot be read",
                             "The errors exporter ({{ $labels.instance }}) has not read Bugsink's API for 5m: "
                             "new and regressed error issues are not alerted on."))
    def series(read: int) -> list:
        return [(selector(UP, out), f"{read}x{{n}}"), (selector("up", out), "1x{n}")]
    tests = case_tests([down], [Case("quiet while read", series(1), []),
                                Case("fires when Bugsink cannot be read", series(0), [down], 0)],
                       out, ctx.timing, quiet_for=DOWN_FOR)
    return RuleGroup("vigil:errors", [down]), tests
