"""The Open WebUI web app (`chronicle frontend install`), served at `/` the way Open WebUI serves it.

It answers only what no API route does (it is the router's fallback, so a route added anywhere
still comes first): `/static/*` from the app's `static/` folder, `/pyodide/*` with CORS, any other
file of the build with its MIME type, and `index.html` for every other page path so the app's
client-side routing works. `/api/...` and the other server prefixes keep their JSON 404. Without an
installed app nothing changes.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path, PurePosixPath

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

# Hashed by the build: a new build has new names, so these may be kept for good.
IMMUTABLE = "public, max-age=31536000, immutable"
# Everything else may change with a reinstall (index.html names the current chunks): revalidate.
REVALIDATE = "no-cache"
# Paths the server owns: an unknown one is the API's 404, never the app's page.
SERVER_PREFIXES = ("api", "ws", "oauth", "health", "ready", "metrics", "docs", "openapi.json")
# Asset types a missing file must not be answered with index.html for (a stale chunk would be
# parsed as HTML); Open WebUI does this for .js.
ASSET_SUFFIXES = {".js", ".mjs", ".css", ".map", ".wasm", ".json"}
# Browsers rely on these; the system's table may lack or misname them.
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
}


def is_installed(directory: Path) -> bool:
    return (directory / "index.html").is_file()


def serve_frontend(app: FastAPI, directory: Path, name: str) -> None:
    """Make the installed app at `directory` the answer for paths no route has."""
    if is_installed(directory):
        app.router.default = Frontend(directory, app.router.default, name)


def manifest(name: str) -> dict[str, object]:
    """The web app manifest Open WebUI generates (the build's own manifest.json is empty)."""
    icon = {"src": "/static/logo.png", "type": "image/png", "sizes": "500x500"}
    return {"name": name, "short_name": name,
            "description": f"{name} is an open, extensible, user-friendly interface for AI that "
                           "adapts to your workflow.",
            "start_url": "/", "display": "standalone", "background_color": "#343541",
            "icons": [{**icon, "purpose": "any"}, {**icon, "purpose": "maskable"}],
            "share_target": {"action": "/", "method": "GET", "params": {"text": "shared"}}}


class _Files(StaticFiles):
    """Files of the build with our MIME types and cache headers; dot files are never served."""

    def __init__(self, directory: Path, cors: bool = False):
        super().__init__(directory=directory, check_dir=False)
        self.cors = cors

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if any(part.startswith(".") for part in PurePosixPath(path).parts):
            return "", None
        return super().lookup_path(path)

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        relative = os.path.relpath(full_path, os.path.realpath(self.directory or "."))
        # (X-Content-Type-Options: nosniff comes with every response, interfaces/middleware.py)
        headers = {"cache-control": IMMUTABLE if relative.startswith("_app/immutable/") else REVALIDATE}
        if self.cors:
            headers["access-control-allow-origin"] = "*"
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result,
                                media_type=media_type(relative), headers=headers)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def media_type(name: str) -> str:
    """Ours first, then the system's table; text types get their charset from FileResponse."""
    suffix = PurePosixPath(name).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class Frontend:
    """The router's fallback: static folders, then the build's files, then the app's page."""

    def __init__(self, directory: Path, not_found: ASGIApp, name: str):
        self.not_found = not_found
        self.manifest = JSONResponse(manifest(name), headers={"cache-control": REVALIDATE})
        self.build = _Files(directory)
        self.mounts = {"static": _Files(directory / "static"),
                       "pyodide": _Files(directory / "pyodide", cors=True)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        first, _, rest = path.lstrip("/").partition("/")
        if scope["type"] != "http" or first in SERVER_PREFIXES:
            await self.not_found(scope, receive, send)
        elif path == "/manifest.json" and scope["method"] in ("GET", "HEAD"):
            await self.manifest(scope, receive, send)
        elif first in self.mounts:
            await self._file(self.mounts[first], rest, scope, receive, send)
        else:
            await self._page(path.lstrip("/"), scope, receive, send)

    async def _file(self, files: _Files, path: str, scope: Scope, receive: Receive,
                    send: Send) -> None:
        response = await files.get_response(path, scope)
        await response(scope, receive, send)

    async def _page(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A file of the build if there is one, else index.html (client-side routing)."""
        try:
            response = await self.build.get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404 or PurePosixPath(path).suffix.lower() in ASSET_SUFFIXES:
                raise
            response = await self.build.get_response("index.html", scope)
        await response(scope, receive, send)
