"""The workspace fixtures (one server per backend and module), and the test language model
server in its own process (tests/llm_server.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.models.conftest import (  # noqa: F401
    backend,
    client,
    container,
    fresh,
    installation,
    people,
    permissions,
)

KEY = "sk-test-upstream-key"


@dataclass(frozen=True)
class Upstream:
    port: int

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ollama_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_llm_server(*args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--port", "0", *args],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("port "), line
    return process, int(line.split()[1])


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    process, port = start_llm_server("--key", KEY, "--slow", "0.3")
    yield Upstream(port)
    process.terminate()
    process.wait(10)
