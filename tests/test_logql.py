"""The LogQL checker itself: Grafana's grammar takes good log and metric queries,
and each kind of typo fails with where it is."""

from __future__ import annotations

import re

import pytest
from logql import parse_errors

SEL = '{service="checkout", env="prod"}'

VALID = [
    # log queries
    SEL,
    f'{SEL} |= "timeout"',
    f'{SEL} |= "foo" | json',
    f'{SEL} |~ "(?i)timeout" != "healthz" !~ "debug"',
    f'{SEL} | logfmt | level="error"',
    f'{SEL} | json | level=~"error|warn", msg!=""',
    f'{SEL} | json | status >= 500 and duration > 1s',
    f'{SEL} | json | __error__=""',
    f'{SEL} | json | line_format "{{{{.level}}}} {{{{.msg}}}}"',
    f'{SEL} | logfmt | line_format `{{{{ .msg | trunc 80 }}}}`',
    f'{SEL} | logfmt | label_format lvl=level',
    f'{SEL} | pattern "<ip> - <_> \\"<method> <path>\\" <status>"',
    f'{SEL} | json msg="message", lvl="level"',
    f'{SEL} | json | keep level, msg',
    '{service="$service"} |= "$search"',     # variables inside strings are fine as they are
    # metric queries
    f'rate({SEL}[5m])',
    f'count_over_time({SEL} |= "error" [1h])',
    f'sum by (level) (count_over_time({SEL} | json [5m]))',
    f'sum(rate({SEL} | logfmt | level="error" [5m])) by (service)',
    f'topk(10, sum by (path) (count_over_time({SEL} | json [1h])))',
    f'quantile_over_time(0.99, {SEL} | logfmt | unwrap duration_seconds(latency) [5m]) by (service)',
    f'avg_over_time({SEL} | json | unwrap bytes | __error__="" [5m])',
    f'sum(rate({SEL} |= "error" [5m])) / sum(rate({SEL}[5m]))',
    f'sum(count_over_time({SEL}[5m])) or vector(0)',
    f'sum(rate({SEL}[5m] offset 1h)) > 0',
]

TYPOS = {
    "unbalanced paren": f'sum by (level) (count_over_time({SEL} | json [5m])',
    "extra closing paren": f'sum(rate({SEL}[5m])))',
    "unknown pipeline stage": f'{SEL} | jsn',
    "unknown stage mid-pipeline": f'{SEL} | jsn | level="error"',
    "unquoted matcher value": '{a=b}',
    "unquoted line filter": f'{SEL} |= timeout',
    "unterminated string": f'{SEL} |= "timeout',
    "missing range": f'sum(rate({SEL} | json))',
    "range without unit": f'rate({SEL}[5])',
    "stray comma in selector": '{a="b",, c="d"}',
    "stray comma in by": f'sum by (level,) (rate({SEL}[5m]))',
    "stray comma after pipeline": f'{SEL} | json, | logfmt',
    "missing comma in topk": f'topk(10 sum(rate({SEL}[5m])))',
    "missing comma in selector": '{a="b" c="d"}',
    "misspelt function": f'cont_over_time({SEL}[5m])',
    "aggregating a log query": f'sum({SEL})',
    "empty selector": '{}',
    "trailing pipe": f'{SEL} | json |',
    "line_format without template": f'{SEL} | line_format',
    "grafana variable left in": f'count_over_time({SEL}[$__auto])',
    "empty": '',
}


def test_valid_queries_parse_clean():
    errors = parse_errors(VALID)
    assert [(q, e) for q, e in zip(VALID, errors) if e is not None] == []


def test_each_typo_is_an_error():
    errors = parse_errors(list(TYPOS.values()))
    assert [name for name, e in zip(TYPOS, errors) if e is None] == []


@pytest.mark.parametrize("expr, offset, marked", [
    ('{a=b}', 3, "{a=⟨b⟩}"),
    (f'{SEL} | jsn', len(SEL) + 6, "| jsn⟨⟩"),
    (f'topk(10,, sum(rate({SEL}[5m])))', 8, "topk(10,⟨,⟩"),
])
def test_error_says_where(expr, offset, marked):
    [error] = parse_errors([expr])
    assert re.match(rf"offset {offset}\b", error), error
    assert marked in error, error


def test_order_and_count_kept():
    exprs = [SEL, '{a=b}', f'rate({SEL}[5m])', f'rate({SEL})'] * 50
    errors = parse_errors(exprs)
    assert [e is None for e in errors] == [True, False, True, False] * 50
