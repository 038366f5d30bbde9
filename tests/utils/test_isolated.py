"""`infrastructure.isolation.Isolated`: conversions in warm worker processes, killed on overrun."""

from __future__ import annotations

import time

import pytest

from infrastructure.isolation import Isolated, IsolatedBusy, IsolatedOutOfMemory, IsolatedTimeout


def echo(value: str) -> str:
    return value.upper()


def raw(size: int) -> bytes:
    return b"\x00" * size


def refuse(value: str) -> str:
    raise ValueError(f"no {value}")


def crash(value: str) -> str:
    raise RuntimeError("library bug")


def spin(value: str) -> str:
    while True:
        pass


def hog(value: str) -> str:
    kept = []
    while True:
        kept.append(bytearray(10**7))


@pytest.fixture
def isolated():
    made: list[Isolated] = []

    def make(fn, timeout_s=5.0, **kwargs):
        made.append(Isolated(fn, timeout_s, **kwargs))
        return made[-1]

    yield make
    for runner in made:
        runner.close()


def test_results_errors_and_a_reused_worker(isolated):
    run = isolated(echo)
    assert run("a") == "A" and run("ß") == "SS"
    assert isolated(raw)(3) == b"\x00\x00\x00"
    refusing = isolated(refuse, slots=1)
    with pytest.raises(ValueError, match="no way"):
        refusing("way")
    worker = refusing._slots.queue[0]
    with pytest.raises(ValueError, match="RuntimeError"):
        isolated(crash)("x")
    with pytest.raises(ValueError):
        refusing("again")
    assert refusing._slots.queue[0] is worker  # an error in the function keeps its worker


def test_overrun_is_killed_and_the_slot_recovers(isolated):
    run = isolated(spin, timeout_s=1, slots=1)
    started = time.monotonic()
    with pytest.raises(IsolatedTimeout):
        run("x")
    assert time.monotonic() - started < 5
    assert run._slots.queue[0] is None  # killed; the next call starts a fresh worker


def test_memory_limit(isolated):
    with pytest.raises(IsolatedOutOfMemory):
        isolated(hog, timeout_s=20, memory_mb=256)("x")


def test_busy_when_every_slot_is_taken(isolated):
    run = isolated(echo, timeout_s=0.2, slots=1)
    run._slots.get()  # someone holds the only slot
    with pytest.raises(IsolatedBusy):
        run("x")
