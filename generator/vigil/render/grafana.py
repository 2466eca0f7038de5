"""grafana/: provisioning (data sources with fixed uids, one dashboard provider per
folder) and the dashboards themselves, as deterministic JSON.

Grafana resolves a provider's relative `path` against its own working directory,
not the provisioning file, so providers name where the Compose file mounts
grafana/dashboards/ in the container: DASHBOARDS_MOUNT.
"""

from __future__ import annotations

import json

from .. import webauth
from ..dashboards import Folder, build, dashboard_folders
from ..dashboards.builder import Dashboard
from ..dashboards.datasources import ALERTMANAGER_UID, LOKI_UID, PROMETHEUS_UID
from ..inventory import Stack
from ..plan import Plan
from .yamlout import dump

DATASOURCES = "grafana/provisioning/datasources/vigil.yml"
PROVIDERS = "grafana/provisioning/dashboards/vigil.yml"
DASHBOARDS = "grafana/dashboards"
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"    # ./grafana/dashboards in the container


def render(plan: Plan) -> dict[str, bytes]:
    inv = plan.inventory
    return {DATASOURCES: dump(datasources(inv.stack)), PROVIDERS: dump(providers(dashboard_folders(inv))),
            **dashboard_files(build(inv, services=plan.apart is None))}


def dashboard_files(built: list[tuple[Folder, Dashboard]]) -> dict[str, bytes]:
    return {f"{DASHBOARDS}/{folder.key}/{dashboard.uid}.json": to_json(dashboard.to_dict()) for folder, dashboard in built}


# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def to_json(data: dict) -> bytes:
    """One line per top-level key, and per panel: diffs stay readable, and the
    C encoder does the work (indent= would make json fall back to pure Python,
    most of the cost of rendering thousands of dashboards)."""
    one = _ENCODER.encode
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items = ",\n".join(f"    {one(v)}" for v in value)
            lines.append(f"  {one(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {one(key)}: {one(value)}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def datasources(stack: Stack) -> dict:
    ep = stack.endpoints

    def source(name: str, kind: str, uid: str, address: str, json_data: dict, default: bool = False) -> dict:
        out = {"name": name, "type": kind, "uid": uid, "access": "proxy", "url": f"http://{address}",
               "isDefault": default, "editable": False, "jsonData": json_data}
        part = name.lower()
        if stack.basic_auth and part in webauth.PARTS:
            # Grafana expands ${VAR} in provisioning files from its environment (Compose passes it).
            out |= {"basicAuth": True, "basicAuthUser": webauth.USER,
                    "secureJsonData": {"basicAuthPassword": webauth.reference(part)}}
        return out

    return {"apiVersion": 1, "datasources": [
        source("Prometheus", "prometheus", PROMETHEUS_UID, ep.prometheus, {
            "httpMethod": "POST", "prometheusType": "Prometheus",
            # Grafana's $__rate_interval is at least four of these: rates always span several samples.
            "timeInterval": str(stack.scrape_interval)}, default=True),
        source("Alertmanager", "alertmanager", ALERTMANAGER_UID, ep.alertmanager, {
            "implementation": "prometheus", "handleGrafanaManagedAlerts": False}),
        source("Loki", "loki", LOKI_UID, ep.address("loki"), {"maxLines": 1000}),
    ]}


def providers(folders: list[Folder]) -> dict:
    return {"apiVersion": 1, "providers": [
        {"name": f.key, "orgId": 1, "folder": f.title, "folderUid": f.uid, "type": "file",
         "disableDeletion": False, "allowUiUpdates": False, "updateIntervalSeconds": 30,
         "options": {"path": f"{DASHBOARDS_MOUNT}/{f.key}", "foldersFromFilesStructure": False}}
        for f in folders]}
