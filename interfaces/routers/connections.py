"""/openai and /ollama: the admin's connections to language-model servers, and what those
servers list (Open WebUI 0.12.4's routers/openai.py and routers/ollama.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from application.completions import CompletionService
from application.connections import Connection, ConnectionsService
from application.errors import NotFound
from application.llm import LanguageModels, UpstreamError
from application.messages import Detail
from interfaces.deps import AdminUser, VerifiedUser, Write
from interfaces.routers.completions import upstream_failure
from interfaces.schemas.connections import ConnectionForm, OllamaConfigForm, OpenAIConfigForm
from interfaces.services import LLM, Completions, Connections

openai = APIRouter(prefix="/openai", tags=["openai"])
ollama = APIRouter(prefix="/ollama", tags=["ollama"])
Index = Annotated[int, Path(ge=0, le=1_000)]




def _forget_models(completions: CompletionService) -> None:
    """The model list is cached per connection config: drop it so a change shows at once."""
    completions.catalog.forget()


def _connection(connections: ConnectionsService, kind: str, index: int) -> Connection:
    found = connections.at(kind, index)
    if found is None:
        raise NotFound(Detail.NOT_FOUND)
    return found


# -- OpenAI-compatible ------------------------------------------------------------------------
@openai.get("/config")
def get_openai_config(principal: AdminUser, connections: Connections) -> dict[str, Any]:
    """The OpenAI-compatible connections, keys included (admins only)."""
    return connections.openai()


@openai.post("/config/update")
def update_openai_config(form: OpenAIConfigForm, principal: AdminUser,
                         completions: Completions, written: Write,
                         connections: Connections) -> dict[str, Any]:
    """Replace the OpenAI-compatible connections."""
    outcome = connections.update_openai(form.ENABLE_OPENAI_API, form.OPENAI_API_BASE_URLS,
                                        form.OPENAI_API_KEYS, form.OPENAI_API_CONFIGS)
    written(outcome.position)
    _forget_models(completions)
    return outcome.value


@openai.get("/models")
async def openai_models(principal: VerifiedUser, completions: Completions) -> dict[str, Any]:
    """The models of every enabled OpenAI-compatible connection (as the model list has them)."""
    models = await completions.catalog.connection_models()
    return {"data": [m for m in models if m["owned_by"] == "openai"]}


@openai.get("/models/{url_idx}", response_model=None)
async def openai_models_at(url_idx: Index, principal: VerifiedUser, connections: Connections,
                           llm: LLM) -> Any:
    """One connection's own model list, straight from it."""
    connection = _connection(connections, "openai", url_idx)
    try:
        return {"data": await llm.openai_models(connection.base_url, connection.key),
                "object": "list"}
    except UpstreamError as error:
        return upstream_failure(error)


@openai.post("/verify", response_model=None)
async def verify_openai(form: ConnectionForm, principal: AdminUser, llm: LLM) -> Any:
    """Try a connection before saving it: its model list, or why it failed."""
    try:
        return {"data": await llm.openai_models(form.url, form.key), "object": "list"}
    except UpstreamError as error:
        return upstream_failure(error)


# -- Ollama -----------------------------------------------------------------------------------
@ollama.get("/config")
def get_ollama_config(principal: AdminUser, connections: Connections) -> dict[str, Any]:
    """The Ollama connections (admins only)."""
    return connections.ollama()


@ollama.post("/config/update")
def update_ollama_config(form: OllamaConfigForm, principal: AdminUser,
                         completions: Completions, written: Write,
                         connections: Connections) -> dict[str, Any]:
    """Replace the Ollama connections."""
    outcome = connections.update_ollama(form.ENABLE_OLLAMA_API, form.OLLAMA_BASE_URLS,
                                        form.OLLAMA_API_CONFIGS)
    written(outcome.position)
    _forget_models(completions)
    return outcome.value


@ollama.get("/api/tags")
async def ollama_tags(principal: VerifiedUser, completions: Completions) -> dict[str, Any]:
    """The models of every enabled Ollama connection, in Ollama's shape."""
    models = await completions.catalog.connection_models()
    return {"models": [{**m["ollama"], "model": m["id"], "name": m["name"]}
                       for m in models if m["owned_by"] == "ollama"]}


@ollama.get("/api/tags/{url_idx}", response_model=None)
async def ollama_tags_at(url_idx: Index, principal: VerifiedUser, connections: Connections,
                         llm: LLM) -> Any:
    """One Ollama connection's own model list."""
    connection = _connection(connections, "ollama", url_idx)
    try:
        return {"models": await llm.ollama_models(connection.base_url, connection.key)}
    except UpstreamError as error:
        return upstream_failure(error)


async def _version(connection: Connection, llm: LanguageModels) -> Any:
    try:
        return await llm.ollama_version(connection.base_url, connection.key)
    except UpstreamError as error:
        return upstream_failure(error)


@ollama.get("/api/version", response_model=None)
async def ollama_version(principal: VerifiedUser, connections: Connections, llm: LLM) -> Any:
    """The first enabled Ollama connection's version (0.12.4 asks the first)."""
    enabled = [c for c in connections.enabled() if c.kind == "ollama"]
    if not enabled:
        return {"version": False}
    return await _version(enabled[0], llm)


@ollama.get("/api/version/{url_idx}", response_model=None)
async def ollama_version_at(url_idx: Index, principal: VerifiedUser, connections: Connections,
                            llm: LLM) -> Any:
    """One Ollama connection's version."""
    return await _version(_connection(connections, "ollama", url_idx), llm)


@ollama.post("/verify", response_model=None)
async def verify_ollama(form: ConnectionForm, principal: AdminUser, llm: LLM) -> Any:
    """Try an Ollama connection before saving it: its version, or why it failed."""
    return await _version(Connection("ollama", 0, form.url, form.key, {}), llm)
