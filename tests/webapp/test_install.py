"""`chronicle frontend install` (scripts/frontend.py): the real wheel from the package index (kept
in the wheel cache, so only the first run ever fetches it), and its checks on made-up wheels."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import frontend
from scripts.frontend import default_cache_dir

# Shared with `chronicle frontend install` and scripts/test.sh: reruns reuse the download.
WHEEL_CACHE = Path(os.environ.get("CHRONICLE_TEST_WHEEL_CACHE") or default_cache_dir())
CHRONICLE = str(Path(sys.executable).with_name("chronicle"))


def chronicle(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHRONICLE, *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)


def test_the_real_wheel_installs_only_the_web_app(tmp_path):
    target = tmp_path / "data" / "frontend"
    first = chronicle("frontend", "install", "--version", "0.12.4", "--cache-dir", str(WHEEL_CACHE),
                      DATA_DIR=str(tmp_path / "data"))
    assert first.returncode == 0, first.stderr
    assert "installed in" in first.stderr and "unpacking: 100%" in first.stderr
    assert (target / "index.html").is_file()
    for name in ("loader.js", "custom.css", "splash.png", "favicon.png", "favicon.svg",
                 "favicon.ico", "favicon-96x96.png", "apple-touch-icon.png"):
        assert (target / "static" / name).is_file(), name
    assert any((target / "_app" / "immutable").rglob("*.js"))
    assert not list(target.rglob("*.py")), "nothing of the Python package is unpacked"
    marker = json.loads((target / frontend.MARKER).read_text())
    assert marker["version"] == "0.12.4" and marker["wheel_sha256"] == frontend.KNOWN_WHEELS["0.12.4"]
    assert (target / frontend.LICENSES / "LICENSE").is_file()

    again = chronicle("frontend", "install", "--cache-dir", str(WHEEL_CACHE),
                      DATA_DIR=str(tmp_path / "data"), PIP_INDEX_URL="http://127.0.0.1:9/simple")
    assert again.returncode == 0, again.stderr
    assert "using the cached" in again.stderr and "already installed" in again.stderr


def make_wheel(cache: Path, version: str, files: dict[str, bytes], *, record: dict[str, bytes] | None = None,
               name: str = "open-webui") -> Path:
    """A wheel of the same shape: files, METADATA and a RECORD (of `record` when given, to lie)."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / f"open_webui-{version}-py3-none-any.whl"
    dist = f"open_webui-{version}.dist-info"
    rows = []
    for path, data in (record if record is not None else files).items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path},sha256={digest},{len(data)}")
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{dist}/RECORD", "\n".join(rows + [f"{dist}/RECORD,,"]) + "\n")
    return wheel


APP = {"open_webui/frontend/index.html": b"<html>", "open_webui/frontend/static/loader.js": b"//",
       "open_webui/main.py": b"print()"}


def test_a_cached_wheel_is_used_without_fetching(tmp_path, capsys):
    make_wheel(tmp_path / "cache", "0.0.1", APP)
    assert frontend.run("0.0.1", cache_dir=tmp_path / "cache", target=tmp_path / "app") == 0
    assert sorted(p.name for p in (tmp_path / "app").iterdir()) == [
        ".chronicle-frontend.json", "index.html", "static"]
    assert "using the cached" in capsys.readouterr().err


def test_a_new_version_replaces_the_old_one(tmp_path):
    make_wheel(tmp_path / "cache", "0.0.1", {**APP, "open_webui/frontend/old.txt": b"old"})
    make_wheel(tmp_path / "cache", "0.0.2", APP)
    assert frontend.run("0.0.1", cache_dir=tmp_path / "cache", target=tmp_path / "app") == 0
    assert frontend.run("0.0.2", cache_dir=tmp_path / "cache", target=tmp_path / "app") == 0
    assert not (tmp_path / "app" / "old.txt").exists()
    assert frontend.installed(tmp_path / "app")["version"] == "0.0.2"  # type: ignore[index]
    assert not list(tmp_path.glob("app.*")), "no staging or old copy is left behind"


@pytest.mark.parametrize(("case", "message"), [
    ("changed file", "does not match the wheel's RECORD"),
    ("unlisted file", "is not listed in the wheel's RECORD"),
    ("other package", "not open-webui 0.0.1"),
    ("no index.html", "has no open_webui/frontend/index.html"),
    ("unsafe path", "unsafe path"),
    ("not a zip", "not a readable wheel"),
])
def test_a_wheel_that_fails_a_check_installs_nothing(tmp_path, capsys, case, message):
    cache = tmp_path / "cache"
    files, record, name = dict(APP), None, "open-webui"
    if case == "changed file":
        record = {**APP, "open_webui/frontend/static/loader.js": b"// the original"}
    elif case == "unlisted file":
        record = {k: v for k, v in APP.items() if not k.endswith("loader.js")}
    elif case == "other package":
        name = "not-open-webui"
    elif case == "no index.html":
        files = {k: v for k, v in APP.items() if not k.endswith("index.html")}
    elif case == "unsafe path":
        files = {**APP, "open_webui/frontend/../../evil.txt": b"x"}
    wheel = make_wheel(cache, "0.0.1", files, record=record, name=name)
    if case == "not a zip":
        wheel.write_bytes(b"not a zip")
    assert frontend.run("0.0.1", cache_dir=cache, target=tmp_path / "app") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "app").exists() and not (tmp_path / "app.new").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_a_directory_we_did_not_install_is_not_replaced(tmp_path, capsys):
    make_wheel(tmp_path / "cache", "0.0.1", APP)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "mine.txt").write_text("the operator's")
    assert frontend.run("0.0.1", cache_dir=tmp_path / "cache", target=tmp_path / "app") == 1
    assert "holds something else" in capsys.readouterr().err
    assert (tmp_path / "app" / "mine.txt").exists()
    assert frontend.run("0.0.1", cache_dir=tmp_path / "cache", target=tmp_path / "app", force=True) == 0
    assert not (tmp_path / "app" / "mine.txt").exists()


def test_a_cached_wheel_with_the_wrong_digest_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setitem(frontend.KNOWN_WHEELS, "0.0.1", "0" * 64)
    wheel = make_wheel(tmp_path / "cache", "0.0.1", APP)
    assert frontend.cached_wheel("0.0.1", tmp_path / "cache") is None
    assert not wheel.exists()


def test_offline_is_a_clear_error(tmp_path):
    # An index nobody answers, and no other index from the machine's pip configuration.
    result = chronicle("frontend", "install", "--version", "0.0.1", "--cache-dir", str(tmp_path / "cache"),
                       DATA_DIR=str(tmp_path / "data"), PIP_INDEX_URL="http://127.0.0.1:9/simple",
                       PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS="", PIP_EXTRA_INDEX_URL="")
    assert result.returncode == 1
    assert "pip could not download open-webui==0.0.1" in result.stderr
    assert "reachable" in result.stderr
    assert not (tmp_path / "data" / "frontend").exists()


def test_a_version_is_checked_before_it_reaches_pip(tmp_path, capsys):
    assert frontend.run("1.0; rm -rf /", cache_dir=tmp_path, target=tmp_path / "app") == 1
    assert "not a version" in capsys.readouterr().err
