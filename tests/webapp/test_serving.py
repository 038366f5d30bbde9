"""The web app served at `/` (interfaces/frontend.py), on a small fake build made here: MIME types,
cache headers, the client-side routing fallback, API routes first, and nothing without an app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from interfaces.app import create_app

INDEX = "<!doctype html><title>app</title>"
CHUNK = "_app/immutable/entry/start.Bx1f9.js"


def fake_build(root: Path) -> Path:
    files = {
        "index.html": INDEX,
        CHUNK: "export const start = 1;",
        "_app/immutable/assets/app.3kd8.css": "body{}",
        "_app/version.json": '{"version":"1"}',
        "static/loader.js": "// loader",
        "static/custom.css": "",
        "static/favicon.svg": "<svg/>",
        "static/splash.png": "\x89PNG",
        "pyodide/pyodide.mjs": "export {}",
        "wasm/a.wasm": "\0asm",
        "robots.txt": "User-agent: *",
        "manifest.json": "{}",
        ".chronicle-frontend.json": "{}",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def client_for(tmp_path: Path, frontend: Path | None) -> TestClient:
    settings = Settings(DATA_DIR=tmp_path / "data", FRONTEND_BUILD_DIR=frontend,
                        WEBUI_SECRET_KEY="serving-test-secret", LOG_LEVEL="WARNING")
    # No lifespan (no `with`): the routes used here need no container.
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tmp = tmp_path_factory.mktemp("serving")
    return client_for(tmp, fake_build(tmp / "frontend"))


@pytest.mark.parametrize(("path", "media_type"), [
    ("/", "text/html; charset=utf-8"),
    ("/" + CHUNK, "text/javascript; charset=utf-8"),
    ("/_app/immutable/assets/app.3kd8.css", "text/css; charset=utf-8"),
    ("/_app/version.json", "application/json"),
    ("/static/loader.js", "text/javascript; charset=utf-8"),
    ("/static/custom.css", "text/css; charset=utf-8"),
    ("/static/favicon.svg", "image/svg+xml"),
    ("/static/splash.png", "image/png"),
    ("/pyodide/pyodide.mjs", "text/javascript; charset=utf-8"),
    ("/wasm/a.wasm", "application/wasm"),
    ("/robots.txt", "text/plain; charset=utf-8"),
])
def test_files_have_their_media_type(client, path, media_type):
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media_type


def test_hashed_assets_are_cached_for_good_and_the_rest_revalidated(client):
    immutable = client.get("/" + CHUNK)
    assert immutable.headers["cache-control"] == "public, max-age=31536000, immutable"
    for path in ("/", "/c/some-chat", "/_app/version.json", "/static/loader.js"):
        assert client.get(path).headers["cache-control"] == "no-cache", path


def test_a_revalidation_of_an_unchanged_file_is_304(client):
    first = client.get("/static/loader.js")
    again = client.get("/static/loader.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/", "/auth", "/c/0b6e6d2c-5b9b-4b0e", "/workspace/models/create",
                                  "/admin/users/overview", "/s/abc?x=1", "/notes/n1/"])
def test_page_paths_get_the_app(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_the_manifest_is_generated_as_open_webui_does(client):
    r = client.get("/manifest.json")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Open WebUI" and body["start_url"] == "/"
    assert {i["purpose"] for i in body["icons"]} == {"any", "maskable"}


def test_head_is_answered_like_get(client):
    r = client.head("/auth")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/_app/immutable/entry/gone.Ab12.js", "/static/nope.css",
                                  "/static/missing.png", "/old.css", "/pyodide/nope.wasm"])
def test_a_missing_asset_is_404_not_the_page(client, path):
    # A stale chunk answered with HTML would fail in the browser with a confusing parse error.
    r = client.get(path)
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_dot_files_are_never_served(client):
    r = client.get("/.chronicle-frontend.json")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    assert client.get("/static/../.chronicle-frontend.json").text != "{}"


def test_api_routes_come_first(client):
    r = client.get("/api/version")
    assert r.status_code == 200 and r.json()["version"] == "0.12.4"
    assert client.get("/health").json() == {"status": True}


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/nothing/here", "/ws/nope", "/oauth/x/login"])
def test_unknown_api_paths_stay_json_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_other_methods_are_not_pages(client):
    r = client.post("/auth")
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    # A method a route does not take is still that route's 405, not the app.
    assert client.post("/api/version").status_code == 405


def test_pyodide_may_be_loaded_from_any_origin(client):
    # As Open WebUI serves it: code-execution workers fetch it cross-origin.
    assert client.get("/pyodide/pyodide.mjs").headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in client.get("/static/loader.js").headers


def test_without_an_app_the_root_answers_as_before(tmp_path):
    client = client_for(tmp_path, tmp_path / "not-installed")
    for path in ("/", "/auth", "/static/loader.js"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"detail": "Not Found"}
    assert client.get("/api/version").status_code == 200


def test_the_default_directory_is_under_data_dir(tmp_path):
    fake_build(tmp_path / "data" / "frontend")
    client = client_for(tmp_path, None)
    assert client.get("/auth").text == INDEX
