"""The DORA maths: the rules of dora.py drifting from their definitions make the generated
scenario tests (known answers, prometheus/tests/dora/) fail. Each mutant runs against the short
scenario (attribution, statuses, pending alerts, two services), which promtool runs in seconds,
but the windows' own, which only the other one (a deploy 8 days old) can notice. The inventory's
failure window (stack.dora.failure_window) reaches the rules, and their scenarios pass with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, promtool, render_tree
from vigil import dora

SHORT = "failures go to the last deploy before the alert"
MUTATIONS = [
    # (what to change in rules/dora.yml, into what)
    (r"< 3600 and on \(service\)", "< 36000 and on (service)"),          # a 10-hour failure window
    (r"topk by \(service\) \(1,", "bottomk by (service) (1,"),            # blame the first deploy
    (r"quantile by \(service, team\) \(0\.5,", "quantile by (service, team) (0.9,"),   # not the median
    (r'and ignoring \(alertstate\) ALERTS\{alertstate="firing"\}', "and ignoring (alertstate) ALERTS"),  # pending too
    (r'status=~"failed\|rolled-back"', 'status=~"failed"'),               # rollbacks are fine
    (r"quantile_over_time\(0\.5, service:", "max_over_time(service:"),    # the longest incident
]
WINDOWED = "and one 8 days ago"


def _suite(tmp_path, rules: str, scenario: str = SHORT, tree: Path = ROOT):
    """promtool over the one scenario named `scenario` (of the tree's tests), against these rules."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules/dora.yml").write_text(rules)
    suite = yaml.safe_load((tree / "prometheus/tests/dora/dora.test.yml").read_text())
    suite["tests"] = [t for t in suite["tests"] if scenario in t["name"]]
    assert len(suite["tests"]) == 1
    suite["rule_files"] = ["rules/dora.yml"]
    (tmp_path / "short.test.yml").write_text(yaml.safe_dump(suite))
    return promtool("test", "rules", "short.test.yml", cwd=tmp_path)


def test_the_short_scenario_passes_as_rendered(tmp_path):
    result = _suite(tmp_path, (ROOT / "prometheus" / dora.PATH).read_text())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("pattern, repl", MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_a_drifting_rule_fails_the_scenarios(tmp_path, pattern, repl):
    text, n = re.subn(pattern, repl, (ROOT / "prometheus" / dora.PATH).read_text())
    assert n >= 1, f"mutation {pattern!r} found nothing"
    result = _suite(tmp_path, text)
    assert result.returncode != 0, f"{repl}: the scenarios did not notice"


def test_a_7_day_window_that_counts_30_days_fails_the_scenarios(tmp_path):
    seven = f"> time() - {dora.WINDOWS[0].seconds:g}"
    text, n = re.subn(re.escape(seven), f"> time() - {dora.WINDOWS[1].seconds:g}",
                      (ROOT / "prometheus" / dora.PATH).read_text())
    assert n >= 1, f"{seven!r} found nothing"
    result = _suite(tmp_path, text, WINDOWED)
    assert result.returncode != 0, "the scenarios did not notice"


def test_the_inventory_failure_window_reaches_the_rules_and_its_scenario(tmp_path):
    """3h: a deploy followed 2.5 hours later by a critical alert has failed. The scenario rendered for
    3h passes against the rules rendered for 3h and fails against those of the default 1h."""
    inventory = tmp_path / "inventory.yml"
    text = (ROOT / "inventory.yml").read_text()
    assert text.count("\nstack:\n") == 1
    inventory.write_text(text.replace("\nstack:\n", "\nstack:\n  dora: {failure_window: 3h}\n"))
    tree = render_tree(inventory, tmp_path / "tree")
    rules = (tree / "prometheus" / dora.PATH).read_text()
    assert "< 10800 and on (service)" in rules and "< 3600 " not in rules
    result = _suite(tmp_path, rules, tree=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _suite(tmp_path, (ROOT / "prometheus" / dora.PATH).read_text(), tree=tree)
    assert result.returncode != 0, "the 3h scenario passed against 1h rules"
