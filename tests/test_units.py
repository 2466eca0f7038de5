"""Durations, percentages and the Go template replica the rule tests rely on."""

from decimal import Decimal

import pytest

from vigil.humanize import expand, humanize, humanize_duration, humanize_percentage
from vigil.units import Duration, parse_percent


@pytest.mark.parametrize("text,ms,canonical", [
    ("15s", 15_000, "15s"), ("90s", 90_000, "1m30s"), ("1h30m", 5_400_000, "1h30m"),
    ("300ms", 300, "300ms"), ("2w", 14 * 86_400_000, "14d"), ("1y", 365 * 86_400_000, "365d"), ("0s", 0, "0s"),
])
def test_durations(text, ms, canonical):
    d = Duration.parse(text)
    assert d == ms and str(d) == canonical and Duration.parse(str(d)) == d


@pytest.mark.parametrize("bad", ["", "5", "5 m", "1.5s", "-1s", "5mins", "1m1h", 5, None, True])
def test_bad_durations_say_how_to_write_one(bad):
    with pytest.raises(ValueError, match="30s, 5m"):
        Duration.parse(bad)


@pytest.mark.parametrize("value,pct", [
    ("1%", Decimal(1)), (99.9, Decimal("99.9")), ("0.5 %", Decimal("0.5")), (100, Decimal(100)),
    ("99.95%", Decimal("99.95")),
])
def test_percentages_are_exact(value, pct):
    assert parse_percent(value) == pct and str(parse_percent(value) / 100) == str(pct / 100)


@pytest.mark.parametrize("bad", ["120%", "-1%", "abc", "nan", "inf", True, None, [1]])
def test_bad_percentages(bad):
    with pytest.raises(ValueError, match="percentage"):
        parse_percent(bad)


@pytest.mark.parametrize("fn,value,text", [
    # Expected strings are what Prometheus 2.42's template functions print.
    (humanize_duration, 0.975, "975ms"), (humanize_duration, 1.95, "1.95s"), (humanize_duration, 90, "1m 30s"),
    (humanize_duration, 129600, "1d 12h 0m 0s"), (humanize_duration, 0, "0s"), (humanize_duration, 0.0005, "500us"),
    (humanize_percentage, 0.055, "5.5%"), (humanize_percentage, 0.1, "10%"), (humanize_percentage, 1 / 3, "33.33%"),
    (humanize, 1234567, "1.235M"), (humanize, 150, "150"), (humanize, 0.25, "250m"),
])
def test_humanize_matches_prometheus(fn, value, text):
    assert fn(value) == text


def test_expand_fills_labels_and_values_and_refuses_the_rest():
    assert expand("{{ $labels.instance }} at {{ $value | humanizePercentage }}", {"instance": "a:1"}, 0.5) \
        == "a:1 at 50%"
    with pytest.raises(ValueError):
        expand("{{ $value | humanize }}", {}, None)
    with pytest.raises(ValueError):
        expand("{{ range . }}", {}, 1)


@pytest.mark.parametrize("value,text", [
    # What promtool 2.42 printed for `{{ $value }}` with these sample values.
    (1067, "1067"), (123456, "123456"), (1234567, "1.234567e+06"), (1e6, "1e+06"), (0.1, "0.1"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (123456789, "1.23456789e+08"), (1.5e21, "1.5e+21"),
    (-3.25, "-3.25"), (12345678901, "1.2345678901e+10"), (0.000123456, "0.000123456"),
])
def test_plain_value_prints_as_go_does(value, text):
    assert expand("{{ $value }}", {}, value) == text
