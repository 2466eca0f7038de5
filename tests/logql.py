"""LogQL checked with Grafana's own grammar: @grafana/lezer-logql (the parser of
Grafana's Loki query editor), pinned in tests/logql/package.json, run by node
through tests/logql/check.mjs. Loki itself does not run in the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "logql"
CHECK = HERE / "check.mjs"
INSTALL = ("install node and the pinned grammar: `apt-get install nodejs npm` (unless a node is "
           "already on PATH), then `npm ci --prefix tests/logql` from the repository root; or run "
           "`make test`, which does both (the apt step on Debian as root)")


def parse_errors(exprs: list[str]) -> list[str | None]:
    """Parse every LogQL expression with Grafana's grammar, in one node process.

    Returns, in the same order, None for an expression that parses clean, or a
    message with the 0-based offset of the first syntax error and the text
    around it (the error marked ⟨…⟩).

    Grafana template variables are not LogQL: callers substitute them first,
    the way Grafana would before sending the query, e.g. `[$__auto]` or
    `[$__interval]` -> `[1m]`, `$__range` -> `1h`. Variables inside string
    literals (`{service="$service"}`, `|= "$search"`) parse as they are.

    Syntax only: what Loki refuses on meaning (a selector of only negative
    matchers such as `{a!="b"}`, `unwrap` under count_over_time, a broken
    line_format template) parses clean here.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: {INSTALL}", pytrace=False)
    if not (HERE / "node_modules" / "@grafana" / "lezer-logql").is_dir():
        pytest.fail(f"{HERE / 'node_modules'} is missing (or incomplete): {INSTALL}", pytrace=False)
    result = subprocess.run([node, str(CHECK)], input=json.dumps(list(exprs)), cwd=HERE,
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        pytest.fail(f"{CHECK.name} failed (exit {result.returncode}):\n{result.stderr}", pytrace=False)
    errors = json.loads(result.stdout)
    assert len(errors) == len(exprs), (len(errors), len(exprs))
    return errors
