"""Bounded execution: a conversion runs in a warm child process, killed when it overruns.

Markdown, PDF and black all have super-linear worst cases (measured: 12 KB of unclosed "[a]("
takes Python-Markdown 12 s, 40 KB 94 s), so the composition root wraps them in `Isolated`:
a warm worker process per slot, killed when a call overruns its time or memory budget. The
server's own threads never spend more than the budget on one request. (A plain subprocess,
not multiprocessing: spawn would re-import the server's __main__ in every worker.)

An `Isolated` is the application's `Conversion` port (application/utils.py): bad or too costly
input raises a ValueError, a full house the port's ConversionBusy.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from application.utils import ConversionBusy

TOO_SLOW = "The input took too long to process; please send less or simpler input."
TOO_BIG = "The input needed too much memory to process; please send less or simpler input."
BUSY = "The server is busy converting other documents; please retry shortly."


class IsolatedTimeout(ValueError):
    pass


class IsolatedOutOfMemory(ValueError):
    pass


class IsolatedBusy(ConversionBusy):
    """Every worker stayed taken for the whole budget (the service answers 429)."""


# The worker gets a fixed environment (no server secrets) and the parent's import path.
_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
_FRAME = struct.Struct(">cI")  # kind, payload length


class Isolated:
    """Calls `fn` in one of `slots` warm worker processes, each killed if it overruns.

    `fn` must be importable by name; it takes picklable arguments and returns str or bytes
    (anything else comes back as its str). Any exception it raises comes back as a ValueError
    (with the message of its own ValueErrors), and its worker stays.
    """

    def __init__(self, fn: Callable[..., Any], timeout_s: float, slots: int = 2,
                 memory_mb: int = 1024):
        self.fn = fn
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._slots: queue.Queue[subprocess.Popen[bytes] | None] = queue.Queue()
        for _ in range(slots):
            self._slots.put(None)  # a slot's worker starts on first use

    def __call__(self, *args: Any) -> Any:
        deadline = time.monotonic() + self.timeout_s
        try:
            worker = self._slots.get(timeout=self.timeout_s)
        except queue.Empty:
            raise IsolatedBusy(BUSY) from None
        try:
            if worker is None or worker.poll() is not None:
                worker = self._start()
            return self._ask(worker, args, deadline)
        except _KeptError:
            raise
        except BaseException:
            _kill(worker)  # overran, died, or was interrupted: never reuse it
            worker = None
            raise
        finally:
            self._slots.put(worker)

    def _start(self) -> subprocess.Popen[bytes]:
        boot = (f"import sys; sys.path[:0] = {sys.path!r}; "
                f"from infrastructure.isolation import serve; serve({self.memory_mb})")
        return subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_WORKER_ENV, start_new_session=True)

    def _ask(self, worker: subprocess.Popen[bytes], args: tuple[Any, ...], deadline: float) -> Any:
        assert worker.stdin is not None and worker.stdout is not None
        request = pickle.dumps((self.fn, args))
        try:
            worker.stdin.write(struct.pack(">I", len(request)) + request)
            worker.stdin.flush()
        except OSError:  # the worker died since its last answer
            raise IsolatedBusy(BUSY) from None
        kind, size = _FRAME.unpack(_read(worker.stdout.fileno(), _FRAME.size, deadline))
        payload = _read(worker.stdout.fileno(), size, deadline)
        if kind == b"s":
            return payload.decode()
        if kind == b"b":
            return payload
        if kind == b"m":
            raise IsolatedOutOfMemory(TOO_BIG)
        raise _KeptError(payload.decode())

    def close(self) -> None:
        while not self._slots.empty():
            _kill(self._slots.get_nowait())


class _KeptError(ValueError):
    """The function's own ValueError: the worker is fine and stays."""


def _read(fd: int, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise IsolatedTimeout(TOO_SLOW)
        chunk = os.read(fd, size - len(data))
        if not chunk:  # the worker died: the memory limit is the usual reason
            raise IsolatedOutOfMemory(TOO_BIG)
        data += chunk
    return data


def _kill(worker: subprocess.Popen[bytes] | None) -> None:
    if worker is not None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def serve(memory_mb: int) -> None:
    """The worker's loop: length-prefixed pickled (fn, args) in, one frame out per call."""
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints must not corrupt the frames
    requests = sys.stdin.buffer
    while header := requests.read(4):
        fn, args = pickle.loads(requests.read(struct.unpack(">I", header)[0]))
        kind, payload = _run(fn, args)
        answers.write(_FRAME.pack(kind, len(payload)) + payload)
        answers.flush()


def _run(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bytes, bytes]:
    try:
        result = fn(*args)
    except MemoryError:
        return b"m", b""
    except ValueError as error:
        return b"e", str(error).encode()
    except Exception as error:  # noqa: BLE001 - a library's own failure on odd input
        return b"e", f"The input could not be processed ({type(error).__name__}).".encode()
    if isinstance(result, bytes):
        return b"b", result
    return b"s", str(result).encode()
