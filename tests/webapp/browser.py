"""What the browser journey runs on: a real `chronicle serve` with the web app installed (and, on
PostgreSQL, its projector process), the test language model as its OpenAI connection, headless
Debian Chromium driven by Playwright, and a recorder of every request and console error the page
makes, step by step."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import REDIS_URL, create_pg_database, drop_pg_database, drop_redis_keys, make_settings
from tests.realtime.processes import BIN, Proc, free_port

CHROMIUM = "/usr/bin/chromium"
WHEEL_VERSION = "0.12.4"
UPSTREAM_KEY = "sk-journey-upstream"


def frontend_dir() -> Path:
    """The web app the journey serves: installed once (scripts/test.sh does it first), then reused."""
    from scripts.frontend import default_cache_dir, install, installed

    target = Path(os.environ.get("CHRONICLE_TEST_FRONTEND")
                  or Path.home() / ".cache" / "chronicle" / "frontend-test")
    if (installed(target) or {}).get("version") != WHEEL_VERSION:
        install(WHEEL_VERSION, target, default_cache_dir())
    return target


def need_browser() -> None:
    """Skipped, saying why, where the browser is missing (scripts/system-packages.sh installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/system-packages.sh (Debian chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")


# -- the server -------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    procs: list[Proc]
    logs: Path

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(30)}" for p in self.procs)


@contextmanager
def chronicle_server(tmp: Path, upstream_url: str, backend: str) -> Iterator[Server]:
    """`chronicle serve` (two workers and a projector process on PostgreSQL + Redis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update({"PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                "DATA_DIR": str(tmp / "data"), "WEBUI_SECRET_KEY": "journey-secret-0123456789abcdef-0123456789",
                "FRONTEND_BUILD_DIR": str(frontend_dir()), "LOG_LEVEL": "WARNING",
                "LOG_FORMAT": "console", "ENABLE_SIGNUP": "true",
                "OPENAI_API_BASE_URLS": upstream_url, "OPENAI_API_KEYS": UPSTREAM_KEY,
                "ENABLE_OLLAMA_API": "false", "EVENTSOURCING_DISABLE_REDEFINITION_CHECK": "y"})
    workers = 1
    if backend == "postgres":
        env.update({"DATABASE_URL": create_pg_database(), "REDIS_URL": REDIS_URL,
                    "REDIS_KEY_PREFIX": f"journey-{time.time_ns()}", "CHRONICLE_PROJECTORS": "external",
                    "PG_POOL_SIZE": "2", "PG_POOL_MAX": "6"})
        workers = 2
    port = free_port()
    chronicle = str(BIN / "chronicle")
    serve = Proc("serve", [chronicle, "serve", "--port", str(port), "--workers", str(workers)],
                 env, tmp / "serve.log", port=port)
    procs = [serve]
    try:
        if backend == "postgres":
            _create_tables(env)  # before the workers: they would race on the store's DDL
            procs.append(Proc("projector", [chronicle, "projector"], env, tmp / "projector.log").start())
        serve.start()
        serve.wait_healthy(60)
        yield Server(serve.url, procs, tmp)
    finally:
        for proc in procs:
            proc.stop()
        if backend == "postgres":
            drop_pg_database(env["DATABASE_URL"])
            drop_redis_keys(env)


def _create_tables(env: dict[str, str]) -> None:
    from interfaces.composition.bootstrap import bootstrap

    bootstrap(make_settings(env), run_projectors=False).close()


@contextmanager
def language_model() -> Iterator[str]:
    from tests.completions.conftest import start_llm_server

    process, port = start_llm_server("--key", UPSTREAM_KEY, "--rate", "200")
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


# -- what the page does -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Allowed:
    """A request or console error Open WebUI 0.12.4 itself also produces: matched, not failed."""

    pattern: str  # a regular expression on "METHOD /path STATUS" or on the console text
    why: str


@dataclass
class StepRecord:
    name: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # every API request
    failed: list[str] = field(default_factory=list)  # "METHOD /path STATUS" not allowed
    console: list[str] = field(default_factory=list)  # console errors not allowed
    error: str | None = None  # the step's own assertion or timeout
    screenshot: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.failed or self.console or self.error)


class Recorder:
    """Every response and console error of the page, filed under the step that was running."""

    def __init__(self, base_url: str, allowed_requests: list[Allowed], allowed_console: list[Allowed]):
        self.origin = base_url
        self.allowed_requests = allowed_requests
        self.allowed_console = allowed_console
        self.steps: list[StepRecord] = []
        self.current = StepRecord("start")

    def attach(self, page: Any) -> None:
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._note_console(f"uncaught: {error}"))

    def _response(self, response: Any) -> None:
        url = urlsplit(response.url)
        if f"{url.scheme}://{url.netloc}" != self.origin:
            return
        line = (response.request.method, url.path, response.status)
        if url.path.startswith(("/api", "/openai", "/ollama", "/ws")):
            self.current.requests.append(line)
        if response.status >= 400:
            text = f"{line[0]} {line[1]} {line[2]}"
            if not _matches(self.allowed_requests, text) and text not in self.current.failed:
                self.current.failed.append(text)

    def _request_failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # navigations and cancelled fetches: the app's own doing
            return
        self._note_console(f"request failed: {request.method} {urlsplit(request.url).path} {failure}")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            # The browser's line for a failed response repeats what _response recorded.
            if message.text.startswith("Failed to load resource: the server responded"):
                return
            self._note_console(message.text)

    def _note_console(self, text: str) -> None:
        text = text[:300]
        if not _matches(self.allowed_console, text) and text not in self.current.console:
            self.current.console.append(text)

    @contextmanager
    def step(self, name: str, page: Any, shots: Path) -> Iterator[StepRecord]:
        self.current = record = StepRecord(name)
        self.steps.append(record)
        started = time.monotonic()
        try:
            yield record
        except Exception as error:  # noqa: BLE001 - recorded, and the journey goes on
            record.error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        finally:
            page.wait_for_timeout(300)  # late responses of this step still count for it
            record.seconds = time.monotonic() - started
            if not record.ok:
                record.screenshot = shots / f"{len(self.steps):02d}-{name}.png"
                try:
                    page.screenshot(path=str(record.screenshot), full_page=True)
                except Exception:  # noqa: BLE001 - a page that died keeps no picture
                    record.screenshot = None

    def report(self) -> str:
        """Per step: its error, then each failed request and console error the first time it
        happens (the app repeats its start-up requests on every page: listed once, counted after)."""
        lines, seen = [], set()
        for record in self.steps:
            lines.append(f"{'ok  ' if record.ok else 'FAIL'} {record.name} ({record.seconds:.1f}s)")
            if record.error:
                lines.append(f"       error: {record.error}")
            failures = [f"request: {t}" for t in record.failed] + [f"console: {t}" for t in record.console]
            lines += [f"       {text}" for text in failures if text not in seen]
            if repeated := sum(text in seen for text in failures):
                lines.append(f"       and {repeated} failure(s) listed under an earlier step")
            seen.update(failures)
            if record.screenshot:
                lines.append(f"       screenshot: {record.screenshot}")
        return "\n".join(lines)


def _matches(allowed: list[Allowed], text: str) -> bool:
    return any(re.search(a.pattern, text) for a in allowed)


@contextmanager
def browser_page(base_url: str, recorder: Recorder) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's chromium: `playwright install` (a browser download) is never run.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900},
                                      locale="en-US", timezone_id="UTC")
        page = context.new_page()
        page.set_default_timeout(8_000)
        # A page left with unsaved edits (a step that failed half-way) asks before unloading:
        # leave, so the next step starts where it means to.
        page.on("dialog", lambda dialog: dialog.accept())
        recorder.attach(page)
        try:
            yield page
        finally:
            context.close()
            browser.close()

