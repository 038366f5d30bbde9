"""Groups on the real services: membership, parents, effective permissions and group grants."""

from __future__ import annotations

import pytest

from application.auth import Principal
from application.errors import BadRequest, NotFound, Unauthorized
from application.groups import GroupMessages
from application.models import ModelInput
from application.permissions import EffectivePermissions, combine_permissions
from tests.fast.fakes import Services

pytestmark = pytest.mark.fast


def new_group(app: Services, admin: Principal, name: str = "g", parent: str | None = None,
              permissions: dict | None = None) -> str:
    made = app.groups.create(admin, name, "", permissions, None, parent).value
    return str(made["id"])


def shared_with(group_id: str) -> ModelInput:
    access = {"read": {"user_ids": [], "group_ids": [group_id]}}
    return ModelInput(id="shared", name="Shared", meta={}, params={}, base_model_id="llama3",
                      access_control=access, sent=frozenset({"access_control"}))


def test_combine_takes_the_most_permissive_value_at_every_depth() -> None:
    base = {"chat": {"delete": False, "edit": True}, "flag": False}
    combined = combine_permissions(base, {"chat": {"delete": True, "edit": False},
                                          "flag": True, "new": {"deep": {"x": True}}})
    assert combined == {"chat": {"delete": True, "edit": True}, "flag": True,
                        "new": {"deep": {"x": True}}}
    assert base == {"chat": {"delete": False, "edit": True}, "flag": False}  # not mutated
    effective = EffectivePermissions(lambda: {"a": {"b": False}},
                                     lambda user: [{"a": {"b": True}}] if user == "in" else [])
    assert effective("in") == {"a": {"b": True}} and effective("out") == {"a": {"b": False}}


def test_membership_is_what_the_aggregate_records(app: Services, admin: Principal,
                                                  user: Principal, other: Principal) -> None:
    group = new_group(app, admin)
    added = app.groups.add_users(group, [user.id, user.id, "nobody", other.id]).value
    assert added["member_count"] == 2
    assert app.groups.remove_users(group, [other.id, "nobody"]).value["member_count"] == 1
    assert [g["id"] for g in app.groups.of_user(user.id, False)] == [group]
    assert app.groups.of_user(other.id, False) == []
    assert app.groups.export(group)["user_ids"] == [user.id]


def test_unknown_groups_and_bad_parents(app: Services, admin: Principal) -> None:
    with pytest.raises(NotFound, match=GroupMessages.GROUP_NOT_FOUND):
        app.groups.add_users("not-a-group", [])
    with pytest.raises(NotFound, match=GroupMessages.PARENT_NOT_FOUND):
        new_group(app, admin, parent="00000000-0000-0000-0000-000000000000")
    with pytest.raises(BadRequest, match=GroupMessages.PARENT_EMPTY):
        new_group(app, admin, parent="")
    top = new_group(app, admin, "top")
    leaf = new_group(app, admin, "leaf", parent=top)
    with pytest.raises(BadRequest, match=GroupMessages.PARENT_CYCLE):
        app.groups.update(top, "top", "", None, None, (leaf,))
    app.groups.delete(top)
    with pytest.raises(NotFound):
        app.groups.delete(top)
    assert app.groups.get(leaf)["id"] == leaf


def test_parents_pass_membership_and_permissions_up(app: Services, admin: Principal,
                                                    user: Principal) -> None:
    top = new_group(app, admin, "top", permissions={"workspace": {"models": True}})
    leaf = new_group(app, admin, "leaf", parent=top)
    app.groups.add_users(leaf, [user.id])
    inherited = {g["id"]: g["membership_type"] for g in app.groups.of_user(user.id, True)}
    assert inherited == {leaf: "direct", top: "inherited"}
    assert app.groups.permissions(user)["workspace"]["models"] is True
    app.models.create(user, ModelInput(id="mine", name="Mine", meta={}, params={},
                                       base_model_id="llama3", access_control=None,
                                       sent=frozenset()))
    app.groups.update(leaf, "leaf", "", None, None, (None,))  # leaves its parent
    assert app.groups.permissions(user)["workspace"]["models"] is False


def test_a_group_grant_follows_membership(app: Services, admin: Principal,
                                          user: Principal) -> None:
    group = new_group(app, admin)
    app.models.create(admin, shared_with(group))
    with pytest.raises(Unauthorized):
        app.models.get(user, "shared")
    app.groups.add_users(group, [user.id])
    assert app.models.get(user, "shared")["id"] == "shared"
    app.groups.remove_users(group, [user.id])
    with pytest.raises(Unauthorized):
        app.models.get(user, "shared")
    app.groups.add_users(group, [user.id])
    app.groups.delete(group)
    with pytest.raises(Unauthorized):
        app.models.get(user, "shared")
    assert app.models.get(admin, "shared")["access_control"] == {}  # the grant is gone too


def test_deleting_a_user_takes_them_out_of_grants(app: Services, admin: Principal,
                                                  user: Principal, other: Principal) -> None:
    access = {"read": {"user_ids": [user.id, other.id], "group_ids": []}}
    app.models.create(admin, ModelInput(id="both", name="Both", meta={}, params={},
                                        base_model_id="llama3", access_control=access,
                                        sent=frozenset({"access_control"})))
    app.users.delete(admin, user.id)
    kept = app.models.get(admin, "both")["access_control"]
    assert kept == {"read": {"user_ids": [other.id], "group_ids": []}}
