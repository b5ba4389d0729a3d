"""The button-payload codec: round trips, size limit, and forged or malformed payloads."""

from __future__ import annotations

import pytest

from bot.core.callbacks import Callback, CallbackData

SUB = CallbackData("sub")


def test_pack_and_parse_round_trip() -> None:
    data = SUB("kp", "64", 3)
    assert data == "sub:kp:64:3"
    cb = SUB.parse(data)
    assert cb == Callback("kp", ("64", "3"))
    assert cb is not None and cb.is_("kp", 2) and cb.arg(0) == "64" and cb.int_arg(1) == 3
    assert cb.arg(2) is None and cb.int_arg(0) == 64 and not cb.is_("kp", 1)


@pytest.mark.parametrize(
    "data",
    [None, "", "sub", "sub:", "bc:ok", "sub::x", "sub:r:", "subx:r:1", "sub:" + "x" * 70],
)
def test_malformed_or_foreign_payloads_parse_to_none(data: str | None) -> None:
    assert SUB.parse(data) is None


def test_non_decimal_arguments_are_not_integers() -> None:
    cb = SUB.parse("sub:pp:-1")
    assert cb is not None and cb.int_arg(0) is None
    cb = SUB.parse("sub:pp:٣")  # an Arabic-Indic digit: isdecimal() but not a page number we made
    assert cb is not None and cb.int_arg(0) is None


@pytest.mark.parametrize("args", [("a:b",), ("",), ("x" * 64,)])
def test_packing_refuses_what_could_not_be_parsed_back(args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        SUB("r", *args)


def test_a_prefix_with_the_separator_is_refused() -> None:
    with pytest.raises(ValueError):
        CallbackData("a:b")
