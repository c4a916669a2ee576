"""Go ``flag`` package parsing rules (docs/flows.md §2.1)."""

from __future__ import annotations

import pytest

from flomation.executor.flags import FlagError, HelpRequested, parse_flags, usage_text


def test_single_and_double_dash_are_equivalent() -> None:
    """-name and --name set the same flag."""
    assert parse_flags(["-path", "a"])["path"] == "a"
    assert parse_flags(["--path", "a"])["path"] == "a"


def test_equals_form_and_empty_values() -> None:
    """--name=value equals --name value; empty values are legal in both forms."""
    assert parse_flags(["--entry=x"])["entry"] == "x"
    assert parse_flags(["--entry", ""])["entry"] == ""
    assert parse_flags(["--entry="])["entry"] == ""
    assert parse_flags(["--path=a=b"])["path"] == "a=b"


def test_defaults() -> None:
    """Unset flags keep their defaults."""
    values = parse_flags([])
    assert values["api"] == "https://api.flomation.app"
    assert values["environment"] == "default"
    assert values["runner"] == "local"
    assert values["output"] == "default"
    assert values["version"] is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1", True),
        ("t", True),
        ("T", True),
        ("TRUE", True),
        ("True", True),
        ("false", False),
        ("0", False),
        ("f", False),
        ("F", False),
        ("FALSE", False),
        ("False", False),
    ],
)
def test_boolean_values_with_equals(text: str, expected: bool) -> None:
    """Boolean flags accept Go's ParseBool spellings after '='."""
    assert parse_flags([f"--version={text}"])["version"] is expected


def test_boolean_flag_does_not_consume_the_next_argument() -> None:
    """--version false means true followed by the positional 'false' (parsing stops)."""
    values = parse_flags(["--version", "false", "--path", "x"])
    assert values["version"] is True
    assert values["path"] == ""


def test_bad_boolean_value() -> None:
    """An unknown boolean spelling is the Go error text."""
    with pytest.raises(FlagError, match=r'^invalid boolean value "yes" for -debug: parse error$'):
        parse_flags(["--debug=yes"])


def test_bad_boolean_value_is_quoted_as_go_quotes_it() -> None:
    """The value in the bad-boolean error is Go's %q: control characters escaped (flag.go)."""
    with pytest.raises(
        FlagError, match=r'^invalid boolean value "y\\t\\"s\\x01" for -debug: parse error$'
    ):
        parse_flags(['--debug=y\t"s\x01'])


def test_last_repetition_wins() -> None:
    """A flag given twice keeps its last value."""
    assert parse_flags(["--path", "a", "-path=b"])["path"] == "b"


def test_parsing_stops_at_non_flags_and_double_dash() -> None:
    """The first non-flag argument, a bare '-' or '--' ends parsing; the rest is ignored."""
    assert parse_flags(["x", "--path", "a"])["path"] == ""
    assert parse_flags(["-", "--path", "a"])["path"] == ""
    assert parse_flags(["--", "--bogus"])["path"] == ""
    assert parse_flags(["--path", "a", "--", "--path", "b"])["path"] == "a"


def test_unknown_flag() -> None:
    """An undefined flag is 'flag provided but not defined: -<name>' with exit code 2."""
    with pytest.raises(FlagError, match=r"^flag provided but not defined: -bogus$") as caught:
        parse_flags(["--bogus=1"])
    assert caught.value.exit_code == 2


def test_missing_value() -> None:
    """A string flag at the end of the arguments needs a value."""
    with pytest.raises(FlagError, match=r"^flag needs an argument: -path$"):
        parse_flags(["--path"])


def test_bad_flag_syntax() -> None:
    """Three dashes or '-=' are bad flag syntax."""
    with pytest.raises(FlagError, match=r"^bad flag syntax: ---path$"):
        parse_flags(["---path"])
    with pytest.raises(FlagError, match=r"^bad flag syntax: -=x$"):
        parse_flags(["-=x"])


@pytest.mark.parametrize("spelling", ["-h", "--help", "-help"])
def test_help_exits_zero(spelling: str) -> None:
    """-h, -help and --help request the usage text with exit code 0."""
    with pytest.raises(HelpRequested) as caught:
        parse_flags([spelling])
    assert caught.value.exit_code == 0


def test_usage_lists_every_flag() -> None:
    """The usage text starts with the Go header and names every flag."""
    text = usage_text()
    assert text.startswith("Usage of flomation-executor:\n")
    for name in ("api", "checkpoint", "debug", "trigger-data", "version", "manifest"):
        assert f"  -{name}" in text
