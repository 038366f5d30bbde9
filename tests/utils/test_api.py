"""The utils API end to end, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from application.messages import Detail
from application.utils import NOT_CONFIGURED
from infrastructure.code_execute import jupyter_config
from tests.models.conftest import CALLERS
from tests.models.helpers import deep

API = "/api/v1/utils"


def _statuses(client, people, method, path, **kwargs):
    return [client.request(method, f"{API}{path}", headers=people.all()[who], **kwargs)
            .status_code for who in CALLERS]


# ---- gravatar, code format ------------------------------------------------------------------
def test_gravatar(client, people):
    assert _statuses(client, people, "GET", "/gravatar", params={"email": "a@b.c"}) == \
        [401, 401, 200, 200, 200]
    r = client.get(f"{API}/gravatar", params={"email": " Ann@Example.com "},
                   headers=people.user.headers)
    digest = hashlib.sha256(b"ann@example.com").hexdigest()
    assert r.json() == f"https://www.gravatar.com/avatar/{digest}?d=mp"
    for params in ({}, {"email": "x" * 321}):
        assert client.get(f"{API}/gravatar", params=params,
                          headers=people.user.headers).status_code == 422


def test_code_format_is_for_admins(client, people):
    body = {"code": "x=[1,2 ,3]"}
    assert _statuses(client, people, "POST", "/code/format", json=body) == \
        [401, 401, 401, 401, 200]
    r = client.post(f"{API}/code/format", json=body, headers=people.admin.headers)
    assert r.json() == {"code": "x = [1, 2, 3]\n"}
    r = client.post(f"{API}/code/format", json={"code": "def (:"}, headers=people.admin.headers)
    assert r.status_code == 400 and "cannot parse" in r.json()["detail"].lower()
    for bad in ({"code": 1}, {}, {"code": "#" * (256 * 1024 + 1)}):
        r = client.post(f"{API}/code/format", json=bad, headers=people.admin.headers)
        assert r.status_code == 422


# ---- code execution -------------------------------------------------------------------------
def test_code_execute_without_jupyter_is_400(client, people):
    assert _statuses(client, people, "POST", "/code/execute", json={"code": "1"}) == \
        [401, 401, 400, 400, 400]
    r = client.post(f"{API}/code/execute", json={"code": "1"}, headers=people.user.headers)
    assert r.json()["detail"] == Detail.DEFAULT(NOT_CONFIGURED)


def _fake_jupyter() -> tuple[str, list[dict], object]:
    """A Jupyter server that answers one kernel's execute_request with "hi" on stdout."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute

    seen: list[dict] = []

    async def kernels(request):
        seen.append({"path": request.url.path, "auth": request.headers.get("authorization")})
        return JSONResponse({"id": "k1"}, status_code=201)

    async def kernel(request):
        return Response(status_code=204)

    async def channels(ws):
        await ws.accept()
        request = json.loads(await ws.receive_text())
        seen.append({"code": request["content"]["code"], "auth": ws.headers.get("authorization")})
        parent = {"msg_id": request["header"]["msg_id"]}
        for kind, content in (("stream", {"name": "stdout", "text": "hi\n"}),
                              ("status", {"execution_state": "idle"})):
            await ws.send_text(json.dumps({"msg_type": kind, "parent_header": parent,
                                           "content": content}))
        await ws.close()

    app = Starlette(routes=[Route("/api/kernels", kernels, methods=["POST"]),
                            Route("/api/kernels/k1", kernel, methods=["DELETE"]),
                            WebSocketRoute("/api/kernels/k1/channels", channels)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", seen, server


def test_code_execute_uses_the_configured_jupyter(client, container, people):
    url, seen, server = _fake_jupyter()
    saved = container.utils.adapters
    container.utils.adapters = dataclasses.replace(
        saved, jupyter=functools.partial(jupyter_config, url, "tok"))
    try:
        r = client.post(f"{API}/code/execute", json={"code": "print('hi')"},
                        headers=people.user.headers)
        assert r.status_code == 200 and r.json() == {"stdout": "hi", "stderr": "", "result": ""}
        assert {"code": "print('hi')", "auth": "token tok"} in seen
        assert seen[0]["auth"] == "token tok"
    finally:
        container.utils.adapters = saved
        server.should_exit = True


def test_settings_configure_jupyter(settings_env_sqlite):
    from interfaces.composition.bootstrap import bootstrap
    from tests.conftest import make_settings

    built = bootstrap(make_settings(settings_env_sqlite,
                                    CODE_EXECUTION_JUPYTER_URL="http://jupyter:8888",
                                    CODE_EXECUTION_JUPYTER_AUTH_TOKEN="t0k"),
                      run_projectors=False)
    try:
        config = built.utils.adapters.jupyter()
        assert config.url == "http://jupyter:8888/" and config.token == "t0k"
    finally:
        built.close()


@pytest.fixture
def settings_env_sqlite(tmp_path):
    from tests.conftest import backend_env

    return backend_env("sqlite", tmp_path)


# ---- Markdown -------------------------------------------------------------------------------
def test_markdown_is_html_without_scripts(client, people):
    md = ("# Title\n\n*hi* <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
          "[click](javascript:alert(1)) [ok](https://example.com)")
    assert _statuses(client, people, "POST", "/markdown", json={"md": md}) == \
        [401, 401, 200, 200, 200]
    html = client.post(f"{API}/markdown", json={"md": md}, headers=people.user.headers).json()[
        "html"]
    assert "<h1>Title</h1>" in html and "<em>hi</em>" in html
    assert 'href="https://example.com"' in html
    lowered = html.lower()
    assert "<script" not in lowered and "onerror" not in lowered and "javascript:" not in lowered


def test_markdown_that_would_take_minutes_is_400(client, container, people):
    container.utils.adapters.markdown.timeout_s = 1.5
    try:
        started = time.monotonic()
        r = client.post(f"{API}/markdown", json={"md": "[a](" * 20_000},
                        headers=people.user.headers)
        assert r.status_code == 400 and time.monotonic() - started < 10
        r = client.post(f"{API}/markdown", json={"md": "still *fine*"},
                        headers=people.user.headers)
        assert r.json() == {"html": "<p>still <em>fine</em></p>"}
    finally:
        container.utils.adapters.markdown.timeout_s = 10


def test_markdown_bad_input(client, people):
    for body in ({"md": None}, {}, {"md": "x" * (256 * 1024 + 1)}, {"markdown": "x"}):
        assert client.post(f"{API}/markdown", json=body,
                           headers=people.user.headers).status_code == 422


# ---- PDF ------------------------------------------------------------------------------------
def test_pdf_holds_the_chat_text_non_latin_included(client, people, tmp_path):
    body = {"title": "Übersicht — Обзор", "messages": [
        {"role": "user", "content": "Привет, мир! Γειά σου κόσμε", "timestamp": 1700000000},
        {"role": "assistant", "content": "Ça va? 你好，世界", "model": "llama3"}]}
    assert _statuses(client, people, "POST", "/pdf", json=body) == [401, 401, 200, 200, 200]
    r = client.post(f"{API}/pdf", json=body, headers=people.user.headers)
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    pdf = tmp_path / "chat.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for part in ("Übersicht — Обзор", "Привет, мир!", "Γειά σου κόσμε", "Ça va?", "llama3",
                 "你好"):
        assert part in text, part


def test_pdf_bad_input(client, people):
    for body in ({"title": "t"}, {"title": 1, "messages": []}, {"title": "t", "messages": "m"},
                 {"title": "t" * 1001, "messages": []},
                 {"title": "t", "messages": [{"content": "x"}] * 1001},
                 {"title": "t", "messages": [{"content": "x" * (256 * 1024 + 1)}]},
                 {"title": "t", "messages": [{"content": deep(900)}]}):
        r = client.post(f"{API}/pdf", json=body, headers=people.user.headers)
        assert r.status_code == 422, str(body)[:40]
    r = client.post(f"{API}/pdf", json={"title": "t", "messages": [{"content": {"odd": 1}}]},
                    headers=people.user.headers)
    assert r.status_code == 200  # odd content prints as text, as the reference


# ---- database download ----------------------------------------------------------------------
def _snapshots() -> set[str]:
    return set(glob.glob(str(Path(tempfile.gettempdir()) / "chronicle-db-*")))


def test_db_download(client, backend, people):
    before = _snapshots()
    expected = [401, 401, 401, 401, 200 if backend == "sqlite" else 400]
    assert _statuses(client, people, "GET", "/db/download") == expected
    r = client.get(f"{API}/db/download", headers=people.admin.headers)
    if backend == "postgres":
        assert r.json()["detail"] == Detail.DB_NOT_SQLITE
        return
    assert r.headers["content-disposition"] == 'attachment; filename="webui.db"'
    copy = Path(tempfile.mkdtemp()) / "webui.db"
    copy.write_bytes(r.content)
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        events = next(t for t in tables if "event" in t)
        assert db.execute(f"SELECT COUNT(*) FROM {events}").fetchone()[0] > 0
    assert _snapshots() == before  # every snapshot was deleted once sent
