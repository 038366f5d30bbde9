"""Jupyter client for `POST /api/v1/utils/code/execute`.

Only used when the admin configured the "jupyter" engine with a server URL; with
no URL the caller answers 400. One throw-away kernel per request: start it over
REST, send an `execute_request` on its websocket, collect output until the kernel
reports idle, delete it. Token auth goes in the Authorization header, which
Jupyter Server accepts on both REST and websocket and which stays out of URLs and
access logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect


class CodeExecutionNotConfigured(ValueError):
    """No Jupyter server URL is configured."""


@dataclass(frozen=True)
class JupyterConfig:
    url: str
    token: str | None = None
    timeout_s: float = 60.0


def jupyter_config(url: str | None, token: str | None = None, timeout_s: float | None = None) -> JupyterConfig:
    """Validated settings, or CodeExecutionNotConfigured when there is no usable URL."""
    url = (url or "").strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise CodeExecutionNotConfigured("Code execution engine not configured: no Jupyter URL")
    base = url if url.endswith("/") else url + "/"
    return JupyterConfig(base, token or None, float(timeout_s or 60))


def auth_headers(config: JupyterConfig) -> dict[str, str]:
    return {"Authorization": f"token {config.token}"} if config.token else {}


def kernels_url(config: JupyterConfig) -> str:
    return config.url + "api/kernels"


def channels_url(config: JupyterConfig, kernel_id: str) -> str:
    parts = urlsplit(config.url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path}api/kernels/{kernel_id}/channels", "", ""))


def execute_request(code: str, msg_id: str, session_id: str) -> dict[str, Any]:
    """A Jupyter messaging-protocol v5.3 `execute_request` on the shell channel."""
    return {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "chronicle",
            "session": session_id,
            "date": "",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
    }


@dataclass
class ExecutionOutput:
    """Accumulates kernel replies to one request into Open WebUI's result shape."""

    msg_id: str
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)

    def feed(self, message: dict[str, Any]) -> bool:
        """Take one kernel message; True once the kernel is idle (we are done)."""
        if message.get("parent_header", {}).get("msg_id") != self.msg_id:
            return False  # output of some other request on the same kernel
        kind, content = message.get("msg_type"), message.get("content", {})
        if kind == "stream":
            if content.get("name") == "stderr":
                self.stderr += content.get("text", "")
            else:
                self.stdout += content.get("text", "")
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            if "image/png" in data:
                self.results.append(f"data:image/png;base64,{data['image/png']}")
            elif "text/plain" in data:
                self.results.append(data["text/plain"])
        elif kind == "error":
            self.stderr += "\n".join(content.get("traceback", []))
        return kind == "status" and content.get("execution_state") == "idle"

    def as_dict(self) -> dict[str, str]:
        return {
            "stdout": self.stdout.strip(),
            "stderr": self.stderr.strip(),
            "result": "\n".join(self.results).strip(),
        }


async def execute_code(config: JupyterConfig | None, code: str) -> dict[str, str]:
    """Run `code` on a fresh kernel; returns {stdout, stderr, result}.

    Like Open WebUI, failures talking to Jupyter come back as `stderr`, not as
    exceptions; only a missing configuration raises.
    """
    if config is None:
        raise CodeExecutionNotConfigured("Code execution engine not configured: no Jupyter URL")
    try:
        return await _execute(config, code)
    except Exception as exc:  # network, protocol and HTTP errors alike
        return {"stdout": "", "stderr": f"Error: {exc}", "result": ""}


async def _execute(config: JupyterConfig, code: str) -> dict[str, str]:
    headers = auth_headers(config)
    async with httpx.AsyncClient(headers=headers, timeout=config.timeout_s) as http:
        response = await http.post(kernels_url(config))
        response.raise_for_status()
        kernel_id = response.json()["id"]
        try:
            return await _run_on_kernel(config, kernel_id, code)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(f"{kernels_url(config)}/{kernel_id}")


async def _run_on_kernel(config: JupyterConfig, kernel_id: str, code: str) -> dict[str, str]:
    output = ExecutionOutput(msg_id=uuid.uuid4().hex)
    request = execute_request(code, output.msg_id, uuid.uuid4().hex)
    url = channels_url(config, kernel_id)
    async with connect(url, additional_headers=auth_headers(config)) as ws:
        await ws.send(json.dumps(request))
        try:
            while not output.feed(json.loads(await asyncio.wait_for(ws.recv(), config.timeout_s))):
                pass
        except TimeoutError:
            output.stderr += "\nExecution timed out."
    return output.as_dict()
