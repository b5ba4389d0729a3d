"""``benchmarks.broadcast --stall``: the option parses strictly, and a run with a stall does stall its target and
still delivers every message once (its figures are the benchmark's, not checked here)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.broadcast import Stall, _stall, run_one


def test_the_stall_option_parses_strictly() -> None:
    assert _stall("bot:0.5@3000") == Stall("bot", 0.5, 3000)
    assert _stall("fake:0.05@0") == Stall("fake", 0.05, 0)
    for bad in ("bot", "bot:0.5", "bot:x@3", "cpu:0.5@3", "loop:0@3", "loop:0.5@-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            _stall(bad)


@pytest.mark.parametrize("target", ["loop", "fake"])
async def test_a_run_with_a_stall_stalls_and_delivers_every_message_once(target: str) -> None:
    result = await run_one(200, 1000.0, "fake", 60.0, stall=Stall(target, 0.05, 50))
    assert result["stall"]["happened"] and result["stall"]["target"] == target
    assert result["delivered"] == 200 and result["duplicates"] == 0 and result["lost"] == 0
