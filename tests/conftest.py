"""Shared fixtures: the repository, the real tools, rendering an inventory into a temp dir."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.check import INSTALL

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def tool(name: str) -> str:
    """Path of a real binary; a missing one fails the test, saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: {INSTALL}", pytrace=False)
    return path


# Only catches a hang: `vigil check` of a full tree runs promtool for ~40 s of CPU, several times
# that on a busy machine.
VIGIL_TIMEOUT = 600


def run_vigil(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, in a separate process (env: its whole environment)."""
    return subprocess.run([sys.executable, "-m", "vigil", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=VIGIL_TIMEOUT, env=env)


def render_tree(inventory: Path, out: Path) -> Path:
    result = run_vigil("generate", "-i", str(inventory), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


# A hang guard, not a speed check: a drawn inventory evaluated every second took over 600 s of promtool on a
# machine running a second suite beside it.
PROMTOOL_TIMEOUT = 1200


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=PROMTOOL_TIMEOUT)


def rule_tests(tree: Path) -> list[str]:
    return sorted(str(p.relative_to(tree)) for p in (tree / "prometheus" / "tests").rglob("*.test.yml"))


@pytest.fixture
def tmp_tree(tmp_path: Path) -> Path:
    return tmp_path / "out"


# A user rule whose expression promtool refuses (validate does not parse PromQL), to go under a
# service's `kind: http` line: the change `vigil reload` and `make reload` must not apply.
REFUSED_RULE = """\
    rules:
      - alert: QueueBacklog
        expr: "rate(queue_depth[5m]"
        summary: never loads
"""


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root and its bytes: a tree to compare before and after."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
