"""How Vigil's logs are labelled and read: one place for the Loki stream labels the
log shipper sets and the JSON fields the dashboards and log alerts look at.

Stream labels stay few and bounded (Loki indexes them): the inventory's `service`
and `team`, and the log `level`, lower-cased. Everything else in a JSON line is
read at query time with `| json`.
"""

from __future__ import annotations

import re

from .rules import promql_number
from .units import Duration

SERVICE, TEAM, LEVEL = "service", "team", "level"
ERROR_LEVELS = ("error", "critical", "fatal")   # `level` values that count as errors
ERROR_TYPE = "error_type"                        # JSON field: the exception's class, e.g. KeyError
MESSAGE = "msg"                                  # JSON field: the message
REQUEST_ID = "request_id"                        # JSON field: ties a line to one request
JSON_FIELDS = (LEVEL, MESSAGE, REQUEST_ID, ERROR_TYPE)   # what the shipper extracts from a JSON line
CONTAINER = "container"                          # stream label: the container's name (not an inventory name)


def stream(service: str, errors: bool = False) -> str:
    """The stream selector of a service's logs (only its error lines with `errors`)."""
    level = f',{LEVEL}=~"{"|".join(ERROR_LEVELS)}"' if errors else ""
    return f'{{{SERVICE}="{service}"{level}}}'


def error_types(service: str, window: str) -> str:
    """The ten most frequent exception classes of a service's error lines over `window`
    (Sentry-style grouping)."""
    return (f"topk(10, sum by ({ERROR_TYPE}) (count_over_time({stream(service, errors=True)} | json "
            f'| {ERROR_TYPE} != "" [{window}])))')


STACKTRACE = "stacktrace"                        # JSON field: the formatted traceback of an error line


def errors_of(services: str) -> str:
    """Error lines carrying an exception class, of the services matching a regex, parsed."""
    level = "|".join(ERROR_LEVELS)
    return f'{{{SERVICE}=~"{services}",{LEVEL}=~"{level}"}} | json | {ERROR_TYPE} != ""'


def errors_by_type(services: str, window: str) -> str:
    """Error lines over `window` by service and exception class (Sentry's issues)."""
    return f"sum by ({SERVICE}, {ERROR_TYPE}) (count_over_time({errors_of(services)} [{window}]))"


def error_seen(services: str, window: str, last: bool) -> str:
    """When each (service, exception class) was first (or last) logged in `window`, in
    epoch milliseconds: each line's own timestamp, unwrapped as a number."""
    fn = "max_over_time" if last else "min_over_time"
    agg = "max" if last else "min"
    return (f"{agg} by ({SERVICE}, {ERROR_TYPE}) ({fn}({errors_of(services)} "
            f'| label_format seen=`{{{{ __timestamp__ | unixEpoch }}}}` | unwrap seen [{window}])) * 1000')


# ---------------------------------------------------------------- log alerts (the Loki ruler)
#
# ErrorLogSpike, for every `http` and `job` service: its error lines over WINDOW
# are above an absolute FLOOR *and* RATIO times its average WINDOW count over the
# BASELINE before (offset by WINDOW, so a burst does not raise its own baseline).
# A service that never logged errors has no baseline series: `or vector(0)` makes
# it 0, so a first burst over the floor fires. A service that always logs many
# errors does not page: its baseline follows it, and a sustained spike resolves
# once it has lasted BASELINE. Sums without `by`, so both sides match on the empty
# label set; the rule's own labels say whose alert it is.

ERROR_SPIKE = "ErrorLogSpike"
ERROR_SPIKE_KINDS = ("http", "job")       # kinds whose containers log to Vigil's conventions
ERROR_SPIKE_WINDOW = "5m"
ERROR_SPIKE_BASELINE = "1h"
ERROR_SPIKE_FLOOR = 10                    # error lines in WINDOW, whatever the baseline
ERROR_SPIKE_RATIO = 3                     # times the average WINDOW of the BASELINE before
ERROR_SPIKE_FOR = "2m"
ERROR_SPIKE_SEVERITY = "warning"


def error_count(service: str, window: str, offset: str | None = None) -> str:
    """Error lines of a service over `window` (ending `offset` ago), summed to one series."""
    shift = f" offset {offset}" if offset else ""
    return f"sum(count_over_time({stream(service, errors=True)}[{window}]{shift}))"


def error_spike(service: str, floor: float = ERROR_SPIKE_FLOOR, ratio: float = ERROR_SPIKE_RATIO,
                window: str = ERROR_SPIKE_WINDOW, baseline: str = ERROR_SPIKE_BASELINE) -> str:
    """The LogQL of ErrorLogSpike; its value is the error lines of the last `window`."""
    w, b = Duration.parse(window), Duration.parse(baseline)
    if b % w or b <= w:
        raise ValueError(f"baseline {baseline} must be a multiple of the window {window}")
    now = error_count(service, window)
    before = f"{error_count(service, baseline, offset=window)} / {b // w}"
    return f"({now} > {promql_number(floor)}) and ({now} > {promql_number(ratio)} * (({before}) or vector(0)))"


# ---------------------------------------------------------------- redaction before storage
#
# The log shipper rewrites every line before it reaches Loki (Alloy's stage.replace,
# on the raw line, before any parsing). Each expression is RE2 (Go) and Python `re`
# alike: no lookaround, no backreferences. As in stage.replace, only what the
# capture group matched is replaced: "Authorization: Bearer abc..." keeps its
# "Authorization: Bearer " and loses the token.

EMAIL = r"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
BEARER = r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)"       # tokens are long: "bearer of news" stays
JWT = r"\b(eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"  # a bare JSON Web Token

REDACTED_EMAIL = "<redacted-email>"
REDACTED_TOKEN = "<redacted-token>"

REDACTIONS = ((BEARER, REDACTED_TOKEN), (JWT, REDACTED_TOKEN), (EMAIL, REDACTED_EMAIL))


def redact(line: str) -> str:
    """What the shipper's redaction stages make of a line (stage.replace semantics:
    every match's capture groups are replaced, the rest of the line kept)."""
    for expression, replacement in REDACTIONS:
        out, last = [], 0
        for m in re.finditer(expression, line):
            for g in range(1, (m.re.groups or 0) + 1):
                if m.start(g) < 0:
                    continue
                out.append(line[last:m.start(g)] + replacement)
                last = m.end(g)
        line = "".join(out) + line[last:]
    return line
