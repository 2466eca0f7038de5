"""`vigil generate`: deterministic bytes, only changed files written, stale ones
removed, --check and --diff write nothing, -o renders the whole tree elsewhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import yaml

from conftest import DATA, ROOT, render_tree, run_vigil


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_committed_example_tree_is_up_to_date():
    result = run_vigil("generate", "--check")
    assert result.returncode == 0, result.stderr + "\nrun `make generate` and commit the rendered files"


def test_rendering_is_deterministic(tmp_path):
    a = render_tree(DATA / "full.yml", tmp_path / "a")
    b = render_tree(DATA / "full.yml", tmp_path / "b")
    assert tree(a) == tree(b)
    assert len(tree(a)) > 40


def test_output_dir_gets_the_whole_tree_and_nothing_else_changes(tmp_path):
    before = tree(ROOT / "prometheus")
    out = render_tree(ROOT / "inventory.yml", tmp_path / "elsewhere")
    assert {p.split("/")[0] for p in tree(out)} >= {"prometheus", "blackbox", "inventory.schema.json",
                                                     ".vigil-generated"}
    # The rendered example under -o is byte-for-byte the committed one.
    assert tree(out / "prometheus") == before
    assert tree(ROOT / "prometheus") == before


def test_noop_regenerate_writes_nothing(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    before = mtimes(out)
    result = run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out))
    assert result.returncode == 0
    assert "up to date (nothing to do)" in result.stdout
    assert mtimes(out) == before


def test_noop_shortcut_notices_a_hand_edit_and_a_lost_file(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    rules = out / "prometheus/rules/services/api.yml"
    good = rules.read_bytes()
    rules.write_text("edited by hand\n")
    (out / "prometheus/tests/services/cache.test.yml").unlink()
    result = run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out))
    assert result.returncode == 0
    assert "1 added, 1 changed, 0 removed" in result.stdout
    assert rules.read_bytes() == good
    assert (out / "prometheus/tests/services/cache.test.yml").is_file()


def _edit(src: Path, dst: Path, edit) -> Path:
    data = yaml.safe_load(src.read_text())
    edit(data)
    dst.write_text(yaml.safe_dump(data, sort_keys=False))
    return dst


def test_only_changed_files_are_rewritten(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    before = mtimes(out)

    def tighten(data):
        data["services"][1]["alerts"] = {"error_rate": {"warning": "3%", "critical": "7%"}}
    inv = _edit(DATA / "full.yml", tmp_path / "inv.yml", tighten)
    result = run_vigil("generate", "-i", str(inv), "-o", str(out))
    assert result.returncode == 0, result.stderr
    changed = {p for p, m in mtimes(out).items() if before.get(p) != m} - {".vigil-cache"}
    # The dashboard too: its panels' thresholds are the alert's; the manifest keeps their new hashes.
    assert changed == {"prometheus/rules/services/api.yml", "prometheus/tests/services/api.test.yml",
                       "grafana/dashboards/team-platform/svc-api.json", ".vigil-generated"}
    assert "> 0.07" in (out / "prometheus/rules/services/api.yml").read_text()


def test_files_no_longer_generated_are_removed_and_others_kept(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    mine = out / "prometheus" / "rules" / "services" / "my-own-notes.txt"
    mine.write_text("not vigil's")

    def drop_redis(data):      # cache and sessions, the two redis services
        data["services"] = [s for s in data["services"] if s["kind"] != "redis"]
    inv = _edit(DATA / "full.yml", tmp_path / "inv.yml", drop_redis)
    result = run_vigil("generate", "-i", str(inv), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "5 removed" in result.stdout      # their rules, their tests, and the redis dashboard
    assert not (out / "prometheus/rules/services/cache.yml").exists()
    assert not (out / "grafana/dashboards/vigil/vigil-redis.json").exists()
    assert not (out / "prometheus/tests/services/cache.test.yml").exists()
    assert "cache" not in (out / "prometheus/prometheus.yml").read_text()
    assert mine.read_text() == "not vigil's"


def test_check_and_diff_report_staleness_and_write_nothing(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    (out / "prometheus/rules/services/api.yml").write_text("edited by hand\n")
    (out / "prometheus/tests/services/cache.test.yml").unlink()
    before = tree(out)

    check = run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out), "--check")
    assert check.returncode == 1
    assert "1 added, 1 changed, 0 removed" in check.stderr

    diff = run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out), "--diff")
    assert diff.returncode == 1
    assert "--- a/prometheus/rules/services/api.yml" in diff.stdout
    assert "-edited by hand" in diff.stdout
    assert "+++ b/prometheus/tests/services/cache.test.yml" in diff.stdout
    assert tree(out) == before

    assert run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out)).returncode == 0
    assert run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out), "--check").returncode == 0


def test_a_tampered_manifest_cannot_delete_outside_the_tree(tmp_path):
    out = render_tree(DATA / "full.yml", tmp_path / "out")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    with (out / ".vigil-generated").open("a") as f:
        f.write(f"../victim.txt\n{victim}\n")
    assert run_vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out)).returncode == 0
    assert victim.read_text() == "keep me"


def test_inventories_match_the_exported_json_schema():
    schema = json.loads((ROOT / "inventory.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for inv in (ROOT / "inventory.yml", DATA / "full.yml"):
        jsonschema.validate(yaml.safe_load(inv.read_text()), schema)
    assert (ROOT / "inventory.yml").read_text().startswith("# yaml-language-server: $schema=./inventory.schema.json")


def test_schema_rejects_what_vigil_rejects():
    schema = json.loads((ROOT / "inventory.schema.json").read_text())
    bad = yaml.safe_load((ROOT / "inventory.yml").read_text())
    bad["services"][0]["kind"] = "htp"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert errors, "the schema must flag an unknown kind"
    bad["services"][0]["kind"] = "http"
    bad["stack"]["scrape_intervall"] = "15s"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad)), "the schema must flag unknown keys"


def test_runs_from_any_directory(tmp_path):
    shutil.copy(ROOT / "inventory.yml", tmp_path / "inventory.yml")
    result = run_vigil("generate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prometheus" / "prometheus.yml").is_file()
