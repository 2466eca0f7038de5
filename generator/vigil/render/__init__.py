"""One renderer per product: pure functions from the plan to {relative path: bytes}."""

from .. import statuspage
from ..plan import Plan
from . import alertmanager, blackbox, compose, env, grafana, loki, prometheus, schema


def render(plan: Plan) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for product in (prometheus, alertmanager, blackbox, grafana, loki, compose, schema, env, statuspage):
        files.update(product.render(plan))
    return files
