"""`chronicle export` / `chronicle import`: a store exported and imported into an empty one gives
identical read models; importing again changes nothing; a tampered or contradicting file is
refused with nothing written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.helpers import signup
from tests.operations.helpers import (
    COMMANDS,
    World,
    chronicle,
    perform,
    read_models,
    wait_all,
    world,
)

FEW = settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck),
               phases=[Phase.explicit, Phase.generate])


def export(w: World, path: Path) -> list[dict[str, Any]]:
    result = chronicle(w.env, "export", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in path.read_text().splitlines()]


def import_(w: World, path: Path) -> Any:
    return chronicle(w.env, "import", str(path))


def vault(w: World) -> list[dict[str, Any]]:
    return w.container.vault.query("SELECT owner, erased_at FROM data_keys ORDER BY owner")


@FEW
@given(commands=st.lists(COMMANDS, min_size=1, max_size=12))
def test_export_then_import_into_an_empty_store_gives_identical_read_models(
        backend: str, tmp_path: Path, commands: list[tuple[Any, ...]]) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.ndjson"
    with world(backend) as source:
        for command in commands:
            perform(source, command)
        wait_all(source.container)
        lines = export(source, path)
        expected = read_models(source.container)
        assert lines[0]["kind"] == "header" and lines[-1]["kind"] == "trailer"
        assert lines[-1]["events"] == source.container.store.head()
        with world(backend, secret=source.env["WEBUI_SECRET_KEY"], populate=False) as target:
            result = import_(target, path)
            assert result.returncode == 0, result.stderr
            assert f"imported {lines[-1]['events']} events" in result.stderr
            wait_all(target.container)
            positions = [e["position"] for e in lines if e["kind"] == "event"]
            assert [r.id for r in target.container.store.select(0, 10**6)] == positions
            assert read_models(target.container) == expected
            assert vault(target) == vault(source)
            again = import_(target, path)
            assert again.returncode == 0, again.stderr
            assert f"imported 0 events ({len(positions)} already present)" in again.stderr
            assert target.container.store.head() == positions[-1]
            wait_all(target.container)
            assert read_models(target.container) == expected


@pytest.fixture
def exported(backend: str, tmp_path: Path) -> Iterator[tuple[World, list[str]]]:
    """A populated store and its export's lines."""
    with world(backend) as source:
        for command in [("chat", 0, ["apple"]), ("chat", 1, ["pear", "fig"]), ("tag", 1, "work"),
                        ("profile", 2, "Bo")]:
            perform(source, command)
        export(source, tmp_path / "clean.ndjson")
        yield source, (tmp_path / "clean.ndjson").read_text().splitlines(keepends=True)


def _edit(lines: list[str], index: int, **changes: Any) -> list[str]:
    record = json.loads(lines[index])
    record.update(changes)
    return [*lines[:index], json.dumps(record) + "\n", *lines[index + 1:]]


def _event_line(lines: list[str], nth: int) -> int:
    events = [i for i, line in enumerate(lines) if '"kind":"event"' in line]
    return events[nth]


def _flip(text: str) -> str:
    return ("B" if text[10] == "A" else "A").join((text[:10], text[11:]))


TAMPERS = {
    "altered state": lambda ls: _edit(ls, _event_line(ls, 3),
                                      state=_flip(json.loads(ls[_event_line(ls, 3)])["state"])),
    "altered checksum": lambda ls: _edit(ls, _event_line(ls, 2), checksum="0" * 64),
    "altered position": lambda ls: _edit(ls, _event_line(ls, 2), position=10**9),
    "dropped event": lambda ls: ls[:_event_line(ls, 4)] + ls[_event_line(ls, 4) + 1:],
    "dropped key": lambda ls: ls[:1] + ls[2:],
    "reordered events": lambda ls: (ls[:_event_line(ls, 1)] + [ls[_event_line(ls, 2)],
                                                                 ls[_event_line(ls, 1)]]
                                    + ls[_event_line(ls, 2) + 1:]),
    "truncated": lambda ls: ls[:-1],
    "cut mid-line": lambda ls: ls[:-2] + [ls[-2][:40]],
    "not json": lambda ls: ["garbage\n", *ls],
}


def test_a_tampered_file_is_refused_and_nothing_is_written(
        backend: str, tmp_path: Path, exported: tuple[World, list[str]]) -> None:
    source, lines = exported
    with world(backend, secret=source.env["WEBUI_SECRET_KEY"], populate=False) as target:
        for name, tamper in TAMPERS.items():
            path = tmp_path / f"{name.replace(' ', '-')}.ndjson"
            path.write_text("".join(tamper(list(lines))))
            result = import_(target, path)
            assert result.returncode == 1, (name, result.stderr)
            assert "refused, nothing was written" in result.stderr, (name, result.stderr)
            assert target.container.store.head() == 0 and vault(target) == [], name
        clean = tmp_path / "clean.ndjson"
        assert import_(target, clean).returncode == 0  # the untouched file imports
    with world(backend, populate=False) as stranger:  # another WEBUI_SECRET_KEY
        result = import_(stranger, clean)
        assert result.returncode == 1 and "another WEBUI_SECRET_KEY" in result.stderr
        assert stranger.container.store.head() == 0 and vault(stranger) == []


def test_importing_into_the_store_it_came_from_changes_nothing(
        tmp_path: Path, exported: tuple[World, list[str]]) -> None:
    source, _ = exported
    head, before = source.container.store.head(), read_models(source.container)
    result = import_(source, tmp_path / "clean.ndjson")
    assert result.returncode == 0, result.stderr
    assert "imported 0 events" in result.stderr
    assert source.container.store.head() == head and read_models(source.container) == before


def test_an_event_already_present_with_other_bytes_is_a_conflict(
        backend: str, tmp_path: Path) -> None:
    """Two stores sharing a secret both claimed the same e-mail (a deterministic aggregate id)."""
    secret = "shared-" + uuid.uuid4().hex
    paths = []
    for name in ("one", "two"):
        with world(backend, secret=secret, populate=False) as source:
            signup(source.client, "Admin", "admin@example.org")
            paths.append(tmp_path / f"{name}.ndjson")
            export(source, paths[-1])
    with world(backend, secret=secret, populate=False) as target:
        assert import_(target, paths[0]).returncode == 0
        head = target.container.store.head()
        result = import_(target, paths[1])
        assert result.returncode == 1, result.stderr
        assert "already here with other contents" in result.stderr
        assert target.container.store.head() == head
