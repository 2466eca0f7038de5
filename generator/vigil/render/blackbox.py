"""blackbox/blackbox.yml: the probe modules the blackbox exporter runs."""

from ..plan import Plan
from .yamlout import dump

MODULE = "http_2xx"


def render(plan: Plan) -> dict[str, bytes]:
    config = {"modules": {MODULE: {"prober": "http", "timeout": "5s",
                                   "http": {"preferred_ip_protocol": "ip4", "follow_redirects": True}}}}
    return {"blackbox/blackbox.yml": dump(config)}
