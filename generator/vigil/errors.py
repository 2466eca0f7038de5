"""Located problems with the inventory, reported all at once."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

Path = tuple  # keys and indices from the document root, e.g. ("services", 3, "team")


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).isprintable() or any(c.isspace() for c in str(part)):
            out += f"[{str(part)!r}]"   # a key with a newline or tab in it: shown, on one line
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.message}"


class InventoryError(Exception):
    """The inventory is invalid; `problems` says every way it is."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(map(str, self.problems)))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
