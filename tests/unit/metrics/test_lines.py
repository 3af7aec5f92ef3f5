from __future__ import annotations

import io
import math

import pytest

from kubetune.api.sources import MetricsSource
from kubetune.engine import Report
from kubetune.metrics.lines import (
    BadValue,
    build_parser,
    keyvalue_parser,
    parse_kubetune,
    regex_parser,
)
from kubetune.sdk import format_report, report


def test_the_sdk_line_parses_back_to_the_same_report() -> None:
    out = io.StringIO()
    report(step=3, accuracy=0.91, loss=0.2, file=out)
    assert parse_kubetune(out.getvalue()) == Report(step=3, metrics={"accuracy": 0.91, "loss": 0.2})


def test_a_report_without_step_parses_with_none() -> None:
    assert parse_kubetune(format_report(None, {"accuracy": 1})) == Report(None, {"accuracy": 1.0})


@pytest.mark.parametrize("value", [math.nan, math.inf, "high", True])
def test_the_sdk_refuses_values_a_tuner_cannot_compare(value: object) -> None:
    with pytest.raises(ValueError, match="accuracy"):
        format_report(1, {"accuracy": value})  # type: ignore[dict-item]


def test_the_sdk_refuses_a_negative_step_and_no_metrics() -> None:
    with pytest.raises(ValueError, match="step"):
        format_report(-1, {"a": 1.0})
    with pytest.raises(ValueError, match="at least one metric"):
        format_report(1, {})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('kubetune-report {"metrics": {"accuracy": "NaN"}}', "NaN"),
        ('kubetune-report {"metrics": {"accuracy": "Infinity"}}', "infinite"),
        ('kubetune-report {"metrics": {"accuracy": "abc"}}', "not a number"),
        ('kubetune-report {"metrics": {"accuracy": true}}', "boolean"),
        ("kubetune-report {not json", "not JSON after 'kubetune-report': Expecting property name"),
        ('kubetune-report {"metrics": {}}', 'expected {"metrics": {"name": number'),
        ("kubetune-report " + "[" * 100_000, "not JSON"),  # too deep for the parser
    ],
)
def test_a_garbled_kubetune_line_is_a_bad_value_with_a_reason(line: str, reason: str) -> None:
    parsed = parse_kubetune(line)
    assert isinstance(parsed, BadValue)
    assert reason in str(parsed)


def test_ordinary_log_lines_are_not_reports() -> None:
    assert parse_kubetune("epoch 3 accuracy 0.5") is None
    assert keyvalue_parser({"accuracy"})("Downloading data...") is None


def test_keyvalue_reads_only_the_studys_metrics_and_the_step() -> None:
    parse = keyvalue_parser({"accuracy", "loss"})
    assert parse("epoch=4 accuracy=0.9, loss: 0.25 lr=0.1") == Report(
        4, {"accuracy": 0.9, "loss": 0.25}
    )
    assert parse("lr=0.1 momentum=0.9") is None


def test_keyvalue_flags_a_non_numeric_value_of_a_known_metric() -> None:
    parsed = keyvalue_parser({"accuracy"})("accuracy=nan")
    assert isinstance(parsed, BadValue) and parsed.metric == "accuracy"


def test_keyvalue_still_understands_sdk_lines() -> None:
    assert keyvalue_parser({"a"})(format_report(2, {"a": 1.0})) == Report(2, {"a": 1.0})


def test_a_user_regex_with_step_group() -> None:
    parse = regex_parser(r"\[(?P<step>\d+)\] (?P<name>\w+) -> (?P<value>\S+)", {"f1"})
    assert parse("[7] f1 -> 0.82") == Report(7, {"f1": 0.82})
    assert parse("[7] other -> 1") is None


def test_the_parser_follows_the_spec_format() -> None:
    assert build_parser(MetricsSource(), {"a"}) is parse_kubetune
    parse = build_parser(MetricsSource(format="keyvalue"), {"a"})
    assert parse("a=1") == Report(None, {"a": 1.0})
