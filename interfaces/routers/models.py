"""/api/v1/models: workspace models. Lists and lookups from the models read model, commands on
the Model aggregate (answers to commands come from the aggregate itself).

Model ids may contain "/", so they travel in query strings and bodies, never in the path.
"""

from __future__ import annotations

import base64
import json
import posixpath
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from application.models import PAGE_SIZE, ModelFilter, aggregate_row
from interfaces import bounds
from interfaces.deps import AdminUser, VerifiedUser, Write, consistent
from interfaces.schemas.history import ModelHistoryModel, ModelHistoryResponse, entry_view, model_snapshot
from interfaces.schemas.models import (
    ID_MAX_CHARS,
    IMPORT_MAX,
    ModelAccessGrantsForm,
    ModelAccessListResponse,
    ModelAccessResponse,
    ModelForm,
    ModelIdForm,
    ModelModel,
    ModelResponse,
    ModelsImportForm,
    QueryText,
    SyncModelsForm,
    model_view,
)
from interfaces.schemas.users import PROFILE_IMAGE_MEDIA_TYPES
from interfaces.services import Models

router = APIRouter(prefix="/api/v1/models", tags=["models"])
MODELS = consistent("models", "groups")  # who sees what depends on groups
DEFAULT_IMAGE = Path(__file__).resolve().parent.parent / "static" / "user.png"

Text = Annotated[QueryText | None, Query()]
IdParam = Annotated[str, Query(min_length=1, max_length=ID_MAX_CHARS)]
Page = Annotated[int | None, Query(le=1_000_000)]
HistoryPage = Annotated[bounds.LenientPage, Query()]
HistoryIdPath = Annotated[str, PathParam(max_length=64)]


def _views(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [model_view(r) for r in rows]


# -- lists ------------------------------------------------------------------------------------
@router.get("/list", response_model=ModelAccessListResponse, dependencies=[MODELS])
def list_models(principal: VerifiedUser, models: Models, query: Text = None,
                view_option: Text = None, tag: Text = None, order_by: Text = None,
                direction: Text = None, page: Page = 1) -> Response:
    """Workspace models the caller may see, filtered, sorted and paged."""
    flt = ModelFilter(query=query, view_option=view_option, tag=tag,
                      order_by=order_by or "created_at", direction=direction or "desc")
    rows, total = models.page(principal, flt, page)
    # The hottest route: its rows are already the response's shape, so they are encoded once
    # (and embedded twice) rather than validated and encoded by the response model.
    items = json.dumps(_views(rows), ensure_ascii=False, separators=(",", ":"))
    return Response(f'{{"data":{items},"items":{items},"total":{total},'
                    f'"page":{max(1, page or 1)},"size":{PAGE_SIZE}}}',
                    media_type="application/json")


@router.get("/base", response_model=list[ModelResponse], dependencies=[MODELS])
def base_models(principal: AdminUser, models: Models, tag: Text = None
                ) -> list[dict[str, Any]]:
    """The workspace entries for connections' own (base) models, by tag (admins)."""
    return _views(models.base(tag))


@router.get("/base/tags", response_model=list[str], dependencies=[MODELS])
def base_model_tags(principal: AdminUser, models: Models) -> list[str]:
    """The tags on base models (admins)."""
    return models.base_tags()


@router.get("/tags", response_model=list[str], dependencies=[MODELS])
def model_tags(principal: VerifiedUser, models: Models) -> list[str]:
    """The tags on the workspace models the caller may see."""
    return models.tags(principal)


@router.get("/all", response_model=list[ModelResponse], dependencies=[MODELS])
def all_models(principal: AdminUser, models: Models) -> list[dict[str, Any]]:
    """Every workspace model record, presets and base-model entries (admins)."""
    return _views(models.all_records())


@router.get("/export", response_model=list[ModelModel], dependencies=[MODELS])
def export_models(principal: VerifiedUser, models: Models,
                  ids: Annotated[list[QueryText] | None, Query(max_length=IMPORT_MAX)] = None
                  ) -> list[dict[str, Any]]:
    """Every workspace model the caller may see, whole, for export."""
    return _views(models.export(principal, ids))


# -- one model --------------------------------------------------------------------------------
@router.get("/model", response_model=ModelAccessResponse, dependencies=[MODELS])
def get_model(id: IdParam, principal: VerifiedUser, models: Models) -> dict[str, Any]:
    """One workspace model, by id."""
    return model_view(models.get(principal, id))


@router.get("/model/profile/image", dependencies=[MODELS])
def profile_image(id: IdParam, principal: VerifiedUser, models: Models) -> Response:
    """A workspace model's picture (or the default one)."""
    url = models.image_or_default(principal, id) or ""
    if url.startswith(("http://", "https://")):
        return RedirectResponse(url, status_code=302)
    if url.startswith("data:image/"):
        header, _, data = url.partition(",")
        media = header[5:].split(";")[0].lower()
        if media in PROFILE_IMAGE_MEDIA_TYPES:  # never SVG: it could script our origin
            try:
                return Response(base64.b64decode(data, validate=True), media_type=media,
                                headers={"Content-Disposition": "inline"})
            except ValueError:
                pass
    if static := _static_path(url):  # an asset of the web app (e.g. its own logo), as 0.12.4
        return RedirectResponse(static, status_code=302)
    return Response(DEFAULT_IMAGE.read_bytes(), media_type="image/png",
                    headers={"Content-Disposition": "inline"})


def _static_path(url: str) -> str | None:
    """A same-origin path under /static/, normalised; anything encoded or odd is refused."""
    path = url.split("?", 1)[0].split("#", 1)[0].strip()
    if not path.startswith("/") or any(c in path for c in "%\\\x00"):
        return None
    normalized = posixpath.normpath(path)
    return normalized if normalized.startswith("/static/") else None


# -- commands ---------------------------------------------------------------------------------
@router.post("/create", response_model=ModelModel)
def create_model(form: ModelForm, principal: VerifiedUser,
                 models: Models, written: Write) -> dict[str, Any]:
    """Create a workspace model."""
    outcome = models.create(principal, form.to_input())
    written(outcome.position)
    return model_view(aggregate_row(outcome.value))


@router.post("/model/update", response_model=ModelModel)
def update_model(form: ModelForm, principal: VerifiedUser,
                 models: Models, written: Write) -> dict[str, Any]:
    """Replace a workspace model's settings."""
    outcome = models.update(principal, form.to_input(update=True))
    written(outcome.position)
    return model_view(aggregate_row(outcome.value))


@router.post("/model/access/update", response_model=ModelModel)
def update_model_access(form: ModelAccessGrantsForm, principal: VerifiedUser, models: Models,
                        written: Write) -> dict[str, Any]:
    """Replace the model's access grants (an admin may grant access to a connection's model)."""
    outcome = models.access_update(principal, form.id, form.name, form.value())
    written(outcome.position)
    return model_view(aggregate_row(outcome.value))


@router.post("/model/toggle", response_model=ModelResponse)
def toggle_model(id: IdParam, principal: VerifiedUser,
                 models: Models, written: Write) -> dict[str, Any]:
    """Turn a workspace model on or off."""
    outcome = models.toggle(principal, id)
    written(outcome.position)
    return model_view(aggregate_row(outcome.value))


@router.post("/model/delete", response_model=bool)
def delete_model(form: ModelIdForm, principal: VerifiedUser,
                 models: Models, written: Write) -> bool:
    """Delete a workspace model."""
    outcome = models.delete(principal, form.id)
    written(outcome.position)
    return True


@router.delete("/delete/all", response_model=bool, dependencies=[MODELS])
def delete_all(principal: AdminUser, models: Models, written: Write) -> bool:
    """Delete every workspace model (admins)."""
    outcome = models.delete_all()
    written(outcome.position)
    return True


@router.post("/import", response_model=bool)
def import_models(form: ModelsImportForm, principal: VerifiedUser,
                  models: Models, written: Write) -> bool:
    """Import workspace models (created or replaced by id)."""
    outcome = models.import_models(principal, [m.to_input() for m in form.models])
    written(outcome.position)
    return True


@router.post("/sync", response_model=list[ModelModel], dependencies=[MODELS])
def sync_models(form: SyncModelsForm, principal: AdminUser,
                models: Models, written: Write) -> list[dict[str, Any]]:
    """Make the workspace models exactly the given ones (admins)."""
    outcome = models.sync(principal, [m.to_input() for m in form.models])
    written(outcome.position)
    return [model_view(aggregate_row(m)) for m in outcome.value]


# -- history (each version an event of the model's stream) -----------------------------------
@router.get("/model/history", response_model=list[ModelHistoryResponse])
def model_history(id: IdParam, principal: VerifiedUser, models: Models,
                  page: HistoryPage = 1) -> list[dict[str, Any]]:
    """A page of the model's versions, newest first, with their commit messages."""
    return [entry_view("model", id, v) for v in models.history(principal, id, page)]


@router.get("/model/history/{history_id}", response_model=ModelHistoryModel)
def model_history_entry(id: IdParam, history_id: HistoryIdPath, principal: VerifiedUser,
                        models: Models) -> dict[str, Any]:
    """One version of the model, with its snapshot."""
    version, model = models.history_entry(principal, id, history_id)
    return {**entry_view("model", id, version), "snapshot": model_snapshot(model)}
