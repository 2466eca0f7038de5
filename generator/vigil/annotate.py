"""`vigil annotate`: a deploy marker on a service's dashboard, posted to Grafana's
annotations API (POST /api/annotations) through live's client: one deadline for the whole
exchange, and a clear error for anything that is not the API's JSON answer.

The annotation carries the tags the service dashboard's "Deploys" annotation
query asks for (dashboards.common.deploy_tags), so it shows there on every
dashboard of that service, whatever its panels.

Grafana is reached at --grafana-url / VIGIL_GRAFANA_URL, else the inventory's
(live.url: stack.grafana_url, else endpoints.grafana) with, in this order, a service account token
(GRAFANA_TOKEN: what a CI pipeline should use) or the admin user and password
of .env (live.grafana_credential).
"""

from __future__ import annotations

import time

from .dashboards.common import deploy_tags
from .inventory import Service
from . import live
from .live import Unreachable


def tags(service: Service, extra: list[str]) -> list[str]:
    return list(dict.fromkeys([*deploy_tags(service), *extra]))


def post(url: str, auth, service: Service, text: str, extra_tags: list[str], when_ms: int | None = None) -> int:
    """Posts the annotation; returns its id. Unreachable for anything but Grafana's own answer."""
    payload = {"time": when_ms or int(time.time() * 1000), "tags": tags(service, extra_tags), "text": text}
    try:
        answer = live._http(f"{url.rstrip('/')}/api/annotations", payload, auth)
    except live.Refused as e:     # 4xx: the request or the credentials
        raise Unreachable(f"{url}: Grafana refused the annotation: {e.status} {e.said}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
        raise Unreachable(f"{url}: answered without an annotation id, not Grafana's annotations API: {answer!r:.120}")
    return answer["id"]
