"""Request/response models of /api/v1/models/* (Open WebUI 0.12.4 OpenAPI component names).

Access control travels as 0.12.4's `access_grants` (a list of {principal_type, principal_id,
permission}; the user "*" is everyone) or the seeds' `access_control` (None: public, {}: private,
or read/write lists of user and group ids); both are accepted, and answers carry both.
Inputs are bounded so hostile input fails with 422 before it reaches the log.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from application.models import ModelInput
from domain.access import Grant, from_grants, seed_view, to_grants
from interfaces.schemas.json_limits import JSON_DEPTH_MAX, json_depth

ID_MAX_CHARS = 1024  # hard cap (422); the reference's 256-character rule is a 400 in the app
NAME_MAX_CHARS = 1_000  # not in reference
PRINCIPAL_MAX_CHARS = 255  # user and group ids in access lists (not in reference)
ACCESS_LIST_MAX = 1_000  # ids per access list (not in reference)
META_MAX_BYTES = 4 * 1024 * 1024  # meta JSON, profile image data URI included (not in reference)
PARAMS_MAX_BYTES = 1024 * 1024  # params JSON: system prompt and settings (not in reference)
TAGS_MAX = 100  # not in reference
TAG_MAX_CHARS = 255  # not in reference
IMPORT_MAX = 1_000  # models per import or sync request (not in reference)
QUERY_MAX_CHARS = 1_000


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def check_json(value: Any, max_bytes: int) -> Any:
    # Depth first: encoding (or later copying) very deep data recurses past Python's limit.
    if json_depth(value) > JSON_DEPTH_MAX:
        raise ValueError(f"must nest at most {JSON_DEPTH_MAX} levels deep")
    if len(json.dumps(value, default=str)) > max_bytes:
        raise ValueError(f"must be at most {max_bytes} bytes of JSON")
    return value


def json_bytes(max_bytes: int) -> AfterValidator:
    """A JSON value bounded in size and nesting depth."""
    return AfterValidator(lambda value: check_json(value, max_bytes))


ModelId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_CHARS,
                                           pattern=r"^\S+$"), AfterValidator(no_nul)]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS), AfterValidator(no_nul)]
PrincipalId = Annotated[str, StringConstraints(min_length=1, max_length=PRINCIPAL_MAX_CHARS),
                        AfterValidator(no_nul)]
QueryText = Annotated[str, StringConstraints(max_length=QUERY_MAX_CHARS)]
Params = Annotated[dict[str, Any], json_bytes(PARAMS_MAX_BYTES)]
COMMIT_MESSAGE_MAX_CHARS = 10_000  # not in reference
CommitMessage = Annotated[str, StringConstraints(max_length=COMMIT_MESSAGE_MAX_CHARS),
                          AfterValidator(no_nul)]


# -- access control ---------------------------------------------------------------------------
class AccessList(BaseModel):
    group_ids: list[PrincipalId] = Field(default_factory=list, max_length=ACCESS_LIST_MAX)
    user_ids: list[PrincipalId] = Field(default_factory=list, max_length=ACCESS_LIST_MAX)


class AccessControl(BaseModel):
    read: AccessList | None = None
    write: AccessList | None = None

    def value(self) -> dict[str, Any]:
        return {k: v.model_dump() for k, v in (("read", self.read), ("write", self.write)) if v}


class AccessGrantIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    principal_type: Literal["user", "group"]
    principal_id: PrincipalId
    permission: Literal["read", "write"]


def grants_to_access_control(grants: list[AccessGrantIn]) -> dict[str, Any]:
    """The reference's grant list as an access_control dict (none: private)."""
    return from_grants(Grant(g.principal_type, g.principal_id, g.permission) for g in grants)


def access_grants(resource_type: str, resource_id: str, access_control: dict[str, Any] | None,
                  created_at: int) -> list[dict[str, Any]]:
    """access_control as the reference's AccessGrantModel list (ids derived, so stable)."""
    return [{"id": grant_id(resource_type, resource_id, g.principal_type, g.principal_id,
                            g.permission),
             "resource_type": resource_type, "resource_id": resource_id,
             "principal_type": g.principal_type, "principal_id": g.principal_id,
             "permission": g.permission, "created_at": created_at}
            for g in to_grants(access_control)]


def access_view(resource_type: str, row: dict[str, Any], created_at: int) -> dict[str, Any]:
    """A row with its grants in both forms: 0.12.4's `access_grants`, the seeds' `access_control`."""
    return {**row, "access_control": seed_view(row["access_control"]),
            "access_grants": access_grants(resource_type, row["id"], row["access_control"],
                                           created_at)}


@functools.lru_cache(maxsize=65536)
def grant_id(resource_type: str, resource_id: str, principal_type: str, principal_id: str,
             permission: str) -> str:
    """A stable id for a grant (lists repeat the same grants request after request)."""
    key = f"{resource_type}:{resource_id}:{principal_type}:{principal_id}:{permission}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


class AccessForm(BaseModel):
    """Either form of access control. `access_grants` (0.12.4's, canonical) wins over the seeds'
    `access_control`; `null` grants mean private, while a seed's `access_control: null` means
    public (its documented meaning)."""

    access_control: AccessControl | None = None
    access_grants: list[AccessGrantIn] | None = Field(default=None, max_length=2 * ACCESS_LIST_MAX)

    def access(self, grants_count: bool = True) -> tuple[bool, dict[str, Any] | None]:
        """(sent, value). On an update the app's grants do not count: as 0.12.4, only
        `…/access/update` changes them (the app sends the item's grants back with every
        edit, and a grantee's edit must not strip what an admin shared)."""
        if grants_count and "access_grants" in self.model_fields_set:
            return True, grants_to_access_control(self.access_grants or [])
        if "access_control" in self.model_fields_set:
            return True, None if self.access_control is None else self.access_control.value()
        return False, None


class AccessGrantsForm(BaseModel):
    """The body of `…/access/update`: the item's new grants, all of them."""

    model_config = ConfigDict(extra="ignore")

    access_grants: list[AccessGrantIn] = Field(max_length=2 * ACCESS_LIST_MAX)

    def value(self) -> dict[str, Any]:
        return grants_to_access_control(self.access_grants)


class ModelAccessGrantsForm(AccessGrantsForm):
    id: ModelId
    name: Name | None = None


# -- requests ---------------------------------------------------------------------------------
class ModelMeta(BaseModel):
    """Free-form metadata (description, profile image, capabilities, tags, ...), bounded."""

    model_config = ConfigDict(extra="allow")

    profile_image_url: str | None = None
    description: str | None = None
    capabilities: dict[str, Any] | None = None
    tags: list[dict[str, Any]] | None = Field(default=None, max_length=TAGS_MAX)

    @model_validator(mode="before")
    @classmethod
    def _tags_as_objects(cls, data: Any) -> Any:
        """Tags as {"name": ...} objects, as the reference normalises plain strings."""
        if isinstance(data, dict) and isinstance(data.get("tags"), list):
            data = {**data, "tags": [{"name": t} if isinstance(t, str) else t
                                     for t in data["tags"]]}
        return data

    @model_validator(mode="after")
    def _bounded(self) -> ModelMeta:
        for tag in self.tags or []:
            name = tag.get("name")
            if not isinstance(name, str) or len(name) > TAG_MAX_CHARS:
                raise ValueError(f"each tag needs a name of at most {TAG_MAX_CHARS} characters")
        check_json(self.value(), META_MAX_BYTES)
        return self

    def value(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ModelForm(AccessForm):
    model_config = ConfigDict(extra="ignore")

    id: ModelId
    base_model_id: ModelId | None = None
    name: Name
    meta: ModelMeta
    params: Params
    is_active: bool = True
    commit_message: CommitMessage | None = None  # for the model's history

    def to_input(self, update: bool = False) -> ModelInput:
        sent, access = self.access(grants_count=not update)
        optional = {"base_model_id", "is_active", "name", "meta", "params"}
        return ModelInput(id=self.id, name=self.name, meta=self.meta.value(),
                          params=self.params, base_model_id=self.base_model_id,
                          access_control=access, is_active=self.is_active,
                          sent=frozenset((self.model_fields_set & optional)
                                         | ({"access_control"} if sent else set())),
                          commit_message=self.commit_message or None)


class ModelImportItem(ModelForm):
    """An exported model: anything but the id may be missing (it then keeps its value)."""

    name: Name = ""
    meta: ModelMeta = Field(default_factory=ModelMeta)
    params: Params = Field(default_factory=dict)


class ModelsImportForm(BaseModel):
    models: list[ModelImportItem] = Field(max_length=IMPORT_MAX)


class SyncModelsForm(BaseModel):
    models: list[ModelImportItem] = Field(default_factory=list, max_length=IMPORT_MAX)


class ModelIdForm(BaseModel):
    id: ModelId


# -- responses --------------------------------------------------------------------------------
class UserResponse(BaseModel):
    id: str
    name: str
    role: str
    email: str


class ModelModel(BaseModel):
    id: str
    user_id: str
    base_model_id: str | None = None
    name: str
    params: dict[str, Any]
    meta: dict[str, Any]
    access_control: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] = Field(default_factory=list)
    is_active: bool
    updated_at: int
    created_at: int


ModelResponse = ModelModel


class ModelAccessResponse(ModelModel):
    user: UserResponse | None = None
    write_access: bool | None = False


class ModelAccessListResponse(BaseModel):
    """The spec's page shape; `items` repeats `data` for the 0.12.4 frontend."""

    data: list[ModelAccessResponse]
    items: list[ModelAccessResponse]
    total: int
    page: int
    size: int


def model_view(row: dict[str, Any]) -> dict[str, Any]:
    """A model row (read model or aggregate) with its access grants, ready to serialise."""
    return access_view("model", row, row["updated_at"])
