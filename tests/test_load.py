"""load.py: YAML -> plain data with the line of every node, and the problems
that only the YAML level can see (see test_validation.py for the whole contract)."""

from __future__ import annotations

import pytest

from vigil.errors import InventoryError
from vigil.load import MAX_DEPTH, load_text

TEXT = """\
stack:
  name: demo
services:
  - name: checkout
    targets:
      - "checkout:8000"
      - "checkout-2:8000"
  - {name: cart, kind: job}
"""


def test_every_key_and_item_has_its_line():
    doc = load_text(TEXT)
    assert doc.problems == []
    assert doc.data["services"][1] == {"name": "cart", "kind": "job"}
    assert doc.line(("stack",)) == 1
    assert doc.line(("stack", "name")) == 2
    assert doc.line(("services", 0)) == 4
    assert doc.line(("services", 0, "targets", 1)) == 7
    assert doc.line(("services", 1, "kind")) == 8


def test_a_missing_path_falls_back_to_its_nearest_ancestor():
    doc = load_text(TEXT)
    assert doc.line(("services", 0, "team")) == 4
    assert doc.line(("services", 5, "name")) == 3
    assert doc.line(("nowhere",)) == 1


def test_a_problem_is_located_and_formatted():
    p = load_text(TEXT, "inv.yml").problem(("services", 0, "targets", 1), "bad")
    assert str(p) == "inv.yml:7: services[0].targets[1]: bad"


def test_duplicate_keys_are_collected_not_raised():
    """validate() reports them together with everything else."""
    doc = load_text("a: 1\nb: 2\na: 3\n", "inv.yml")
    assert doc.data == {"a": 1, "b": 2}
    assert [str(p) for p in doc.problems] == ["inv.yml:3: a: duplicate key 'a' (first given on line 1)"]


def test_keys_are_read_as_written():
    """`1:` and `yes:` are the strings the user typed, not an int and a boolean."""
    assert load_text("1: a\nyes: b\n~: c\n").data == {"1": "a", "yes": "b", "~": "c"}


def test_a_byte_order_mark_is_fine():
    assert load_text("\ufeffa: 1\n").data == {"a": 1}


def test_aliases_are_expanded():
    doc = load_text("a: &x [1, 2]\nb: *x\n")
    assert doc.data == {"a": [1, 2], "b": [1, 2]}
    assert doc.line(("b",)) == 2


def test_nesting_that_only_aliases_make_too_deep():
    deep = "[" * (MAX_DEPTH - 20) + "]" * (MAX_DEPTH - 20)
    text = f"a: &x {deep}\nb: " + "[" * 30 + "*x" + "]" * 30 + "\n"
    with pytest.raises(InventoryError) as e:
        load_text(text, "inv.yml")
    [p] = e.value.problems
    assert p.line == 1 and p.where.startswith("b[0][0]")   # the too-deep node is written on line 1
    assert p.message == f"nested more than {MAX_DEPTH} levels deep after expanding aliases"


@pytest.mark.parametrize("text", ["a: [1\n", "a: &x [*x]\n", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)])
def test_what_cannot_be_read_at_all_raises(text):
    with pytest.raises(InventoryError) as e:
        load_text(text)
    assert [p.where for p in e.value.problems] == ["(yaml)"]


# ---------------------------------------------------------------- syntax errors: located, with a hint

def _syntax(text: str):
    with pytest.raises(InventoryError) as e:
        load_text(text)
    (p,) = e.value.problems
    return p


@pytest.mark.parametrize("text, line, hint", [
    ("stack:\n  name: demo\nteams:\n  - name: a\n   - name: b\n", 5, "items of one list"),   # one space short
    ("stack:\n\tname: demo\n", 2, "indented with a tab"),
    ("stack:\n  name: demo\n  summary: a: b\n", 3, "needs quotes"),
    ('stack: {name: "demo}\n', 2, "never closed"),
    ('stack: {name: "a\\q"}\n', 1, "backslash starts an escape"),
    ("stack:\n  name: @demo\n", 2, "quote the value"),
])
def test_syntax_errors_say_where_and_how_to_fix(text, line, hint):
    p = _syntax(text)
    assert p.line == line and p.where == "(yaml)", str(p)
    assert p.message.startswith("YAML syntax error: ") and "(hint: " in p.message and hint in p.message, str(p)
