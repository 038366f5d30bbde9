"""Fakes for the fast tier: the event store on the eventsourcing library's in-memory (POPO)
persistence, and read models as dicts of rows.

Only persistence is faked. The services, the command runner, the aggregates and the in-memory
adapters the embedded installation uses anyway (sessions, tokens) are the real ones. A fake
read model is updated synchronously when the store saves, so a test never waits for a
projector; its rows carry the columns the services read (ids, owners, access control, flags),
not everything the SQL projections keep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from application.access import Viewer
from application.auth import AuthService
from application.chat_queries import ListFilter, SearchQuery
from application.chats import ChatService
from application.commands import CommandRunner
from application.config import ConfigService
from application.connections import ConnectionsService
from application.errors import ConcurrencyConflict
from application.folders import FolderService
from application.groups import GroupService
from application.models import ModelFilter, ModelService
from application.permissions import EffectivePermissions
from application.prompts import PromptFilter, PromptService
from application.tools import ToolCode, ToolService
from application.users import UserService
from domain.access import has_access
from domain.chat import Chat
from domain.folder import Folder
from domain.group import Group
from domain.model import Model, model_uuid
from domain.prompt import Prompt
from domain.tool import Tool, tool_uuid
from domain.user import User
from infrastructure.sessions import MemorySessions
from infrastructure.tokens import Tokens
from infrastructure.transcoder import FastJSONTranscoder

Row = dict[str, Any]


class _Memory(Application[UUID]):
    """The write model's library application on POPO (env given here beats os.environ)."""

    name = "fast"

    def construct_transcoder(self) -> FastJSONTranscoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


class FakeStore:
    """EventStorePort on POPO: events really recorded and aggregates really replayed, so a
    second writer of the same version loses the race as on a database."""

    def __init__(self) -> None:
        self.app = _Memory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.listeners: list[Callable[[Any], None]] = []

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        try:
            return self.app.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.app.repository

    def save(self, *aggregates: Any) -> int:
        try:
            recordings = self.app.save(*aggregates)
        except IntegrityError as e:  # what the runner retries, as EventStore raises it
            raise ConcurrencyConflict(str(e), tuple(a.id for a in aggregates)) from e
        for aggregate in aggregates:
            for listener in self.listeners:
                listener(aggregate)
        return max((r.notification.id for r in recordings), default=0)

    async def save_async(self, *aggregates: Any) -> int:
        return self.save(*aggregates)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def history(self, aggregate_id: UUID, after: int = 0, upto: int | None = None,
                limit: int | None = None) -> list[Any]:
        """An aggregate's events in version order (the version histories read them)."""
        return list(self.app.events.get(aggregate_id, gt=after or None, lte=upto, limit=limit))


class FakePasswords:
    """A reversible 'hash': bcrypt's cost is not what these tests are about."""

    def hash(self, password: str) -> str:
        if len(password.encode()) > 72:
            raise ValueError("too long")
        return "plain$" + password

    def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        return hashed == "plain$" + password, None


class DictReadModel:
    """Rows by id, upserted from every saved aggregate of `kind`."""

    kind: type = object

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def project(self, aggregate: Any) -> None:
        if isinstance(aggregate, self.kind):
            row = self.row(aggregate)
            self.rows[row["id"]] = row

    def row(self, aggregate: Any) -> Row:
        raise NotImplementedError

    def where(self, keep: Callable[[Row], bool], key: str = "updated_at") -> list[Row]:
        """Matching rows, copied (callers decorate them), newest first."""
        return sorted((dict(r) for r in self.rows.values() if keep(r)),
                      key=lambda r: r.get(key) or 0, reverse=True)


class FakeUsers(DictReadModel):
    kind = User

    def row(self, user: User) -> Row:
        return {"id": str(user.id), "name": user.name, "email": user.email, "role": user.role,
                "api_key_hash": user.api_key_hash, "deleted": user.deleted,
                "settings": user.settings, "created_at": user.created_at,
                "updated_at": user.updated_at}

    def get(self, user_id: str) -> Row | None:
        row = self.rows.get(user_id)
        return dict(row) if row and not row["deleted"] else None

    def by_api_key_hash(self, key_hash: str) -> Row | None:
        found = self.where(lambda r: r["api_key_hash"] == key_hash and not r["deleted"])
        return found[0] if found else None

    def page(self, query: str | None, order_by: str, direction: str, offset: int,
             limit: int | None) -> tuple[list[Row], int]:
        rows = self.where(lambda r: not r["deleted"] and (
            not query or query.lower() in (r["name"] + r["email"]).lower()), order_by)
        if direction == "asc":
            rows.reverse()
        return rows[offset:None if limit is None else offset + limit], len(rows)

    def count(self) -> int:
        return len(self.where(lambda r: not r["deleted"]))


class FakeGroups(DictReadModel):
    """Groups and their members; deleted users count in no group (the projector's rule), and a
    member of a group is an inherited member of its ancestors."""

    kind = Group

    def __init__(self, users: FakeUsers, items: Callable[[], list[tuple[UUID, Row]]]) -> None:
        super().__init__()
        self.people = users
        self.items = items  # (aggregate id, row) of the models and tools

    def row(self, group: Group) -> Row:
        return {"id": group.group_id, "user_id": group.user_id, "name": group.name,
                "description": group.description, "permissions": group.permissions,
                "data": group.data, "meta": group.meta, "parent_group_id": group.parent_group_id,
                "members": list(group.members), "deleted": group.deleted,
                "created_at": group.created_at, "updated_at": group.updated_at}

    def _members(self, row: Row) -> list[str]:
        return [u for u in row["members"] if self.people.get(u) is not None]

    def _view(self, row: Row) -> Row:
        out = {k: v for k, v in row.items() if k not in ("members", "deleted")}
        return {**out, "member_count": len(self._members(row))}

    def _live(self) -> list[Row]:
        return self.where(lambda r: not r["deleted"])

    def _parent(self, row: Row) -> Row | None:
        parent = self.rows.get(row["parent_group_id"] or "")
        while parent is not None and parent["deleted"]:
            parent = self.rows.get(parent["parent_group_id"] or "")
        return parent

    def all(self) -> list[Row]:
        return [self._view(r) for r in self._live()]

    def get(self, group_id: str) -> Row | None:
        row = self.rows.get(group_id)
        return self._view(row) if row and not row["deleted"] else None

    def group_ids(self, user_id: str) -> list[str]:
        found: set[str] = set()
        for row in self._live():
            if user_id in self._members(row):
                current: Row | None = row
                while current is not None and current["id"] not in found:
                    found.add(current["id"])
                    current = self._parent(current)
        return sorted(found)

    def of_member(self, user_id: str, include_inherited: bool = True) -> list[Row]:
        ids = set(self.group_ids(user_id)) if include_inherited else {
            r["id"] for r in self._live() if user_id in self._members(r)}
        return [self._view(r) for r in self._live() if r["id"] in ids]

    def permissions_of(self, user_id: str) -> list[dict[str, Any]]:
        return [g["permissions"] for g in self.of_member(user_id) if g["permissions"]]

    def shareable(self, user_id: str, share: bool) -> list[Row]:
        raise NotImplementedError  # the SQL read model's rule; tested on the real backends

    def member_ids(self, group_id: str) -> list[str]:
        row = self.rows.get(group_id)
        return sorted(self._members(row)) if row and not row["deleted"] else []

    def direct_group_ids(self, user_ids: list[str]) -> dict[str, list[str]]:
        return {u: [g["id"] for g in self.of_member(u, False)] for u in user_ids}

    def granting(self, principal: str) -> list[str]:
        kind, _, principal_id = principal.partition(":")
        return sorted(str(aid) for aid, row in self.items() if not row["deleted"] and any(
            principal_id in (row["access_control"] or {}).get(p, {}).get(f"{kind}_ids", [])
            for p in ("read", "write")))

    def existing_users(self, user_ids: list[str]) -> list[str]:
        return [u for u in dict.fromkeys(user_ids) if self.people.get(u) is not None]

    def users(self, group_id: str) -> list[Row]:
        return [r for u in self.member_ids(group_id) if (r := self.people.get(u))]

    def members(self, group_id: str, membership: str, query: str,
                page: int) -> tuple[list[Row], int, dict[str, int]]:
        raise NotImplementedError  # the SQL read model's query; tested on the real backends


class FakeChats(DictReadModel):
    kind = Chat

    def row(self, chat: Chat) -> Row:
        return {"id": str(chat.id), "user_id": chat.owner_id, "title": chat.title,
                "pinned": chat.pinned, "archived": chat.archived, "folder_id": chat.folder_id,
                "tags": list(chat.tags), "share_id": chat.share_id, "deleted": chat.deleted,
                "deleted_at": chat.deleted_at, "purged": chat.purged,
                "created_at": chat.created_at, "updated_at": chat.updated_at}

    def _live(self, user_id: str | None) -> Callable[[Row], bool]:
        return lambda r: not r["deleted"] and user_id in (None, r["user_id"])

    def page(self, user_id: str | None, flt: ListFilter, offset: int = 0,
             limit: int | None = None) -> list[Row]:
        live = self._live(user_id)
        rows = self.where(lambda r: live(r) and flt.archived in (None, r["archived"])
                          and (flt.include_pinned or not r["pinned"])
                          and (flt.include_folders or r["folder_id"] is None)
                          and (flt.query or "").lower() in r["title"].lower(), flt.order_by)
        if flt.direction == "asc":
            rows.reverse()
        return rows[offset:None if limit is None else offset + limit]

    def pinned(self, user_id: str) -> list[Row]:
        live = self._live(user_id)
        return self.where(lambda r: live(r) and r["pinned"] and not r["archived"])

    def in_folders(self, user_id: str, folder_ids: list[str]) -> list[Row]:
        live = self._live(user_id)
        return self.where(lambda r: live(r) and r["folder_id"] in folder_ids)

    def filed_in(self, user_id: str, folder_ids: list[str]) -> list[str]:
        return [r["id"] for r in self.in_folders(user_id, folder_ids)]

    def ids(self, user_id: str, archived: bool | None = None) -> list[str]:
        live = self._live(user_id)
        return [r["id"] for r in self.where(lambda r: live(r) and archived in (None, r["archived"]))]

    def by_share_id(self, share_id: str) -> Row | None:
        found = self.where(lambda r: r["share_id"] == share_id and not r["deleted"])
        return found[0] if found else None

    def trash(self, user_id: str | None, after: int, offset: int, limit: int) -> list[Row]:
        rows = self.where(lambda r: r["deleted"] and not r["purged"] and user_id in (
            None, r["user_id"]) and (r["deleted_at"] or 0) >= after, "deleted_at")
        return rows[offset:offset + limit]

    def tags(self, user_id: str) -> list[str]:
        live = self._live(user_id)
        return sorted({t for r in self.where(live) for t in r["tags"]})

    def by_tag(self, user_id: str, tag: str, offset: int, limit: int) -> list[Row]:
        live = self._live(user_id)
        return self.where(lambda r: live(r) and tag in r["tags"])[offset:offset + limit]

    def search(self, user_id: str, query: SearchQuery, offset: int, limit: int) -> list[Row]:
        live = self._live(user_id)
        return self.where(lambda r: live(r) and all(t in r["tags"] for t in query.tags)
                          and all(w in r["title"].lower() for w in query.words)
                          )[offset:offset + limit]


class FakeFolders(DictReadModel):
    kind = Folder

    def row(self, folder: Folder) -> Row:
        return {"id": str(folder.id), "user_id": folder.owner_id, "name": folder.name,
                "parent_id": folder.parent_id, "deleted": folder.deleted,
                "updated_at": folder.updated_at}

    def of_user(self, user_id: str) -> list[Row]:
        return self.where(lambda r: not r["deleted"] and r["user_id"] == user_id)

    def sibling_named(self, user_id: str, parent_id: str | None, name: str) -> str | None:
        same = [r["id"] for r in self.of_user(user_id)
                if r["parent_id"] == parent_id and r["name"].lower() == name.lower()]
        return same[0] if same else None

    def named(self, user_id: str, names: list[str]) -> list[str]:
        wanted = {n.lower() for n in names}
        return [r["id"] for r in self.of_user(user_id) if r["name"].lower() in wanted]

    def subtree(self, user_id: str, folder_id: str) -> list[str]:
        rows, found = self.of_user(user_id), [folder_id]
        for parent in found:  # grows while walking: breadth first
            found += [r["id"] for r in rows if r["parent_id"] == parent]
        return found


class FakeModels(DictReadModel):
    kind = Model

    def row(self, model: Model) -> Row:
        return {"id": model.model_id, "user_id": model.user_id, "name": model.name,
                "base_model_id": model.base_model_id, "meta": model.meta,
                "params": model.params, "access_control": model.access_control,
                "is_active": model.is_active, "deleted": model.deleted,
                "created_at": model.created_at, "updated_at": model.updated_at}

    def _visible(self, viewer: Viewer | None) -> Callable[[Row], bool]:
        return lambda r: not r["deleted"] and (viewer is None or has_access(
            r["access_control"], r["user_id"], viewer.user_id, viewer.group_ids, "read"))

    def page(self, viewer: Viewer | None, flt: ModelFilter, offset: int,
             limit: int) -> tuple[list[Row], int]:
        visible = self._visible(viewer)
        rows = self.where(lambda r: visible(r) and r["base_model_id"] is not None, flt.order_by)
        return rows[offset:offset + limit], len(rows)

    def get(self, model_id: str) -> Row | None:
        row = self.rows.get(model_id)
        return dict(row) if row and not row["deleted"] else None

    def base(self, tag: str | None) -> list[Row]:
        return self.where(lambda r: not r["deleted"] and r["base_model_id"] is None)

    def tags(self, viewer: Viewer | None, base: bool = False) -> list[str]:
        visible = self._visible(viewer)
        return sorted({t.get("name", "") for r in self.where(visible)
                       for t in (r["meta"] or {}).get("tags", [])})

    def exportable(self, viewer: Viewer | None, ids: list[str] | None) -> list[Row]:
        visible = self._visible(viewer)
        return self.where(lambda r: visible(r) and (ids is None or r["id"] in ids))

    def ids(self) -> list[str]:
        return [r["id"] for r in self.where(lambda r: not r["deleted"])]

    def image(self, model_id: str) -> Row | None:
        return self.get(model_id)


class FakeTools(DictReadModel):
    kind = Tool

    def __init__(self, users: FakeUsers) -> None:
        super().__init__()
        self.users = users

    def row(self, tool: Tool) -> Row:
        return {"id": tool.tool_id, "user_id": tool.user_id, "name": tool.name,
                "content": tool.content, "meta": tool.meta, "specs": tool.specs,
                "access_control": tool.access_control, "valves_schema": tool.valves_schema,
                "user_valves_schema": tool.user_valves_schema, "deleted": tool.deleted,
                "updated_at": tool.updated_at}

    def visible(self, viewer: Viewer | None, query: str | None) -> list[Row]:
        return self.where(lambda r: not r["deleted"] and (viewer is None or has_access(
            r["access_control"], r["user_id"], viewer.user_id, viewer.group_ids, "read"))
            and (query or "").lower() in r["name"].lower())

    def get(self, tool_id: str, with_content: bool = True) -> Row | None:
        row = self.rows.get(tool_id)
        if row is None or row["deleted"]:
            return None
        return dict(row) if with_content else {k: v for k, v in row.items() if k != "content"}

    def owners(self, user_ids: list[str]) -> dict[str, Row]:
        return {u: row for u in set(user_ids) if (row := self.users.get(u)) is not None}


class FakePrompts(DictReadModel):
    kind = Prompt

    def __init__(self, users: FakeUsers) -> None:
        super().__init__()
        self.users = users

    def row(self, prompt: Prompt) -> Row:
        return {"id": str(prompt.id), "user_id": prompt.user_id, "command": prompt.command,
                "name": prompt.name, "content": prompt.content, "data": prompt.data,
                "meta": prompt.meta, "tags": prompt.tags, "is_active": prompt.is_active,
                "version_id": str(prompt.production), "access_control": prompt.access_control,
                "deleted": prompt.deleted, "created_at": prompt.created_at,
                "updated_at": prompt.updated_at}

    def _visible(self, viewer: Viewer | None) -> Callable[[Row], bool]:
        return lambda r: not r["deleted"] and (viewer is None or has_access(
            r["access_control"], r["user_id"], viewer.user_id, viewer.group_ids, "read"))

    def page(self, viewer: Viewer | None, flt: PromptFilter, offset: int,
             limit: int) -> tuple[list[Row], int]:
        visible = self._visible(viewer)
        rows = self.where(lambda r: visible(r) and (not flt.tag or flt.tag in r["tags"]))
        return rows[offset:offset + limit], len(rows)

    def active(self, viewer: Viewer | None) -> list[Row]:
        visible = self._visible(viewer)
        return self.where(lambda r: visible(r) and r["is_active"])

    def get(self, prompt_id: str) -> Row | None:
        row = self.rows.get(prompt_id)
        return dict(row) if row and not row["deleted"] else None

    def tags(self, viewer: Viewer | None) -> list[str]:
        return sorted({t for r in self.active(viewer) for t in r["tags"]})

    def owners(self, user_ids: list[str]) -> dict[str, Row]:
        return {u: row for u in set(user_ids) if (row := self.users.get(u)) is not None}


@dataclass(frozen=True)
class FakeSchemas:
    valves: dict[str, Any] | None
    user_valves: dict[str, Any] | None


def fake_tool_code() -> ToolCode:
    """Tool sources without the sandbox: a source declares its specs and valves in comments
    (`# spec: name`, `# valves: key`, `# user_valves: key`); `# broken` is unusable."""

    def lines(content: str, tag: str) -> list[str]:
        if "# broken" in content:
            raise ValueError("invalid syntax")
        return [line.split(":", 1)[1].strip() for line in content.splitlines()
                if line.startswith(f"# {tag}:")]

    def schema(keys: Iterable[str]) -> dict[str, Any] | None:
        keys = list(keys)
        return {"type": "object", "properties": {k: {"type": "string"} for k in keys}} \
            if keys else None

    def validate(spec: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
        known = set((spec or {}).get("properties", {}))
        if set(values) - known:
            raise ValueError(f"unknown valves: {sorted(set(values) - known)}")
        return dict(values)

    return ToolCode(
        frontmatter=lambda content: {"title": (lines(content, "title") or [""])[0]},
        specs=lambda content: [{"name": n, "parameters": {}} for n in lines(content, "spec")],
        schemas=lambda content: FakeSchemas(schema(lines(content, "valves")),
                                            schema(lines(content, "user_valves"))),
        validate=validate)


CONFIG_DEFAULTS: dict[str, Any] = {
    "ENABLE_SIGNUP": True, "DEFAULT_USER_ROLE": "pending", "ENABLE_API_KEYS": False,
    "JWT_EXPIRES_IN": "4w", "ENABLE_LDAP": False, "DEFAULT_PERMISSIONS": {},
    "ENABLE_OPENAI_API": True, "OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": [],
    "ENABLE_OLLAMA_API": True, "OLLAMA_BASE_URLS": ["http://localhost:11434"],
}


@dataclass
class Services:
    """The use cases wired as interfaces/composition/bootstrap.py wires them, on fakes."""

    store: FakeStore
    config: ConfigService
    connections: ConnectionsService
    auth: AuthService
    users: UserService
    chats: ChatService
    folders: FolderService
    models: ModelService
    tools: ToolService
    groups: GroupService
    read: dict[str, DictReadModel]
    prompts: PromptService


def services(clock: Callable[[], float] | None = None, **config: Any) -> Services:
    """A fresh in-memory installation; `config` overrides the environment's defaults."""
    store = FakeStore()
    users, chats, folders, models = FakeUsers(), FakeChats(), FakeFolders(), FakeModels()
    tools = FakeTools(users)
    groups = FakeGroups(users, lambda: [(model_uuid(k), r) for k, r in models.rows.items()]
                        + [(tool_uuid(k), r) for k, r in tools.rows.items()])
    read: dict[str, DictReadModel] = {"users": users, "chats": chats, "folders": folders,
                                      "models": models, "tools": tools, "groups": groups}
    read["prompts"] = prompts = FakePrompts(users)
    store.listeners += [model.project for model in read.values()]
    runner = CommandRunner(store)
    settings = ConfigService(store, runner, {**CONFIG_DEFAULTS, **config})
    permissions = EffectivePermissions(settings.default_permissions, groups.permissions_of)
    auth = AuthService(store, runner, users, FakePasswords(), Tokens("fast-tier-secret-" + "x" * 32),
                       MemorySessions(), settings, token_ttl=3600, permissions=permissions)
    return Services(
        store=store, config=settings, connections=ConnectionsService(settings), auth=auth,
        users=UserService(store, runner, users, auth, FakePasswords(), grants=groups),
        chats=ChatService(store, runner, chats, folders, permissions, clock=clock or time.time),
        folders=FolderService(store, runner, folders, chats, permissions),
        models=ModelService(store, runner, models, groups, permissions),
        tools=ToolService(store, runner, tools, groups, permissions, fake_tool_code()),
        groups=GroupService(store, runner, groups, permissions),
        read=read, prompts=PromptService(store, runner, prompts, groups, permissions))
