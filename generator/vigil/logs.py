"""How Vigil's logs are labelled and read: one place for the Loki stream labels the
log shipper sets and the JSON fields the dashboards and log alerts look at.

Stream labels stay few and bounded (Loki indexes them): the inventory's `service`
and `team`, and the log `level`, lower-cased. Everything else in a JSON line is
read at query time with `| json`.
"""

from __future__ import annotations

SERVICE, TEAM, LEVEL = "service", "team", "level"
ERROR_LEVELS = ("error", "critical", "fatal")   # `level` values that count as errors
ERROR_TYPE = "error_type"                        # JSON field: the exception's class, e.g. KeyError
MESSAGE = "msg"                                  # JSON field: the message
REQUEST_ID = "request_id"                        # JSON field: ties a line to one request


def stream(service: str, errors: bool = False) -> str:
    """The stream selector of a service's logs (only its error lines with `errors`)."""
    level = f',{LEVEL}=~"{"|".join(ERROR_LEVELS)}"' if errors else ""
    return f'{{{SERVICE}="{service}"{level}}}'


def error_types(service: str, window: str) -> str:
    """The ten most frequent exception classes of a service's error lines over `window`
    (Sentry-style grouping)."""
    return (f"topk(10, sum by ({ERROR_TYPE}) (count_over_time({stream(service, errors=True)} | json "
            f'| {ERROR_TYPE} != "" [{window}])))')
