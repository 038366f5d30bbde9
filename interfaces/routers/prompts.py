"""/api/v1/prompts: slash-command prompts and their version history. Lists and lookups from the
prompts read model, the history from each prompt's event stream, commands on the Prompt
aggregate (answers to commands come from the aggregate itself)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from application.prompts import PromptFilter, aggregate_row
from interfaces import bounds
from interfaces.deps import VerifiedUser, Write, consistent
from interfaces.schemas.models import AccessGrantsForm, QueryText
from interfaces.schemas.prompts import (
    ID_MAX_CHARS,
    PromptAccessListResponse,
    PromptAccessResponse,
    PromptDiff,
    PromptForm,
    PromptHistoryModel,
    PromptHistoryResponse,
    PromptMetadataForm,
    PromptModel,
    PromptUserResponse,
    PromptVersionUpdateForm,
    history_view,
    prompt_view,
)
from interfaces.services import Prompts

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])
PROMPTS = consistent("prompts", "users", "groups")  # owners shown; access depends on groups

Text = Annotated[QueryText | None, Query()]
IdPath = Annotated[str, Path(max_length=ID_MAX_CHARS)]
HistoryId = Annotated[str, Query(max_length=ID_MAX_CHARS)]
ListPage = Annotated[bounds.Page | None, Query()]
HistoryPage = Annotated[int, Query(ge=0, le=bounds.PAGE_MAX)]


# -- lists ------------------------------------------------------------------------------------
@router.get("/", response_model=list[PromptUserResponse], dependencies=[PROMPTS])
def list_prompts(principal: VerifiedUser, prompts: Prompts) -> list[dict[str, Any]]:
    """The active prompts the caller may use (the chat's `/` menu)."""
    return [prompt_view(r) for r in prompts.menu(principal)]


@router.get("/list", response_model=PromptAccessListResponse, dependencies=[PROMPTS])
def prompt_list(principal: VerifiedUser, prompts: Prompts, query: Text = None,
                view_option: Text = None, tag: Text = None, order_by: Text = None,
                direction: Text = None, page: ListPage = 1) -> dict[str, Any]:
    """The prompts the caller may see, active or not, filtered, sorted and paged."""
    flt = PromptFilter(query=query, view_option=view_option, tag=tag,
                       order_by=order_by or "updated_at", direction=direction or "desc")
    rows, total = prompts.page(principal, flt, page)
    return {"items": [prompt_view(r) for r in rows], "total": total}


@router.get("/tags", response_model=list[str], dependencies=[PROMPTS])
def prompt_tags(principal: VerifiedUser, prompts: Prompts) -> list[str]:
    """The tags on the active prompts the caller may see."""
    return prompts.tags(principal)


# -- one prompt -------------------------------------------------------------------------------
@router.post("/create", response_model=PromptModel)
def create_prompt(form: PromptForm, principal: VerifiedUser, prompts: Prompts,
                  written: Write) -> dict[str, Any]:
    """Create a prompt (its first revision)."""
    outcome = prompts.create(principal, form.to_input())
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.get("/id/{prompt_id}", response_model=PromptAccessResponse, dependencies=[PROMPTS])
def get_prompt(prompt_id: IdPath, principal: VerifiedUser, prompts: Prompts) -> dict[str, Any]:
    """One prompt, by id."""
    return prompt_view(prompts.get(principal, prompt_id))


@router.post("/id/{prompt_id}/update", response_model=PromptModel)
def update_prompt(prompt_id: IdPath, form: PromptForm, principal: VerifiedUser,
                  prompts: Prompts, written: Write) -> dict[str, Any]:
    """Update a prompt's content, creating a new history entry if changed."""
    outcome = prompts.update(principal, prompt_id, form.to_input(update=True))
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.post("/id/{prompt_id}/update/meta", response_model=PromptModel)
def update_prompt_meta(prompt_id: IdPath, form: PromptMetadataForm, principal: VerifiedUser,
                       prompts: Prompts, written: Write) -> dict[str, Any]:
    """Update prompt name and command only (no history created)."""
    outcome = prompts.update_meta(principal, prompt_id, form.name, form.command, form.tags)
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.post("/id/{prompt_id}/update/version", response_model=PromptModel)
def set_prompt_version(prompt_id: IdPath, form: PromptVersionUpdateForm,
                       principal: VerifiedUser, prompts: Prompts,
                       written: Write) -> dict[str, Any]:
    """Make an earlier version the production one (its text comes back)."""
    outcome = prompts.set_production(principal, prompt_id, form.version_id)
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.post("/id/{prompt_id}/access/update", response_model=PromptModel)
def update_prompt_access(prompt_id: IdPath, form: AccessGrantsForm, principal: VerifiedUser,
                         prompts: Prompts, written: Write) -> dict[str, Any]:
    """Replace the prompt's access grants."""
    outcome = prompts.access_update(principal, prompt_id, form.value())
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.post("/id/{prompt_id}/toggle", response_model=PromptModel)
def toggle_prompt(prompt_id: IdPath, principal: VerifiedUser, prompts: Prompts,
                  written: Write) -> dict[str, Any]:
    """Turn a prompt on or off (off: out of the `/` menu)."""
    outcome = prompts.toggle(principal, prompt_id)
    written(outcome.position)
    return prompt_view(aggregate_row(outcome.value))


@router.delete("/id/{prompt_id}/delete", response_model=bool)
def delete_prompt(prompt_id: IdPath, principal: VerifiedUser, prompts: Prompts,
                  written: Write) -> bool:
    """Delete a prompt (its command becomes free)."""
    outcome = prompts.delete(principal, prompt_id)
    written(outcome.position)
    return True


# -- history ----------------------------------------------------------------------------------
@router.get("/id/{prompt_id}/history", response_model=list[PromptHistoryResponse])
def prompt_history(prompt_id: IdPath, principal: VerifiedUser, prompts: Prompts,
                   page: HistoryPage = 0) -> list[dict[str, Any]]:
    """Get version history for a prompt."""
    revisions = prompts.history(principal, prompt_id, page)
    authors = prompts.authors(revisions)
    return [history_view(prompt_id, r, authors) for r in revisions]


@router.get("/id/{prompt_id}/history/diff", response_model=PromptDiff)
def prompt_diff(prompt_id: IdPath, from_id: HistoryId, to_id: HistoryId,
                principal: VerifiedUser, prompts: Prompts) -> dict[str, Any]:
    """Get diff between two versions."""
    return prompts.diff(principal, prompt_id, from_id, to_id,
                        lambda revision: history_view(prompt_id, revision)["snapshot"])


@router.get("/id/{prompt_id}/history/{history_id}", response_model=PromptHistoryModel)
def prompt_history_entry(prompt_id: IdPath, history_id: IdPath, principal: VerifiedUser,
                         prompts: Prompts) -> dict[str, Any]:
    """Get a specific version from history."""
    return history_view(prompt_id, prompts.revision(principal, prompt_id, history_id))


@router.delete("/id/{prompt_id}/history/{history_id}", response_model=bool)
def delete_prompt_history_entry(prompt_id: IdPath, history_id: IdPath, principal: VerifiedUser,
                                prompts: Prompts, written: Write) -> bool:
    """Delete a history entry. Cannot delete the active production version."""
    outcome = prompts.delete_revision(principal, prompt_id, history_id)
    written(outcome.position)
    return True
