"""One renderer per product: pure functions from the plan to {relative path: bytes}."""

from ..plan import Plan
from . import blackbox, prometheus, schema


def render(plan: Plan) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for product in (prometheus, blackbox, schema):
        files.update(product.render(plan))
    return files
