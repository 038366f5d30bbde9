"""User, EmailClaim and Directory: replay reproduces state; there is always an admin."""

from __future__ import annotations

import uuid

from eventsourcing.application import Application
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.directory import DIRECTORY_ID, Directory, LastAdminError
from domain.user import ROLES, User, UserError

names = st.text(min_size=1, max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)


def state_of(user: User) -> dict:
    return {k: v for k, v in vars(user).items() if k not in ("_pending_events_",)
            and not k.startswith("_pending")}


class Users(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app: Application = Application()
        self.users: dict[str, User] = {}
        self.directory: Directory | None = None

    def _save(self, *aggregates: object) -> None:
        self.app.save(*aggregates)

    @rule(name=names, role=st.sampled_from(ROLES))
    def register(self, name: str, role: str) -> None:
        user_id = str(uuid.uuid4())
        first = self.directory is None
        user = User(user_id=user_id, email=f"{user_id}@x.org", name=name,
                    role="admin" if first else role, password_hash="h", profile_image_url="",
                    stamp="s")
        if first:
            self.directory = Directory(first_admin=user_id)
        elif user.role == "admin":
            self.directory.add_admin(user_id)
        self.users[user_id] = user
        self._save(user, self.directory)

    def _pick(self, data: st.DataObject) -> User:
        return self.users[data.draw(st.sampled_from(sorted(self.users)))]

    @precondition(lambda self: self.users)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def change_role(self, data: st.DataObject, role: str) -> None:
        user = self._pick(data)
        if user.deleted:
            return
        assert self.directory is not None
        try:
            if role == "admin":
                self.directory.add_admin(str(user.id))
            elif user.role == "admin":
                self.directory.remove_admin(str(user.id))
        except LastAdminError:
            assert self.directory.admins == [str(user.id)]
            return
        user.change_role(role)
        self._save(user, self.directory)

    @precondition(lambda self: self.users)
    @rule(data=st.data(), name=names, bio=st.none() | st.text(max_size=30))
    def update_profile(self, data: st.DataObject, name: str, bio: str | None) -> None:
        user = self._pick(data)
        try:
            user.update_profile(name=name, bio=bio)
        except UserError:
            assert user.deleted
            return
        self._save(user)

    @precondition(lambda self: self.users)
    @rule(data=st.data(), settings_=json_values, info=st.dictionaries(st.text(max_size=5),
                                                                      json_values, max_size=3))
    def documents(self, data: st.DataObject, settings_: object, info: dict) -> None:
        user = self._pick(data)
        if user.deleted:
            return
        user.update_settings({"ui": settings_})
        user.update_info(info)
        self._save(user)

    @precondition(lambda self: self.users)
    @rule(data=st.data())
    def password_and_keys(self, data: st.DataObject) -> None:
        user = self._pick(data)
        if user.deleted:
            return
        user.change_password("h2", "stamp-2")
        user.create_api_key("hash", "sk-...")
        user.delete_api_key()
        self._save(user)

    @precondition(lambda self: self.users)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        user = self._pick(data)
        if user.deleted:
            return
        assert self.directory is not None
        if user.role == "admin":
            try:
                self.directory.remove_admin(str(user.id))
            except LastAdminError:
                return
        user.delete()
        self._save(user, self.directory)

    @invariant()
    def replay_reproduces_state(self) -> None:
        for user_id, user in self.users.items():
            replayed = self.app.repository.get(uuid.UUID(user_id))
            assert state_of(replayed) == state_of(user)

    @invariant()
    def always_an_admin_once_one_exists(self) -> None:
        if self.directory is None:
            return
        stored = self.app.repository.get(DIRECTORY_ID)
        assert stored.admins == self.directory.admins
        assert stored.admins, "the last admin was removed"
        live_admins = [u for u in self.users.values() if u.role == "admin" and not u.deleted]
        assert sorted(str(u.id) for u in live_admins) == sorted(stored.admins)


Users.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestUsers = Users.TestCase


def test_deleted_user_refuses_commands() -> None:
    user = User(user_id=str(uuid.uuid4()), email="a@x.org", name="A", role="user",
                password_hash="h", profile_image_url="", stamp="s")
    user.delete()
    try:
        user.update_profile(name="B")
    except UserError:
        return
    raise AssertionError("a deleted user accepted a command")


def test_settings_patch_ui_key_by_key_as_0_12_4_does() -> None:
    user = User(user_id=str(uuid.uuid4()), email="a@x.org", name="A", role="user",
                password_hash="h", profile_image_url="", stamp="s")
    user.update_settings({"ui": {"version": "0.12.4", "theme": "dark", "models": ["m"]}})
    user.update_settings({"ui": {"theme": "light", "models": None}, "other": 1})
    assert user.settings == {"ui": {"version": "0.12.4", "theme": "light"}, "other": 1}
    versions = user.version
    user.update_settings({"ui": {"theme": "light"}})  # nothing changes: nothing recorded
    user.update_settings({"ui": None})  # null ui leaves it as it is
    assert user.version == versions and user.settings["ui"]["version"] == "0.12.4"
