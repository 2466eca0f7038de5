"""Running dashboards' queries the way Grafana would: read a rendered tree's
dashboards, fill in template variables (All, and the first real value) from the
real Prometheus, and run every PromQL target through its HTTP API."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from native import api_answer, get_json
from vigil.units import Duration

BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__auto": "1m", "__range": "1h", "__range_s": "3600"}
VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def dashboards(tree: Path) -> dict[str, dict]:
    """folder/uid -> dashboard JSON."""
    return {f"{p.parent.name}/{p.stem}": json.loads(p.read_text())
            for p in sorted((tree / "grafana/dashboards").rglob("*.json"))}


def panels(dashboard: dict):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])


def prom_targets(panel: dict):
    return [t for t in panel.get("targets", []) if t["datasource"]["type"] == "prometheus"]


def variables(dashboard: dict) -> dict:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def query(url: str, expr: str) -> dict:
    """Prometheus' answer to an instant query, waiting through its start-up 503 (native.api_answer)."""
    data = urllib.parse.urlencode({"query": expr}).encode()
    code, answer = api_answer(urllib.request.Request(f"{url}/api/v1/query", data=data), timeout=10)
    return answer if code == 200 else (answer or {}) | {"status": "error", "code": code}


def has_data(result: dict) -> bool:
    return result.get("status") == "success" and any(
        s["value"][1] not in ("NaN", "+Inf", "-Inf") for s in result["data"]["result"])


def traffic(port: int, stop: threading.Event) -> None:
    """Steady requests, one in ten failing, until the test ends."""
    n = 0
    while not stop.is_set():
        path = "/fail" if n % 10 == 0 else "/ok"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
        except (urllib.error.URLError, OSError):
            pass
        n += 1
        stop.wait(0.02)


def label_values(url: str, definition: str) -> list[str]:
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    assert m, definition
    params = urllib.parse.urlencode({"match[]": m.group(1)})
    series = get_json(f"{url}/api/v1/series?{params}")["data"]
    return sorted({s[m.group(2)] for s in series if m.group(2) in s})


def resolve(url: str, dashboard: dict, may_be_empty: bool = False) -> tuple[dict, dict]:
    """Variable values as Grafana would use them: (All selected, the first real value of each).
    `may_be_empty`: a dashboard whose source does not run here gets "none" for a variable without values."""
    every, first = dict(BUILTINS), dict(BUILTINS)
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            values = label_values(url, expand(v["query"], first)) or (["none"] if may_be_empty else [])
            assert values, f"{dashboard['uid']}: variable {v['name']} has no values: {v['query']}"
        elif v["type"] == "textbox":
            values = [v["query"]]
        elif v["type"] == "custom":
            values = v["query"].split(",")
        else:
            continue
        every[v["name"]] = v.get("allValue", ".*") if v["includeAll"] else values[0]
        first[v["name"]] = values[0]
    return every, first


def target_expr(target: dict, values: dict) -> str:
    """A panel query as Grafana sends it: a query's "Min step" (`interval`) raises $__interval to it,
    and $__rate_interval to max($__interval + min step, 4 × min step), as Grafana computes them."""
    if not target.get("interval"):
        return expand(target["expr"], values)
    step = Duration.parse(target["interval"])
    interval = max(Duration.parse(values["__interval"]), step)
    rate = max(Duration(interval + step), Duration(4 * step))
    return expand(target["expr"], values | {"__interval": str(interval), "__rate_interval": str(rate)})


def expand(expr: str, values: dict) -> str:
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    out = VAR.sub(sub, expr)
    # ($1, ${1}: label_replace's groups, which Grafana leaves alone as no variable has a number for a name)
    left = [m.group(0) for m in VAR.finditer(out) if not (m.group(1) or m.group(2) or "").isdigit()]
    assert not left, f"unknown variables {left} in {expr}"
    return out
