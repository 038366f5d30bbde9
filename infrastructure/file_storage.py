"""Local-disk, content-addressed file storage (the FileStorage port; an S3-style one can follow).

Blobs live at DATA_DIR/uploads/sha256/ab/cd/<digest>: the name is the sha256 of the bytes, so the
same bytes are stored once and a file name chosen by a user never reaches the file system. Writes
stream into a temporary file in the same directory tree (hashing and counting as they go), fsync,
then os.replace: a reader never sees a partial blob and a crash leaves at most a temp file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from application.ports import TooLarge

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class LocalFileStorage:
    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):  # never a path from outside the store
            raise ValueError("not a sha256 digest")
        return self.root / "sha256" / digest[:2] / digest[2:4] / digest

    def key(self, digest: str) -> str:
        return str(self._path(digest).relative_to(self.root))

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> tuple[str, int]:
        sha = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"more than {max_bytes} bytes")
                    sha.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = sha.hexdigest()
            target = self._path(digest)
            if target.exists():
                os.utime(target)  # fresh again: a pending clean-up must keep it (see age())
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, data: bytes) -> str:
        return self.put_stream([data])[0]

    def get(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    def open(self, digest: str) -> BinaryIO:
        return self._path(digest).open("rb")

    def local_path(self, digest: str) -> str | None:
        path = self._path(digest)
        return str(path) if path.exists() else None

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def age(self, digest: str) -> float | None:
        try:
            return time.time() - self._path(digest).stat().st_mtime
        except FileNotFoundError:
            return None

    def delete(self, digest: str) -> bool:
        path = self._path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for parent in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty
        return True

    def shred(self, digest: str) -> bool:
        """Overwrite the blob, then delete it (an erasure). Best effort below the file system:
        a copy-on-write or journalling file system, or an SSD, may keep old blocks."""
        path = self._path(digest)
        try:
            with path.open("r+b") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(0)
                for _ in range(0, size, 1 << 20):
                    handle.write(bytes(min(1 << 20, size - handle.tell())))
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError:
            return False
        return self.delete(digest)

    def clear_temp(self, older_than: float = 3600.0) -> int:
        """Remove temp files a crash left behind."""
        removed = 0
        cutoff = time.time() - older_than
        for path in self.tmp.glob("up-*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed
