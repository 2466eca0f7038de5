"""Every rendered Prometheus file passes the real promtool, and the generated
rule tests pass — and fail when a rule drifts from its parameters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import DATA, ROOT, promtool, render_tree, rule_tests
from vigil import check

INVENTORIES = {"example": None, "full": DATA / "full.yml"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    out = {"example": ROOT}
    out["full"] = render_tree(DATA / "full.yml", tmp_path_factory.mktemp("full") / "tree")
    return out


@pytest.mark.parametrize("name", INVENTORIES)
def test_promtool_check_config(trees, name):
    result = promtool("check", "config", "prometheus/prometheus.yml", cwd=trees[name])
    assert result.returncode == 0, result.stdout + result.stderr
    # check config also loads every rule file it names: none may be missing.
    n_rule_files = len(list((trees[name] / "prometheus/rules").rglob("*.yml")))
    assert f"SUCCESS: {n_rule_files} rule files found" in result.stdout


@pytest.mark.parametrize("name", INVENTORIES)
def test_promtool_check_rules(trees, name):
    files = sorted(str(p) for p in (trees[name] / "prometheus/rules").rglob("*.yml"))
    result = promtool("check", "rules", *files, cwd=trees[name])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", INVENTORIES)
def test_promtool_test_rules(trees, name):
    tests = rule_tests(trees[name])
    # Each rule file has its test file; the SLO scenarios of a service have a second one, under
    # tests/slo/ (evaluated every minute: promtool cannot mix intervals within a file), and the
    # DORA rules only theirs, under tests/dora/.
    rules = sorted(p.relative_to(trees[name] / "prometheus/rules") for p in (trees[name] / "prometheus/rules").rglob("*.yml"))
    assert [t for t in tests if "/slo/" not in t and "/dora/" not in t] == [
        f"prometheus/tests/{r.with_suffix('')}.test.yml" for r in rules if r.name != "dora.yml"]
    assert "prometheus/tests/dora/dora.test.yml" in tests
    result = promtool("test", "rules", *tests, cwd=trees[name])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def _mutated(tree: Path, tmp_path: Path, rel: str, pattern: str, repl: str) -> Path:
    copy = tmp_path / "mutant"
    shutil.copytree(tree / "prometheus", copy / "prometheus")
    path = copy / "prometheus" / rel
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
    assert n == 1, f"mutation {pattern!r} found nothing in {rel}"
    path.write_text(text)
    return copy


MUTATIONS = [
    # (rule file, what to change, into what): each must make a generated test fail.
    ("rules/services/backoffice.yml", r"(service:http_error_ratio:rate5m\{service=\"backoffice\"\} > )0\.5 ", r"\g<1>0.9 "),
    ("rules/services/checkout.yml", r"(service:http_error_ratio:rate5m\{service=\"checkout\"\} > )0\.005 ", r"\g<1>0.004 "),
    ("rules/services/checkout.yml", r"^(    for: )30s$", r"\g<1>5m"),
    ("rules/services/backoffice.yml", r"(p95_rate5m\{service=\"backoffice\"\} > )2 ", r"\g<1>2.5 "),
    # the traffic guards (a trickle must stay quiet), and the instance that is down but not all
    ("rules/services/checkout.yml", r" and on \(service, team\) service:http_requests:rate5m\{service=\"checkout\"\} "
                                    r"\* 300 >= 50$", ""),
    ("rules/services/checkout.yml", r"(service:http_requests:rate5m\{service=\"checkout\"\} \* 300 >= )50$", r"\g<1>500"),
    ("rules/services/checkout.yml", r" < 1\)$", ")"),
    ("rules/services/web-1.yml", r"(mode=\"idle\"\}\[40s\]\)\) > )0\.8$", r"\g<1>0.9"),
    # an alert whose cases share one test (an instance each): its `for` shorter (the early check) or
    # longer (the late one), its threshold moved; on a host and on the stack's own watches
    ("rules/services/web-1.yml", r"(mode=\"idle\"\}\[40s\]\)\) > 0\.8\n    for: )10m$", r"\g<1>1m"),
    ("rules/services/web-1.yml", r"(mode=\"idle\"\}\[40s\]\)\) > 0\.8\n    for: )10m$", r"\g<1>30m"),
    ("rules/stack.yml", r"(\[5m\]\) > )0\.8( \* last_over_time\(prometheus_rule_group_interval_seconds)", r"\g<1>0.9\g<2>"),
    ("rules/stack.yml", r"(prometheus_rule_group_interval_seconds\{job=\"prometheus\"\}\[5m\]\)\n    for: )15m$",
     r"\g<1>1m"),
    ("rules/services/homepage.yml", r"(- time\(\) < )604800$", r"\g<1>86400"),
    ("rules/services/checkout.yml", r"(summary: \"checkout: )", r"\g<1>x"),
    ("rules/stack.yml", r"^(  - alert: Watchdog\n    expr: )vector\(1\)", r"\g<1>vector(1) == 0"),
    ("rules/services/checkout.yml", r"(expr: checkout_queue_depth > )100", r"\g<1>200"),
    # the error alert's link to the logs of the newest event's request: the search box, the id escaped
    ("rules/services/checkout.yml", r"\?var-search=", "?var-q="),
    ("rules/services/checkout.yml", r" \| urlquery \}\}", " }}"),
]


@pytest.mark.parametrize("rel,pattern,repl", MUTATIONS, ids=[f"{m[0]}:{m[2]}" for m in MUTATIONS])
def test_generated_tests_catch_a_drifting_rule(trees, tmp_path, rel, pattern, repl):
    mutant = _mutated(trees["full"], tmp_path, rel, pattern, repl)
    test = "prometheus/" + rel.replace("rules/", "tests/", 1).removesuffix(".yml") + ".test.yml"
    result = promtool("test", "rules", test, cwd=mutant)
    assert result.returncode != 0, f"the tests of {rel} still pass after the mutation:\n{result.stdout}"


def test_check_splits_the_rule_tests_over_promtool_calls_and_runs_each_file_once(trees, tmp_path):
    """`vigil check` runs the test files in batches, one promtool per core at a time: each file still
    runs exactly once, in order, and one failing file fails the check with its own failure."""
    mutant = _mutated(trees["full"], tmp_path, *MUTATIONS[0]) / "prometheus"
    # (the DORA scenarios, a week of minutes, test nothing here that the others do not)
    tests = [t for t in check.rule_test_files(mutant) if "/dora/" not in t][:10]
    broken = "tests/services/backoffice.test.yml"
    assert broken in tests
    for workers in (1, 3):
        ok, output = check.test_rules(mutant, tests, workers)
        assert not ok, output
        assert re.findall(r"^Unit Testing: +(\S+)$", output, flags=re.M) == tests
        assert output.count("SUCCESS") == len(tests) - 1, output
        # (promtool prints a file's failures on stderr, after that call's list of files)
        assert not re.search(rf"^Unit Testing: +{re.escape(broken)}\n+ +SUCCESS", output, flags=re.M), output
        assert re.search(r"FAILED:\n +name: HighErrorRate: critical at 0\.55,", output), output
    # the control: the same files unmutated pass, three promtools at a time too
    good = trees["full"] / "prometheus"
    ok, output = check.test_rules(good, tests, 3)
    assert ok and output.count("SUCCESS") == len(tests), output


# Alerts over a gauge read it through the gauge window (4 scrapes of full.yml's 10s): without it, one
# failed scrape (its staleness marker) restarts `for`, and exactly the "through one missed scrape"
# test of that alert fails; the tests over steady series still pass.
BARE = [
    ("rules/services/orders-db.yml", "PostgresTooManyConnections", r"min_over_time\((pg_stat_activity_count\{[^}]*\})\[40s\]\)"),
    ("rules/services/users-db.yml", "MysqlTooManyConnections",
     r"min_over_time\((mysql_global_status_threads_connected\{[^}]*\})\[40s\]\)"),
    ("rules/services/db-host.yml", "HostDiskFull", r"max_over_time\((node_filesystem_avail_bytes\{[^}]*\})\[40s\]\)"),
    # the same gauge over maxmemory, then over the system's memory: one mutated at a time
    ("rules/services/cache.yml", "RedisMemoryHigh",
     r"min_over_time\((redis_memory_used_bytes\{[^}]*\})\[40s\]\)(?= / \(last_over_time\(redis_memory_max_bytes)"),
    ("rules/services/cache.yml", "RedisMemoryOfSystem",
     r"min_over_time\((redis_memory_used_bytes\{[^}]*\})\[40s\]\)(?= / last_over_time\(redis_total_system)"),
]


@pytest.mark.parametrize("rel,alert,windowed", BARE, ids=[b[1] for b in BARE])
def test_without_the_gauge_window_one_missed_scrape_resets_for(trees, tmp_path, rel, alert, windowed):
    copy = tmp_path / "bare"
    shutil.copytree(trees["full"] / "prometheus", copy / "prometheus")
    path = copy / "prometheus" / rel
    text = path.read_text()
    # Every rule of that alert (each severity) reads the gauge bare.
    bare, n = re.subn(windowed, r"\1", text)
    assert n >= 1, f"{windowed!r} found nothing in {rel}"
    path.write_text(bare)
    test = "prometheus/" + rel.replace("rules/", "tests/", 1).removesuffix(".yml") + ".test.yml"
    result = promtool("test", "rules", test, cwd=copy)
    assert result.returncode != 0, f"the tests of {rel} still pass with {alert} reading its gauge bare"
    failed = set(re.findall(r"^\s+name: ([^,\n]+),", result.stdout + result.stderr, flags=re.M))
    assert failed and all(alert in f and "one missed scrape" in f for f in failed), failed
