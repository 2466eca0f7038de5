"""inventory.schema.json: the inventory's JSON Schema, for editors (yaml-language-server)."""

import json

from ..inventory import Inventory
from ..plan import Plan

PATH = "inventory.schema.json"


def schema() -> dict:
    out = Inventory.model_json_schema(by_alias=True)
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "Vigil inventory, version 1"
    return out


def render(plan: Plan) -> dict[str, bytes]:
    return {PATH: (json.dumps(schema(), indent=2, sort_keys=True) + "\n").encode()}
