"""/api/v1/configs: the admin's connection switches and model settings (0.12.4's configs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from application.connections import CONNECTION_DEFAULTS, MODELS_DEFAULTS
from interfaces.deps import AdminUser, VerifiedUser, Write
from interfaces.schemas.configs import (
    BannerModel,
    InterfaceVisibilityForm,
    SetBannersForm,
    SetDefaultSuggestionsForm,
)
from interfaces.schemas.connections import ConnectionsConfigForm, ModelsConfigForm
from interfaces.services import Config, Connections

router = APIRouter(prefix="/api/v1/configs", tags=["configs"])


@router.get("/connections", response_model=ConnectionsConfigForm)
def get_connections(principal: AdminUser, connections: Connections) -> dict[str, Any]:
    """Direct connections and the base-model cache switches."""
    return connections.connections()


@router.post("/connections", response_model=ConnectionsConfigForm)
def set_connections(form: ConnectionsConfigForm, principal: AdminUser,
                    written: Write, connections: Connections) -> dict[str, Any]:
    """Save the connection switches."""
    outcome = connections.update_section(CONNECTION_DEFAULTS, form.model_dump())
    written(outcome.position)
    return outcome.value


@router.get("/models", response_model=ModelsConfigForm)
def get_models_config(principal: AdminUser, connections: Connections) -> dict[str, Any]:
    """Default models, pinned models and the model order."""
    return connections.models_config()


@router.post("/models", response_model=ModelsConfigForm)
def set_models_config(form: ModelsConfigForm, principal: AdminUser,
                      written: Write, connections: Connections) -> dict[str, Any]:
    """Save the default models, pinned models and the model order."""
    outcome = connections.update_section(MODELS_DEFAULTS, form.model_dump())
    written(outcome.position)
    return outcome.value


@router.get("/models/defaults")
def get_models_defaults(principal: VerifiedUser, connections: Connections) -> dict[str, Any]:
    """The default model metadata every user's app starts from."""
    return {"DEFAULT_MODEL_METADATA": connections.models_config()["DEFAULT_MODEL_METADATA"]}


@router.get("/banners", response_model=list[BannerModel])
def get_banners(principal: VerifiedUser, config: Config) -> list[dict[str, Any]]:
    """The banners the admin set, shown atop every page."""
    return config.banners()


@router.post("/banners", response_model=list[BannerModel])
def set_banners(form: SetBannersForm, principal: AdminUser, written: Write,
                config: Config) -> list[dict[str, Any]]:
    """Replace the banners."""
    outcome = config.set_banners([b.model_dump() for b in form.banners])
    written(outcome.position)
    return outcome.value


@router.post("/suggestions")
def set_suggestions(form: SetDefaultSuggestionsForm, principal: AdminUser, written: Write,
                    config: Config) -> dict[str, Any]:
    """Replace the prompt suggestions a new chat offers (and their translations)."""
    data = form.model_dump()
    outcome = config.update({"PROMPT_SUGGESTIONS": data["suggestions"],
                             "PROMPT_SUGGESTIONS_I18N": data.get("i18n") or {}})
    written(outcome.position)
    return {"suggestions": outcome.value.get("PROMPT_SUGGESTIONS"),
            "i18n": outcome.value.get("PROMPT_SUGGESTIONS_I18N")}


@router.post("/interface/visibility", response_model=InterfaceVisibilityForm)
def set_interface_visibility(form: InterfaceVisibilityForm, principal: AdminUser,
                             written: Write, config: Config) -> dict[str, Any]:
    """Choose which parts of the app's interface show."""
    outcome = config.update({"UI_VISIBILITY": form.visibility})
    written(outcome.position)
    return {"visibility": outcome.value.get("UI_VISIBILITY")}


# -- out of scope here (the README's "Out of scope"): the admin pages read an empty state -------
CODE_EXECUTION_OFF: dict[str, Any] = {
    "ENABLE_CODE_EXECUTION": False, "CODE_EXECUTION_ENGINE": "",
    "CODE_EXECUTION_JUPYTER_URL": "", "CODE_EXECUTION_JUPYTER_AUTH": "",
    "CODE_EXECUTION_JUPYTER_AUTH_TOKEN": "", "CODE_EXECUTION_JUPYTER_AUTH_PASSWORD": "",
    "CODE_EXECUTION_JUPYTER_TIMEOUT": None, "ENABLE_CODE_INTERPRETER": False,
    "CODE_INTERPRETER_ENGINE": "", "CODE_INTERPRETER_PROMPT_TEMPLATE": "",
    "CODE_INTERPRETER_JUPYTER_URL": "", "CODE_INTERPRETER_JUPYTER_AUTH": "",
    "CODE_INTERPRETER_JUPYTER_AUTH_TOKEN": "", "CODE_INTERPRETER_JUPYTER_AUTH_PASSWORD": "",
    "CODE_INTERPRETER_JUPYTER_TIMEOUT": None,
}


@router.get("/tool_servers")
def get_tool_servers(principal: AdminUser) -> dict[str, Any]:
    """Tool server connections (none: not offered here)."""
    return {"TOOL_SERVER_CONNECTIONS": []}


@router.get("/terminal_servers")
def get_terminal_servers(principal: AdminUser) -> dict[str, Any]:
    """Terminal server connections (none: not offered here)."""
    return {"TERMINAL_SERVER_CONNECTIONS": []}


@router.get("/code_execution")
def get_code_execution(principal: AdminUser) -> dict[str, Any]:
    """Code execution and interpreter settings (off: not offered here)."""
    return CODE_EXECUTION_OFF
