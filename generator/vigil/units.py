"""Prometheus durations and percentages: parsed once, formatted canonically."""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

_UNITS_MS = {"y": 365 * 86400_000, "w": 7 * 86400_000, "d": 86400_000,
             "h": 3600_000, "m": 60_000, "s": 1000, "ms": 1}
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_HINT = "write durations like 30s, 5m, 1h30m or 300ms"


class Duration(int):
    """A Prometheus duration, held as milliseconds; str() gives its canonical form."""

    @classmethod
    def parse(cls, text: object) -> "Duration":
        if not isinstance(text, str):
            raise ValueError(f"expected a duration, got {text!r} ({_HINT})")
        m = _DURATION.fullmatch(text)   # fullmatch: "5m\n" is no duration
        if not text or not m:
            raise ValueError(f"invalid duration {text!r} ({_HINT})")
        units = ("y", "w", "d", "h", "m", "s", "ms")
        return cls(sum(int(v) * _UNITS_MS[u] for u, v in zip(units, m.groups()) if v))

    @property
    def seconds(self) -> float:
        return self / 1000

    def __str__(self) -> str:
        return _format(int(self))

    __repr__ = __str__


@functools.lru_cache(maxsize=4096)   # a few distinct durations, formatted hundreds of thousands of times
def _format(ms: int) -> str:
    if ms == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s", "ms"):  # days, not weeks: "14d" reads as written
        n, ms = divmod(ms, _UNITS_MS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def parse_percent(value: object) -> Decimal:
    """'1%', '99.9%', 1 or 99.9 -> Decimal percent (0..100)."""
    hint = "write a percentage like 1% or 99.9"
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage, got {value!r} ({hint})")
    if isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
    else:
        raise ValueError(f"expected a percentage, got {value!r} ({hint})")
    try:
        pct = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"invalid percentage {value!r} ({hint})") from None
    if not pct.is_finite() or not 0 <= pct <= 100:
        raise ValueError(f"percentage {value!r} is outside 0..100 ({hint})")
    return pct


def percent_text(pct: Decimal) -> str:
    return format(pct.normalize(), "f") + "%"
