"""`vigil annotate`: a deploy marker on a service's dashboard, posted to Grafana's
annotations API with Grafana's official Python client (grafana-client).

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
from .live import Unreachable


def tags(service: Service, extra: list[str]) -> list[str]:
    return list(dict.fromkeys([*deploy_tags(service), *extra]))


def post(url: str, auth, service: Service, text: str, extra_tags: list[str], when_ms: int | None = None) -> int:
    """Posts the annotation; returns its id."""
    # Imported here: the client and its HTTP stack cost 0.3 s to import, which
    # every other vigil command would pay for nothing.
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException
    from niquests.exceptions import RequestException

    api = GrafanaApi.from_url(url, credential=auth, timeout=10.0)
    try:
        answer = api.annotations.add_annotation(time_from=when_ms or int(time.time() * 1000),
                                                tags=tags(service, extra_tags), text=text)
    except GrafanaClientError as e:   # 4xx: the request or the credentials
        raise Unreachable(f"{url}: Grafana refused the annotation: {e.status_code} {e.message}") from None
    except GrafanaException as e:
        raise Unreachable(f"{url}: {e.message}") from None
    except RequestException as e:     # connection refused, DNS, TLS
        raise Unreachable(f"{url}: {type(e).__name__}: {e} (is the stack up? `make up`)") from None
    return int(answer.get("id", 0))
