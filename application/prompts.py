"""Prompt use cases: slash-command prompts with their version history.

Authorization follows Open WebUI 0.12.4 (routers/prompts.py): creating needs the
`workspace.prompts` (or `workspace.prompts_import`) permission; reading needs read access (an
unreadable prompt is 404, as the reference, its history 401); changing needs write access
(401). Admins see and change everything. A prompt created without grants is private to its
owner; only `access_update` changes its grants (`application/access.py`).

The history is read from the prompt's event stream (never from a read model): each revision is
an aggregate version (`domain/prompt.py`). Diffs between two revisions are the audit's JSON
Patch (`application/json_diff.py`) over their snapshots, plus 0.12.4's line diff of the content
that the web app shows.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.access import (
    PRIVATE,
    AccessControlled,
    GroupMembership,
    Viewer,
    sharing_filter,
    validated_sharing,
)
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.domain_errors import domain_errors
from application.errors import BadRequest, NotFound, Unauthorized
from application.history import VersionedStore
from application.json_diff import json_patch
from application.messages import Detail
from application.paging import page_window
from application.permissions import allowed
from domain.prompt import Prompt, PromptError, Revision, history
from domain.prompt_command import PromptCommand, command_id

PAGE_SIZE = 30  # /list, as the reference
HISTORY_PAGE = 20  # /history, as the reference
ORDERABLE = ("name", "created_at", "updated_at")
Row = dict[str, Any]


@dataclass
class PromptFilter:
    query: str | None = None
    view_option: str | None = None  # "created": mine; "shared": others'
    tag: str | None = None
    order_by: str = "updated_at"
    direction: str = "desc"
    user_id: str = ""  # whose "created"/"shared" view


class PromptsReadModel(Protocol):
    def page(self, viewer: Viewer | None, flt: PromptFilter, offset: int,
             limit: int) -> tuple[list[Row], int]: ...

    def active(self, viewer: Viewer | None) -> list[Row]: ...

    def get(self, prompt_id: str) -> Row | None: ...

    def tags(self, viewer: Viewer | None) -> list[str]: ...

    def owners(self, user_ids: list[str]) -> dict[str, Row]: ...


@dataclass
class PromptInput:
    """A prompt as a client sends it."""

    command: str
    name: str
    content: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    tags: list[str] | None = None
    access_control: dict[str, Any] | None = None
    access_sent: bool = False  # whether the client sent grants (create only)
    commit_message: str | None = None
    production: bool = True


def prompt_uuid(prompt_id: str) -> UUID | None:
    try:
        return UUID(prompt_id)
    except (ValueError, TypeError, AttributeError):
        return None


class PromptService(AccessControlled):
    def __init__(self, store: VersionedStore, runner: CommandRunner, prompts: PromptsReadModel,
                 groups: GroupMembership, permissions: Callable[[str], dict[str, Any]]):
        self.store = store
        self.runner = runner
        self.prompts = prompts
        self.groups = groups
        self.permissions = permissions

    # -- loading --------------------------------------------------------------------------
    def _live(self, prompt_id: str) -> Prompt:
        aggregate_id = prompt_uuid(prompt_id)
        prompt = self.store.get(aggregate_id) if aggregate_id else None
        if not isinstance(prompt, Prompt) or prompt.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return prompt

    def _writable(self, viewer: Viewer | None, prompt_id: str) -> Prompt:
        prompt = self._live(prompt_id)
        if not self.can(viewer, prompt.user_id, prompt.access_control, "write"):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        return prompt

    def _readable(self, principal: Principal, prompt_id: str) -> Prompt:
        prompt = self._live(prompt_id)
        if not self.can(self.viewer(principal), prompt.user_id, prompt.access_control, "read"):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        return prompt

    # -- queries --------------------------------------------------------------------------
    def menu(self, principal: Principal) -> list[Row]:
        """Active prompts the caller may read (the chat's `/` menu), with their owners."""
        return self._with_owners(self.prompts.active(self.viewer(principal)))

    def page(self, principal: Principal, flt: PromptFilter, page: int | None
             ) -> tuple[list[Row], int]:
        viewer = self.viewer(principal)
        flt.user_id = principal.id
        flt.order_by = flt.order_by if flt.order_by in ORDERABLE else "updated_at"
        flt.direction = "asc" if (flt.direction or "").lower() == "asc" else "desc"
        offset, limit = page_window(page, PAGE_SIZE)
        rows, total = self.prompts.page(viewer, flt, offset, limit)
        for row in rows:
            row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return self._with_owners(rows), total

    def _with_owners(self, rows: list[Row]) -> list[Row]:
        owners = self.prompts.owners([r["user_id"] for r in rows])
        for row in rows:
            row["user"] = owners.get(row["user_id"])
        return rows

    def tags(self, principal: Principal) -> list[str]:
        return self.prompts.tags(self.viewer(principal))

    def get(self, principal: Principal, prompt_id: str) -> Row:
        row = self.prompts.get(prompt_id)
        viewer = self.viewer(principal)
        if row is None or not self.can(viewer, row["user_id"], row["access_control"], "read"):
            raise NotFound(Detail.NOT_FOUND)  # the reference does not tell them apart
        row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return self._with_owners([row])[0]

    # -- commands -------------------------------------------------------------------------
    def create(self, principal: Principal, form: PromptInput) -> Outcome[Prompt]:
        if not (principal.is_admin or any(allowed(self.permissions(principal.id), k) for k in
                                          ("workspace.prompts", "workspace.prompts_import"))):
            raise Unauthorized(Detail.UNAUTHORIZED)
        asked = form.access_control if form.access_sent else PRIVATE
        access = sharing_filter(principal, self.permissions(principal.id), asked, "prompt")

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = Prompt(user_id=principal.id, command=form.command, name=form.name,
                            content=form.content, data=form.data or {}, meta=form.meta or {},
                            tags=form.tags or [], access_control=access,
                            commit_message=form.commit_message or "Initial version")
            return prompt, [prompt, self._claim(form.command, str(prompt.id))]

        return self.runner.run("prompts.create", decide)

    def _claim(self, command: str, prompt_id: str) -> PromptCommand:
        """The command's claim, taken for `prompt_id` (400 COMMAND_TAKEN if another holds it)."""
        claim = self.store.get(command_id(command))
        if not isinstance(claim, PromptCommand):
            return PromptCommand(command=command, prompt_id=prompt_id)
        if claim.held_by_other(prompt_id):
            raise BadRequest(Detail.COMMAND_TAKEN)
        claim.reclaim(prompt_id)
        return claim

    def _recommand(self, prompt: Prompt, command: str) -> list[Any]:
        """The claims that change when `prompt` takes `command` (none if it keeps its own)."""
        if command == prompt.command:
            return []
        new = self._claim(command, str(prompt.id))
        old = self.store.get(command_id(prompt.command))
        if isinstance(old, PromptCommand):
            old.release(str(prompt.id))
            return [new, old]
        return [new]

    def update(self, principal: Principal, prompt_id: str, form: PromptInput) -> Outcome[Prompt]:
        """Save an edit: a new revision (with its commit message) when the text changed."""
        viewer = self.viewer(principal)

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            claims = self._recommand(prompt, form.command)
            fields = {"name": form.name, "command": form.command, "content": form.content,
                      "data": form.data or prompt.data, "meta": form.meta or prompt.meta}
            if form.tags is not None:
                fields["tags"] = form.tags
            with domain_errors(PromptError):
                prompt.revise(principal.id, fields, form.commit_message, form.production)
            return prompt, [prompt, *claims]

        return self.runner.run("prompts.update", decide)

    def update_meta(self, principal: Principal, prompt_id: str, name: str, command: str,
                    tags: list[str] | None) -> Outcome[Prompt]:
        """Name, command and tags only: no revision (0.12.4's update/meta)."""
        viewer = self.viewer(principal)

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            claims = self._recommand(prompt, command)
            changes: dict[str, Any] = {"name": name, "command": command}
            if tags is not None:
                changes["tags"] = tags
            with domain_errors(PromptError):
                prompt.amend(changes)
            return prompt, [prompt, *claims]

        return self.runner.run("prompts.update_meta", decide)

    def set_production(self, principal: Principal, prompt_id: str,
                       history_id: str) -> Outcome[Prompt]:
        """Show an earlier revision again (its text; the command and grants stay)."""
        viewer = self.viewer(principal)

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            revision = self._revision(prompt, history_id, BadRequest(Detail.DEFAULT()))
            with domain_errors(PromptError):
                prompt.set_production(revision.version, revision.snapshot)
            return prompt, [prompt]

        return self.runner.run("prompts.set_production", decide)

    def access_update(self, principal: Principal, prompt_id: str,
                      access_control: dict[str, Any]) -> Outcome[Prompt]:
        """Replace a prompt's grants (owner, write grantee or admin)."""
        viewer = self.viewer(principal)
        self._writable(viewer, prompt_id)  # who may, before what they may share (as 0.12.4)
        access = validated_sharing(principal, self.permissions(principal.id), access_control, "prompt")

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            with domain_errors(PromptError):
                prompt.share(access)
            return prompt, [prompt]

        return self.runner.run("prompts.access_update", decide)

    def toggle(self, principal: Principal, prompt_id: str) -> Outcome[Prompt]:
        viewer = self.viewer(principal)

        def decide() -> tuple[Prompt, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            with domain_errors(PromptError):
                prompt.toggle()
            return prompt, [prompt]

        return self.runner.run("prompts.toggle", decide)

    def delete(self, principal: Principal, prompt_id: str) -> Outcome[bool]:
        """Delete the prompt (its history stays in the log) and free its command."""
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            with domain_errors(PromptError):
                prompt.delete()
            claim = self.store.get(command_id(prompt.command))
            if isinstance(claim, PromptCommand):
                claim.release(str(prompt.id))
                return True, [prompt, claim]
            return True, [prompt]

        return self.runner.run("prompts.delete", decide)

    # -- history --------------------------------------------------------------------------
    def _revisions(self, prompt: Prompt) -> list[Revision]:
        return history(self.store.history(prompt.id, upto=prompt.version))

    def _revision(self, prompt: Prompt, history_id: str, missing: Exception) -> Revision:
        version = int(history_id) if history_id.isdigit() and len(history_id) < 19 else 0
        for revision in self._revisions(prompt):
            if revision.version == version:
                return revision
        raise missing

    def history(self, principal: Principal, prompt_id: str, page: int) -> list[Revision]:
        """A page of revisions, newest first (page 0 is the first, as the reference)."""
        prompt = self._readable(principal, prompt_id)
        newest = list(reversed(self._revisions(prompt)))
        start = max(0, page) * HISTORY_PAGE
        return newest[start:start + HISTORY_PAGE]

    def authors(self, revisions: list[Revision]) -> dict[str, Row]:
        return self.prompts.owners([r.author for r in revisions])

    def revision(self, principal: Principal, prompt_id: str, history_id: str) -> Revision:
        prompt = self._readable(principal, prompt_id)
        return self._revision(prompt, history_id, NotFound(Detail.NOT_FOUND))

    def diff(self, principal: Principal, prompt_id: str, from_id: str, to_id: str,
             view: Callable[[Revision], dict[str, Any]]) -> dict[str, Any]:
        """Two revisions and what changed between them: the audit's JSON Patch of their
        snapshots as `view` shows them, and 0.12.4's fields (a unified diff of the content)."""
        prompt = self._readable(principal, prompt_id)
        before = self._revision(prompt, from_id, NotFound(Detail.NOT_FOUND))
        after = self._revision(prompt, to_id, NotFound(Detail.NOT_FOUND))
        old, new = view(before), view(after)
        old_text, new_text = str(old.get("content") or ""), str(new.get("content") or "")
        lines = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(),
                                          fromfile=f"v{from_id[:8]}", tofile=f"v{to_id[:8]}",
                                          lineterm=""))
        return {"from_id": from_id, "to_id": to_id, "from_snapshot": old, "to_snapshot": new,
                "content_diff": lines, "line_endings_only": not lines and old_text != new_text,
                "name_changed": old.get("name") != new.get("name"),
                "access_grants_changed": old.get("access_grants") != new.get("access_grants"),
                "patch": json_patch(old, new)}

    def delete_revision(self, principal: Principal, prompt_id: str,
                        history_id: str) -> Outcome[bool]:
        """Take a revision out of the history (never the production one); the log keeps it."""
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            prompt = self._writable(viewer, prompt_id)
            revision = self._revision(prompt, history_id, NotFound(Detail.NOT_FOUND))
            if revision.version == prompt.production:
                raise BadRequest(PRODUCTION_KEPT)
            prompt.hide(revision.version)
            return True, [prompt]

        return self.runner.run("prompts.delete_revision", decide)


PRODUCTION_KEPT = "Cannot delete the active production version"  # upstream


def aggregate_row(prompt: Prompt) -> Row:
    """A prompt as the API shows it, straight from the aggregate (answers to commands)."""
    return {"id": str(prompt.id), "command": prompt.command, "user_id": prompt.user_id,
            "name": prompt.name, "content": prompt.content, "data": prompt.data,
            "meta": prompt.meta, "tags": prompt.tags, "is_active": prompt.is_active,
            "version_id": str(prompt.production), "access_control": prompt.access_control,
            "created_at": prompt.created_at, "updated_at": prompt.updated_at}
