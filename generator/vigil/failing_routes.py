"""The routes that fail most, named in an error alert's description.

"Worst routes over the last 5m: /checkout 75% of 1200 requests, /cart 12.5% of 800 requests." — ranked by their
5xx count over the window (the routes that make the errors, not a route that failed its one
request), each with its share of 5xx and its requests.

Prometheus computes it: queries in the annotation's template, which run only while the alert is
pending or firing. A per-route recording rule would add a series for every route of every service
at every evaluation (issue 18: rule cost) for a line that is read only in a notification.
Where the instrumentation has no route label, there is no line.
"""

from __future__ import annotations

from typing import Sequence

from . import presets
from .units import Duration

TOP = 3                     # routes named at most


def template(service: str, inst: presets.Instrumentation, window: Duration) -> str:
    """The line as a Go template for the description, with a leading space; '' without a route label."""
    r = inst.route_label
    if r is None:
        return ""
    own = f'service="{service}",{r}!=""'
    errors = f'sum by ({r}) (rate({inst.requests}{{{own},{inst.server_errors}}}[{window}]))'
    requests = f'sum by ({r}) (rate({inst.requests}{{{own}}}[{window}]))'
    counts = f'sum by ({r}) (increase({inst.requests}{{{own}}}[{window}]))'
    # For each of the top routes, its share and its count, looked up by the route's label.
    lookup = "{{ range $%s }}{{ if eq .Labels.%s $top.Labels.%s }}%s{{ end }}{{ end }}"
    return ("{{ with query `sort_desc(topk(%d, %s > 0))` }}" % (TOP, errors)
            + "{{ $shares := query `%s / %s` }}{{ $counts := query `%s` }}" % (errors, requests, counts)
            + " Worst route{{ if gt (len .) 1 }}s{{ end }} over the last %s:" % window
            + "{{ range $i, $top := . }}{{ if $i }},{{ end }} {{ $top.Labels.%s }}" % r
            + lookup % ("shares", r, r, " {{ .Value | humanizePercentage }}")
            + lookup % ("counts", r, r, ' of {{ printf "%.0f" .Value }} requests')
            + "{{ end }}.{{ end }}")


def text(routes: Sequence[tuple[str, str, float]], window: Duration) -> str:
    """What template() expands to, for rule tests: (route, share as humanizePercentage prints it,
    requests in the window), worst first."""
    routes = routes[:TOP]
    if not routes:
        return ""
    listed = ",".join(f" {route} {share} of {count:.0f} requests" for route, share, count in routes)
    return f" Worst route{'s' if len(routes) > 1 else ''} over the last {window}:{listed}."


def seen(annotations: dict, line: str, routes: str) -> dict:
    """`annotations` with the template `line` expanded to `routes` (text()), as a test's series make it."""
    return {k: v.replace(line, routes) if line else v for k, v in annotations.items()}
