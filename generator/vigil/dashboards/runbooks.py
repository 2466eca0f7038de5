"""Runbooks (uid vigil-runbooks): for every alert Vigil renders, what it means and
what to look at first — Vigil's own alerts from runbooks.all_runbooks(), the inventory's
custom rules from their summary, description and expression. Alerts link here
(`?viewPanel=`, its own panel: runbooks.link) unless their service or the stack names other runbooks.
"""

from __future__ import annotations

from ..inventory import Inventory
from ..runbooks import DASHBOARD, all_runbooks, panel_id, panel_title
from .builder import Dashboard, Row, text
from .common import nav, tags

def _vigil(name: str, book) -> str:
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(book.check, 1))
    return f"{book.means}\n\n**Look at first**\n\n{steps}\n"


def _custom(service: str, team: str, rule) -> str:
    lines = [f"Custom rule of **{service}** (team {team}), severity {rule.severity}.", "", rule.summary]
    if rule.description:
        lines += ["", rule.description]
    lines += ["", "**Fires when**", "", "```", rule.expr.strip(), "```"]
    if str(rule.for_) != "0s":
        lines.append(f"for {rule.for_}.")
    return "\n".join(lines) + "\n"


def dashboard(inventory: Inventory) -> Dashboard:
    books = all_runbooks()
    custom = [(panel_title(r.alert, s.name), _custom(s.name, s.team, r)) for s in inventory.services for r in s.rules]
    index = ", ".join(sorted(books)) + (", " + ", ".join(t for t, _ in custom) if custom else "")
    rows = [Row("Vigil's alerts", (text("Every alert", f"{index}\n", width=24, height=3),
                                   *(text(name, _vigil(name, books[name]), width=12, height=9, id=panel_id(name))
                                     for name in sorted(books))))]
    if custom:
        rows.append(Row("Your alerts", tuple(text(title, body, width=12, height=9, id=panel_id(title))
                                              for title, body in custom)))
    return Dashboard(uid=DASHBOARD, title="Runbooks", tags=tags("runbooks"), rows=tuple(rows), links=nav(),
                     description="What each alert means and what to look at first")
