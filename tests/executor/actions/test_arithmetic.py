"""Tests of the arithmetic actions (docs/flows.md §10.5)."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flomation.executor.actions.arithmetic import addition, division, multiplication, subtraction
from flomation.executor.actions.arithmetic._operands import format_number
from flomation.executor.actions.base import HardError

MakeCtx = Callable[..., Any]


def test_addition_of_integers(make_ctx: MakeCtx) -> None:
    """10 + 32 gives answer "42", answer_int 42 and a readable tool_result; nothing else."""
    ctx = make_ctx(("a", "integer", 10), ("b", "integer", 32))
    assert addition.run(ctx) == {"answer": "42", "answer_int": 42, "tool_result": "10 + 32 = 42"}


def test_subtraction_and_multiplication_symbols(make_ctx: MakeCtx) -> None:
    """Subtraction prints the minus sign U+2212 and multiplication "×" in tool_result.

    Upstream: flomation-co/executor actions/arithmetic/subtraction/action.go ("%s − %s = %s").
    """
    ctx = make_ctx(("a", "integer", 50), ("b", "integer", 8))
    assert subtraction.run(ctx)["tool_result"] == "50 \u2212 8 = 42"
    ctx = make_ctx(("a", "integer", 6), ("b", "integer", 7))
    assert multiplication.run(ctx)["tool_result"] == "6 × 7 = 42"


def test_decimal_strings_are_operands(make_ctx: MakeCtx) -> None:
    """Decimal text (trimmed) is parsed and IEEE noise is trimmed: 200.08 × 0.40 = 80.032."""
    ctx = make_ctx(("a", "string", " 200.08 "), ("b", "integer", "0.40"))
    outputs = multiplication.run(ctx)
    assert outputs == {"answer": "80.032", "answer_int": 80, "tool_result": "200.08 × 0.4 = 80.032"}


def test_exponent_text_and_negative_result(make_ctx: MakeCtx) -> None:
    """``-2e3`` parses; a negative fractional answer truncates toward zero in answer_int."""
    ctx = make_ctx(("a", "integer", "-2e3"), ("b", "integer", 0.5))
    assert addition.run(ctx) == {
        "answer": "-1999.5",
        "answer_int": -1999,
        "tool_result": "-2000 + 0.5 = -1999.5",
    }


def test_division_with_numerator_and_denominator(make_ctx: MakeCtx) -> None:
    """84 ÷ 2 = 42 using the named inputs."""
    ctx = make_ctx(("numerator", "integer", 84), ("denominator", "integer", 2))
    assert division.run(ctx) == {"answer": "42", "answer_int": 42, "tool_result": "84 ÷ 2 = 42"}


def test_division_reads_only_numerator_and_denominator(make_ctx: MakeCtx) -> None:
    """Inputs ``a`` and ``b`` are not division's operands: the numerator is missing.

    Upstream: flomation-co/executor actions/arithmetic/division/action.go reads only
    numerator and denominator.
    """
    ctx = make_ctx(("a", "integer", 1), ("b", "integer", 3), ("denominator", "string", "3"))
    with pytest.raises(HardError) as caught:
        division.run(ctx)
    assert caught.value.message == 'arithmetic: input "numerator" is missing'
    ctx = make_ctx(("numerator", "string", "1"), ("denominator", "string", "3"))
    assert division.run(ctx)["answer"] == "0.3333333333"


def test_division_by_zero_is_a_hard_error(make_ctx: MakeCtx) -> None:
    """A zero denominator (also as text) raises upstream's ``division: denominator cannot be zero``.

    Upstream: flomation-co/executor actions/arithmetic/division/action.go.
    """
    ctx = make_ctx(("numerator", "integer", 1), ("denominator", "string", " 0.0 "))
    with pytest.raises(HardError, match=r"^division: denominator cannot be zero$"):
        division.run(ctx)


def test_operands_are_optional_text_inputs() -> None:
    """Every operand is declared as an optional ``string`` input, as upstream's are.

    Upstream: flomation-co/executor actions/arithmetic/*/action.go (ConnectionTypeString, no
    Required), so an editor's text operands validate.
    """
    for action in (addition, subtraction, multiplication, division):
        assert {(item.type, bool(item.required)) for item in action.SPEC.inputs} == {
            ("string", False)
        }


def test_division_reports_the_missing_named_input(make_ctx: MakeCtx) -> None:
    """Without numerator, the error names ``numerator``."""
    ctx = make_ctx(("denominator", "integer", 2))
    with pytest.raises(HardError) as caught:
        division.run(ctx)
    assert caught.value.message == 'arithmetic: input "numerator" is missing'


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("b", "integer", 1)], 'arithmetic: input "a" is missing'),
        ([("a", "integer", None), ("b", "integer", 1)], 'arithmetic: input "a" has no value'),
        ([("a", "string", "   "), ("b", "integer", 1)], 'arithmetic: input "a" is empty'),
        (
            [("a", "integer", 1), ("b", "string", "12abc")],
            'arithmetic: input "b" is not a number: "12abc"',
        ),
        (
            [("a", "string", "0x10"), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: "0x10"',
        ),
        (
            [("a", "string", "1_000"), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: "1_000"',
        ),
        (
            [("a", "string", "NaN"), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: "NaN"',
        ),
        (
            [("a", "string", "1e400"), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: "1e400"',
        ),
        (
            [("a", "string", 'a"b\n'), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: "a\\"b"',
        ),
        (
            [("a", "boolean", True), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: true',
        ),
        (
            [("a", "object", [1]), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: [1]',
        ),
        (
            [("a", "object", {"x": 1}), ("b", "integer", 1)],
            'arithmetic: input "a" is not a number: map[x:1]',
        ),
        (
            [("a", "integer", 1e308), ("b", "integer", 1e308)],
            "arithmetic: result is not a finite number",
        ),
        (
            [("a", "integer", 10**400), ("b", "integer", 1)],
            "arithmetic: result is not a finite number",
        ),
    ],
)
def test_operand_errors_are_hard_errors(
    make_ctx: MakeCtx, rows: list[tuple[str, str, Any]], message: str
) -> None:
    """Every operand problem raises a hard error with upstream's text.

    A value that is neither a number nor text is named unquoted (its %v), as
    flomation-co/executor actions/arithmetic/common.go (ParseNumber) does.
    """
    with pytest.raises(HardError) as caught:
        addition.run(make_ctx(*rows))
    assert caught.value.message == message
    assert caught.value.outputs is None


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (42.0, "42"),
        (-0.0, "0"),
        (80.03200000000001, "80.032"),
        (0.1 + 0.2, "0.3"),
        (1e15, "1000000000000000"),
        (1e20, "100000000000000000000"),
        (2.5e-11, "0"),
        (123456789012345.5, "123456789012345.5"),
    ],
)
def test_format_number_examples(number: float, text: str) -> None:
    """Integral values print as integers; others use 10 decimals with trailing zeros removed."""
    assert format_number(number) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_is_fixed_notation_within_1e_minus_10(number: float) -> None:
    """Formatting never uses exponent notation and is within 5e-11 of the value."""
    text = format_number(number)
    assert "e" not in text and "E" not in text
    assert abs(Decimal(text) - Decimal(number)) <= Decimal("5e-11")
    assert not text.endswith(".") and not (("." in text) and text.endswith("0"))


# make_ctx is a stateless factory, so sharing it between examples is safe.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(-(10**12), 10**12))
def test_integer_addition_is_exact(make_ctx: MakeCtx, a: int, b: int) -> None:
    """Integers well inside float64 add exactly and print as integers."""
    outputs = addition.run(make_ctx(("a", "integer", a), ("b", "integer", b)))
    assert outputs["answer"] == str(a + b)
    assert outputs["answer_int"] == a + b
    assert math.isfinite(float(outputs["answer"]))
