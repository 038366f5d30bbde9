"""Model use cases: commands on the Model aggregate; lists, tags and lookups from the read model.

Authorization follows Open WebUI 0.12.4 (routers/models.py), with the spec's status codes where
they differ: an unknown id is 404 everywhere. Access control: `application/access.py`. A model
created without access control is private to its owner; only `access_update` (and a seed
client's explicit `access_control` on update) changes its grants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from application.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from application.history import ItemHistory, Version, VersionedStore, changed_fields
from application.messages import Detail
from application.paging import page_window
from application.permissions import allowed
from application.ports import ProjectionWaiter
from domain.access import normalize_access_control
from domain.base import clean_json
from domain.model import Model, ModelError, model_uuid

PAGE_SIZE = 30
MODEL_ID_MAX = 256  # the reference's is_valid_model_id
ORDERABLE = ("name", "created_at", "updated_at")
HISTORY_FIELDS = ("name", "base_model_id", "params", "meta")  # what a version snapshots (0.12.4)
VERSION_NOT_FOUND = "Model version not found"  # upstream
Row = dict[str, Any]


@dataclass
class ModelFilter:
    query: str | None = None
    view_option: str | None = None  # "created": mine; "shared": others'
    tag: str | None = None
    order_by: str = "created_at"
    direction: str = "desc"
    user_id: str = ""  # whose "created"/"shared" view


class ModelsReadModel(Protocol):
    def page(self, viewer: Viewer | None, flt: ModelFilter, offset: int,
             limit: int) -> tuple[list[Row], int]: ...

    def get(self, model_id: str) -> Row | None: ...

    def base(self, tag: str | None) -> list[Row]: ...

    def tags(self, viewer: Viewer | None, base: bool = False) -> list[str]: ...

    def exportable(self, viewer: Viewer | None, ids: list[str] | None) -> list[Row]: ...

    def ids(self) -> list[str]: ...

    def image(self, model_id: str) -> Row | None: ...


@dataclass
class ModelInput:
    """A model as a client sends it; `sent` names the optional fields the client included."""

    id: str
    name: str
    meta: dict[str, Any]
    params: dict[str, Any]
    base_model_id: str | None = None
    access_control: dict[str, Any] | None = None
    is_active: bool = True
    sent: frozenset[str] = field(default_factory=frozenset)
    commit_message: str | None = None  # recorded in the event, for the history


class ModelService(AccessControlled):
    def __init__(self, store: VersionedStore, runner: CommandRunner, models: ModelsReadModel,
                 groups: GroupMembership, permissions: Callable[[str], dict[str, Any]],
                 waiter: ProjectionWaiter | None = None):
        self.store = store
        self.runner = runner
        self.models = models
        self.groups = groups
        self.permissions = permissions
        self.waiter = waiter
        self.versions = ItemHistory(store, changed_fields(HISTORY_FIELDS),
                                    lambda: NotFound(VERSION_NOT_FOUND))

    def _catch_up(self) -> None:
        """"Every model" in sync and delete-all means every model created before the request,
        whoever created it: bring the read model the ids come from up to the log's head."""
        if self.waiter is not None:
            self.waiter.wait(["models"], self.store.head(), 5.0)

    # -- who ------------------------------------------------------------------------------
    def _require(self, principal: Principal, *keys: str) -> None:
        """Admins, or users holding any of the workspace permissions `keys` (else 401)."""
        if principal.is_admin:
            return
        permissions = self.permissions(principal.id)
        if not any(allowed(permissions, key) for key in keys):
            raise Unauthorized(Detail.UNAUTHORIZED)

    # -- loading --------------------------------------------------------------------------
    def _load(self, model_id: str) -> Model | None:
        """The model (deleted ones too), or None when the id names none."""
        aggregate = self.store.get(model_uuid(model_id))
        return aggregate if isinstance(aggregate, Model) else None

    def _live(self, model_id: str) -> Model:
        model = self._load(model_id)
        if model is None or model.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return model

    # -- queries --------------------------------------------------------------------------
    def page(self, principal: Principal, flt: ModelFilter, page: int | None
             ) -> tuple[list[Row], int]:
        viewer = self.viewer(principal)
        flt.user_id = principal.id
        flt.order_by = flt.order_by if flt.order_by in ORDERABLE else "created_at"
        flt.direction = "asc" if (flt.direction or "").lower() == "asc" else "desc"
        offset, limit = page_window(page, PAGE_SIZE)
        rows, total = self.models.page(viewer, flt, offset, limit)
        return self._for(viewer, rows), total

    def _for(self, viewer: Viewer | None, rows: list[Row]) -> list[Row]:
        """Rows as this viewer sees them: write_access, and no params (the curated prompt and
        settings) for read-only viewers, as the reference."""
        for row in rows:
            row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
            if not row["write_access"]:
                row["params"] = {}
        return rows

    def get(self, principal: Principal, model_id: str) -> Row:
        row = self.models.get(model_id)
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        viewer = self.viewer(principal)
        if not self.can(viewer, row["user_id"], row["access_control"], "read"):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        return self._for(viewer, [row])[0]

    def image(self, principal: Principal, model_id: str) -> str | None:
        """The model's profile image URL, under the same rule as reading the model."""
        row = self.models.image(model_id)
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        if not self.can(self.viewer(principal), row["user_id"], row["access_control"], "read"):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        return row["profile_image_url"]

    def tags(self, principal: Principal) -> list[str]:
        return self.models.tags(self.viewer(principal))

    def base(self, tag: str | None) -> list[Row]:
        return self.models.base(tag)

    def base_tags(self) -> list[str]:
        return self.models.tags(None, base=True)

    def _historied(self, principal: Principal, model_id: str) -> Model:
        """The model, when the caller may read its history: write access (else 403, as 0.12.4)."""
        model = self._live(model_id)
        if not self.can(self.viewer(principal), model.user_id, model.access_control, "write"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        return model

    def history(self, principal: Principal, model_id: str, page: int) -> list[Version]:
        """A page of the model's versions, newest first (from its event stream)."""
        return self.versions.page(self._historied(principal, model_id), page)

    def history_entry(self, principal: Principal, model_id: str,
                      history_id: str) -> tuple[Version, Model]:
        """A version and the model as it was then."""
        return self.versions.entry(self._historied(principal, model_id), history_id)

    def all_records(self) -> list[Row]:
        """Every workspace model record, presets and base-model entries (admins' /models/all)."""
        return self.models.exportable(None, None) + self.models.base(None)

    def image_or_default(self, principal: Principal, model_id: str) -> str | None:
        """The picture's URL, or None for the default one: unknown and hidden models look
        alike, so model ids cannot be probed (as 0.12.4)."""
        try:
            return self.image(principal, model_id)
        except (NotFound, Unauthorized):
            return None

    def export(self, principal: Principal, ids: list[str] | None) -> list[Row]:
        self._require(principal, "workspace.models_export")
        return self.models.exportable(self.viewer(principal), ids)

    # -- commands -------------------------------------------------------------------------
    def _fields(self, form: ModelInput, access_control: dict[str, Any] | None) -> dict[str, Any]:
        base = None if form.base_model_id == form.id else form.base_model_id
        return clean_json({"base_model_id": base, "name": form.name, "meta": form.meta,
                           "params": form.params, "access_control": access_control,
                           "is_active": form.is_active})

    def _check_id(self, model_id: str) -> None:
        if not model_id or len(model_id) > MODEL_ID_MAX:
            raise BadRequest(Detail.MODEL_ID_TOO_LONG)

    def _born(self, principal: Principal, existing: Model | None, model_id: str,
              fields: dict[str, Any], commit_message: str | None = None) -> Model:
        """A new model under `model_id`, on a fresh stream or the deleted one's."""
        if existing is None:
            return Model(model_id=model_id, user_id=principal.id, commit_message=commit_message,
                         **fields)
        existing.recreate(principal.id, fields, commit_message)
        return existing

    def create(self, principal: Principal, form: ModelInput) -> Outcome[Model]:
        self._require(principal, "workspace.models")
        self._check_id(form.id)
        access = self._shared(principal, self._asked(form))
        fields = self._fields(form, access)
        if not principal.is_admin and not fields["base_model_id"]:
            raise Unauthorized(Detail.UNAUTHORIZED)  # only admins define base models

        def decide() -> tuple[Model, list[Any]]:
            existing = self._load(form.id)
            if existing is not None and not existing.deleted:
                raise Conflict(Detail.MODEL_ID_TAKEN)
            model = self._born(principal, existing, form.id, fields, form.commit_message)
            return model, [model]

        return self.runner.run("models.create", decide)

    @staticmethod
    def _asked(form: ModelInput) -> dict[str, Any] | None:
        """The access a new model asks for: private unless the client sent grants."""
        return form.access_control if "access_control" in form.sent else PRIVATE

    def _shared(self, principal: Principal, access_control: dict[str, Any] | None
                ) -> dict[str, Any] | None:
        return sharing_filter(principal, self.permissions(principal.id), access_control, "model")

    def _changes(self, principal: Principal, model: Model, form: ModelInput) -> dict[str, Any]:
        """The update as the reference applies it: absent optional fields keep their value."""
        meta = dict(form.meta)
        if "profile_image_url" not in meta and "profile_image_url" in model.meta:
            meta["profile_image_url"] = model.meta["profile_image_url"]
        changes: dict[str, Any] = {"name": form.name, "meta": meta, "params": form.params,
                                   "is_active": form.is_active}
        if "base_model_id" in form.sent:
            base = None if form.base_model_id == model.model_id else form.base_model_id
            if not principal.is_admin and model.base_model_id and not base:
                raise Unauthorized(Detail.UNAUTHORIZED)
            changes["base_model_id"] = base
        if "access_control" in form.sent:
            changes["access_control"] = self._shared(principal, form.access_control)
        return clean_json(changes)

    def update(self, principal: Principal, form: ModelInput) -> Outcome[Model]:
        viewer = self.viewer(principal)

        def decide() -> tuple[Model, list[Any]]:
            model = self._live(form.id)
            if not self.can(viewer, model.user_id, model.access_control, "write"):
                raise BadRequest(Detail.ACCESS_PROHIBITED)
            with domain_errors(ModelError):
                model.update(commit_message=form.commit_message,
                             **self._changes(principal, model, form))
            return model, [model]

        return self.runner.run("models.update", decide)

    def access_update(self, principal: Principal, model_id: str, name: str | None,
                      access_control: dict[str, Any]) -> Outcome[Model]:
        """Replace a model's grants. As the reference, an admin may grant access to a model that
        has no entry yet (a connection's model): a bare entry is created for the grants."""
        viewer = self.viewer(principal)
        self._check_id(model_id)
        access = validated_sharing(principal, self.permissions(principal.id), access_control, "model")

        def decide() -> tuple[Model, list[Any]]:
            model = self._load(model_id)
            if model is None or model.deleted:
                if not principal.is_admin:
                    raise Forbidden(Detail.ACCESS_PROHIBITED)
                fields = {"base_model_id": None, "name": (name or model_id).replace("\x00", ""),
                          "meta": {}, "params": {}, "access_control": access, "is_active": True}
                model = self._born(principal, model, model_id, fields)
                return model, [model]
            if not self.can(viewer, model.user_id, model.access_control, "write"):
                raise BadRequest(Detail.ACCESS_PROHIBITED)
            model.update(access_control=access)
            return model, [model]

        return self.runner.run("models.access_update", decide)

    def _writable(self, viewer: Viewer | None, model_id: str) -> Model:
        model = self._live(model_id)
        if not self.can(viewer, model.user_id, model.access_control, "write"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        return model

    def toggle(self, principal: Principal, model_id: str) -> Outcome[Model]:
        viewer = self.viewer(principal)

        def decide() -> tuple[Model, list[Any]]:
            model = self._writable(viewer, model_id)
            with domain_errors(ModelError):
                model.toggle()
            return model, [model]

        return self.runner.run("models.toggle", decide)

    def delete(self, principal: Principal, model_id: str) -> Outcome[bool]:
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            model = self._writable(viewer, model_id)
            with domain_errors(ModelError):
                model.delete()
            return True, [model]

        return self.runner.run("models.delete", decide)

    def delete_all(self) -> Outcome[bool]:
        self._catch_up()

        def decide() -> tuple[bool, list[Any]]:
            doomed = [m for m in map(self._load, self.models.ids()) if m and not m.deleted]
            for model in doomed:
                model.delete()
            return True, doomed

        return self.runner.run("models.delete_all", decide)

    # -- import and sync ------------------------------------------------------------------
    def import_models(self, principal: Principal, items: list[ModelInput]) -> Outcome[bool]:
        """Create or update each model; importing the same file again records nothing.

        As the reference, models the caller may not write, or (for non-admins) models without
        a base model, are skipped rather than failing the whole import.
        """
        self._require(principal, "workspace.models_import")
        for item in items:
            self._check_id(item.id)
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            touched: dict[str, Model] = {}
            for item in items:
                model = touched.get(item.id) or self._load(item.id)
                changed = self._import_one(principal, viewer, model, item)
                if changed is not None:
                    touched[item.id] = changed
            return True, list(touched.values())

        return self.runner.run("models.import", decide)

    def _import_one(self, principal: Principal, viewer: Viewer | None, model: Model | None,
                    item: ModelInput) -> Model | None:
        if model is None or model.deleted:
            if "name" not in item.sent:
                raise BadRequest(Detail.REQUIRED_FIELD_EMPTY("name"))
            fields = self._fields(item, self._shared(principal, self._asked(item)))
            if not principal.is_admin and not fields["base_model_id"]:
                return None
            return self._born(principal, model, item.id, fields)
        if not self.can(viewer, model.user_id, model.access_control, "write"):
            return None
        try:
            changes = self._changes(principal, model, self._merged(model, item))
        except Unauthorized:
            return None  # a non-admin may not turn a preset into a base model
        with domain_errors(ModelError):
            model.update(**changes)
        return model

    @staticmethod
    def _merged(model: Model, item: ModelInput) -> ModelInput:
        """An imported model over a stored one: meta merges, absent fields keep their value."""
        kept = {k: getattr(model, k) for k in ("name", "is_active", "base_model_id")
                if k not in item.sent}
        return ModelInput(**{**vars(item), **kept, "meta": {**model.meta, **item.meta},
                             "sent": item.sent | {"base_model_id"}})

    def sync(self, principal: Principal, items: list[ModelInput]) -> Outcome[list[Model]]:
        """Make the stored models exactly `items`, all owned by the syncing admin (reference)."""
        for item in items:
            self._check_id(item.id)
            if "name" not in item.sent:
                raise BadRequest(Detail.REQUIRED_FIELD_EMPTY("name"))
        self._catch_up()

        def decide() -> tuple[list[Model], list[Any]]:
            kept: dict[str, Model] = {}
            for item in items:
                model = kept.get(item.id) or self._load(item.id)
                fields = self._fields(item, normalize_access_control(self._asked(item)))
                if model is None or model.deleted:
                    kept[item.id] = self._born(principal, model, item.id, fields)
                else:
                    model.update(user_id=principal.id, **fields)
                    kept[item.id] = model
            gone = [m for m in map(self._load, set(self.models.ids()) - set(kept))
                    if m and not m.deleted]
            for model in gone:
                model.delete()
            return list(kept.values()), [*kept.values(), *gone]

        return self.runner.run("models.sync", decide)


def aggregate_row(model: Model) -> Row:
    """A model as the API shows it, straight from the aggregate (answers to commands)."""
    return {"id": model.model_id, "user_id": model.user_id, "base_model_id": model.base_model_id,
            "name": model.name, "meta": model.meta, "params": model.params,
            "access_control": model.access_control, "is_active": model.is_active,
            "created_at": model.created_at, "updated_at": model.updated_at}
