"""Who may read or write a workspace item, as Open WebUI 0.12.4 states it: access grants.

A grant is (principal type, principal id, permission): a user or a group, read or write; the
user "*" is everyone who is signed in. An item's grants are stored as the seeds'
`access_control` dict, which holds the same information:
`{"read"|"write": {"user_ids": [...], "group_ids": [...]}}`, with "*" among `user_ids` for
everyone. `{}` grants nothing (private to the owner). `None` means public read: events recorded
before grants were understood hold it, and seed clients still ask for it; its meaning is kept.

The owner may always read and write; whoever may write may also read (the app always grants
read with write). This module is the one definition of the rule: aggregates, projections and
services all use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EVERYONE = "*"
PERMISSIONS = ("read", "write")
PRINCIPAL_TYPES = ("user", "group")
PUBLIC = "public"  # the index key every signed-in user matches


@dataclass(frozen=True)
class Grant:
    principal_type: str  # "user" | "group"
    principal_id: str  # a user id, a group id, or "*" (every signed-in user)
    permission: str  # "read" | "write"

    @property
    def public(self) -> bool:
        return self.principal_type == "user" and self.principal_id == EVERYONE


def _unique(ids: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(i).replace("\x00", "") for i in ids if isinstance(i, str) and i))


def normalize_access_control(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """None stays public; anything else becomes read/write lists of unique ids (private if empty)."""
    if value is None:
        return None
    out: dict[str, Any] = {}
    for permission in PERMISSIONS:
        entry = value.get(permission)
        if isinstance(entry, dict):
            out[permission] = {kind: _unique(entry.get(kind) or [])
                               for kind in ("group_ids", "user_ids")}
    return out


def to_grants(access_control: dict[str, Any] | None) -> list[Grant]:
    """The grants an access_control dict holds, in a stable order, without repeats."""
    if access_control is None:
        return [Grant("user", EVERYONE, "read")]
    found: dict[Grant, None] = {}
    for permission in PERMISSIONS:
        entry = access_control.get(permission) or {}
        for kind in ("group", "user"):
            for principal_id in _unique(entry.get(f"{kind}_ids") or []):
                found[Grant(kind, principal_id, permission)] = None
    return list(found)


def from_grants(grants: Iterable[Grant]) -> dict[str, Any]:
    """Grants as an access_control dict (only the permissions granted; none: private)."""
    out: dict[str, Any] = {}
    for grant in grants:
        entry = out.setdefault(grant.permission, {"group_ids": [], "user_ids": []})
        ids = entry[f"{grant.principal_type}_ids"]
        if grant.principal_id not in ids:
            ids.append(grant.principal_id)
    return out


def seed_view(access_control: dict[str, Any] | None) -> dict[str, Any] | None:
    """The access_control a seed client expects: None when the item is public read and no more."""
    if to_grants(access_control) == [Grant("user", EVERYONE, "read")]:
        return None
    return access_control


def without_principal(access_control: dict[str, Any] | None, principal_type: str,
                      principal_id: str) -> dict[str, Any] | None:
    """The same grants, less every one naming that user or group (it was deleted)."""
    if access_control is None:
        return None
    return from_grants(g for g in to_grants(access_control)
                       if (g.principal_type, g.principal_id) != (principal_type, principal_id))


def index_key(grant: Grant) -> str:
    return PUBLIC if grant.public else f"{grant.principal_type}:{grant.principal_id}"


def grants(access_control: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(principal, permission) pairs for access indexes: principal is "public", "user:<id>" or
    "group:<id>". Whoever may write may also read, so write grants read as well."""
    found = {(index_key(g), g.permission) for g in to_grants(access_control)}
    return found | {(p, "read") for p, permission in found if permission == "write"}


def principals(user_id: str, group_ids: Iterable[str]) -> list[str]:
    """Everything a user is, for matching against `grants`."""
    return [PUBLIC, f"user:{user_id}", *(f"group:{g}" for g in group_ids)]


def has_access(access_control: dict[str, Any] | None, owner_id: str | None, user_id: str,
               group_ids: Iterable[str], permission: str) -> bool:
    if owner_id is not None and owner_id == user_id:
        return True
    granted = grants(access_control)
    return any((p, permission) in granted for p in principals(user_id, group_ids))
