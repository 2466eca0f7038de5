"""Every rendered dashboard type-checks against the pinned Grafana's own model:
@grafana/schema (pinned in tests/grafana_schema/package.json to the release of
builder.GRAFANA_VERSION) with TypeScript's excess-property checks, through
tests/grafana_schema/check.mjs. An unknown key is a setting Grafana silently
ignores; a missing required key is one left to whatever default the next release has."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DATA, ROOT, render_tree
from vigil.dashboards import builder

HERE = Path(__file__).resolve().parent / "grafana_schema"
INSTALL = ("install node and the pinned types: `apt-get install nodejs npm` (unless a node is already on PATH), "
           "then `npm ci --prefix tests/grafana_schema` from the repository root; or run `make test`, which does both")


def schema_problems(paths: list[Path]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: {INSTALL}", pytrace=False)
    if not (HERE / "node_modules" / "@grafana" / "schema").is_dir():
        pytest.fail(f"{HERE / 'node_modules'} is missing (or incomplete): {INSTALL}", pytrace=False)
    result = subprocess.run([node, str(HERE / "check.mjs"), *map(str, paths)], cwd=HERE, capture_output=True,
                            text=True, timeout=600, check=False)
    if result.returncode != 0:
        pytest.fail(f"check.mjs failed (exit {result.returncode}):\n{result.stderr}", pytrace=False)
    return json.loads(result.stdout)


def test_the_types_are_the_pinned_grafanas():
    lock = json.loads((HERE / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@grafana/schema"]["version"] == builder.GRAFANA_VERSION


def test_every_rendered_dashboard_matches_grafanas_types(tmp_path):
    full = render_tree(DATA / "full.yml", tmp_path / "tree")
    paths = sorted((ROOT / "grafana/dashboards").rglob("*.json")) + sorted((full / "grafana/dashboards").rglob("*.json"))
    assert len(paths) > 20
    problems = schema_problems(paths)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_check_finds_unknown_keys_missing_keys_and_wrong_types(tmp_path):
    """The checker itself: one planted mistake of each kind per file, each found where it is."""
    good = json.loads((ROOT / "grafana/dashboards/vigil/vigil-overview.json").read_text())
    by_type = {}
    for p in good["panels"]:
        by_type.setdefault(p["type"], p)

    def planted(name, change):
        d = copy.deepcopy(good)
        change(d, {t: next(p for p in d["panels"] if p["id"] == q["id"]) for t, q in by_type.items()})
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(d))
        return path

    cases = {
        "dashboard-key": (lambda d, p: d.update(footer=True), "'\"footer\"' does not exist"),
        "variable-key": (lambda d, p: d["templating"]["list"][0].update(definition="x"), "definition"),
        "options-key": (lambda d, p: p["table"]["options"].update(footer={"show": False}), "footer"),
        "custom-key": (lambda d, p: p["timeseries"]["fieldConfig"]["defaults"]["custom"].update(lineWidht=1),
                       "lineWidht"),
        "missing-required": (lambda d, p: p["stat"]["options"].pop("reduceOptions"), "reduceOptions"),
        "wrong-type": (lambda d, p: p["stat"]["options"].update(colorMode="rainbow"), "rainbow"),
        "unknown-panel-type": (lambda d, p: p["stat"].update(type="graph"), "no types known for panel type graph"),
        "override-custom": (lambda d, p: p["table"]["fieldConfig"]["overrides"].append(
            {"matcher": {"id": "byName", "options": "x"}, "properties": [{"id": "custom.hidden", "value": True}]}),
            "hidden"),
    }
    paths = {name: planted(name, change) for name, (change, _) in cases.items()}
    problems = schema_problems(list(paths.values()))
    for name, (_, needle) in cases.items():
        found = [p for p in problems if p.startswith(f"{paths[name]}:")]
        assert len(found) == 1 and needle in found[0], (name, found)
