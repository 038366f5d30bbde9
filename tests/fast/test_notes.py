"""Notes on the real NoteService over the in-memory store and a dict read model: who may do
what, private unless shared, merges, pins, and the editor's saves."""

from __future__ import annotations

from typing import Any

import pytest

from application.access import NoGroups, Viewer
from application.auth import Principal
from application.commands import CommandRunner
from application.errors import Forbidden, NotFound, Unauthorized
from application.notes import NoteFilter, NoteService
from domain.access import has_access
from domain.note import Note
from tests.fast.fakes import DictReadModel, Services

pytestmark = pytest.mark.fast
Row = dict[str, Any]


class FakeNotes(DictReadModel):
    kind = Note

    def row(self, note: Note) -> Row:
        return {"id": note.note_id, "user_id": note.user_id, "title": note.title,
                "data": note.data, "meta": note.meta, "access_control": note.access_control,
                "pins": list(note.pinned_by), "deleted": note.deleted,
                "created_at": note.created_at, "updated_at": note.updated_at}

    def _may(self, viewer: Viewer | None, permission: str) -> Any:
        return lambda r: not r["deleted"] and (viewer is None or has_access(
            r["access_control"], r["user_id"], viewer.user_id, viewer.group_ids, permission))

    def get(self, note_id: str) -> Row | None:
        row = self.rows.get(note_id)
        return dict(row) if row and not row["deleted"] else None

    def listing(self, viewer: Viewer, offset: int, limit: int | None) -> list[Row]:
        rows = self.where(self._may(viewer, "read"))
        return rows[offset:None if limit is None else offset + limit]

    def pinned(self, viewer: Viewer) -> list[Row]:
        may = self._may(viewer, "read")
        return self.where(lambda r: may(r) and viewer.user_id in r["pins"])

    def search(self, viewer: Viewer | None, flt: NoteFilter, offset: int,
               limit: int) -> tuple[list[Row], int]:
        may = self._may(viewer, "read" if flt.permission == "read" else "write")
        words = (flt.query or "").lower().split()
        rows = self.where(lambda r: may(r) and all(w in r["title"].lower() for w in words))
        return rows[offset:offset + limit], len(rows)

    def pinned_ids(self, user_id: str, note_ids: list[str]) -> set[str]:
        return {i for i in note_ids if user_id in self.rows[i]["pins"]}


@pytest.fixture
def notes(app: Services) -> NoteService:
    read = FakeNotes()
    app.store.listeners.append(read.project)
    return NoteService(app.store, CommandRunner(app.store), read, NoGroups(),
                       lambda _user_id: app.config.default_permissions(),
                       lambda: app.config.enabled("ENABLE_NOTES"))


def shared(read: tuple[str, ...] = (), write: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"read": {"user_ids": [*read, *write], "group_ids": []},
            "write": {"user_ids": list(write), "group_ids": []}}


def create(notes: NoteService, who: Principal, title: str = "Plan", **kw: Any) -> str:
    return notes.create(who, title, kw.get("data"), kw.get("meta"), kw.get("access"),
                        "access" in kw).value.note_id


def test_a_note_is_private_to_its_owner_and_the_admins(notes: NoteService, admin: Principal,
                                                       user: Principal, other: Principal) -> None:
    note_id = create(notes, user, data={"content": {"md": "hello"}})
    assert notes.get(user, note_id)[1] is True
    assert notes.get(admin, note_id)[1] is True
    with pytest.raises(Forbidden):
        notes.get(other, note_id)
    with pytest.raises(Forbidden):
        notes.update(other, note_id, "Mine now", None, None)
    assert [r["id"] for r in notes.listing(user, None)] == [note_id]
    assert notes.listing(other, None) == []
    assert notes.listing(admin, None) == []  # the plain list does not bypass access
    assert [r["id"] for r in notes.search(admin, NoteFilter(), 1)[0]] == [note_id]


def test_sharing_needs_the_sharing_permission(app: Services, notes: NoteService,
                                              user: Principal, other: Principal) -> None:
    dropped = create(notes, user, access=shared(read=(other.id,)))
    with pytest.raises(Forbidden):
        notes.get(other, dropped)  # sharing.notes is off by default: the grant was dropped
    app.config.update({"DEFAULT_PERMISSIONS": {"sharing": {"notes": True}}})
    kept = create(notes, user, access=shared(read=(other.id,)))
    assert notes.get(other, kept)[1] is False
    with pytest.raises(Forbidden):
        notes.delete(other, kept)


def test_users_need_the_notes_feature(app: Services, notes: NoteService, admin: Principal,
                                      user: Principal) -> None:
    app.config.update({"DEFAULT_PERMISSIONS": {"features": {"notes": False}}})
    with pytest.raises(Unauthorized):
        notes.listing(user, None)
    assert notes.listing(admin, None) == []
    app.config.update({"ENABLE_NOTES": False})
    with pytest.raises(Forbidden):
        notes.listing(admin, None)


def test_updates_merge_and_record_only_changes(app: Services, notes: NoteService,
                                               user: Principal) -> None:
    note_id = create(notes, user, data={"content": {"md": "a"}, "files": []}, meta={"k": 1})
    notes.update(user, note_id, None, {"content": {"md": "b"}}, {"j": 2})
    note, _ = notes.get(user, note_id)
    assert note.data == {"content": {"md": "b"}, "files": []}
    assert note.meta == {"k": 1, "j": 2}
    version = note.version
    assert notes.update(user, note_id, "Plan", {"content": {"md": "b"}}, None).position in (0, None)
    assert notes.get(user, note_id)[0].version == version


def test_editor_saves_need_write_access_and_record_only_news(notes: NoteService, user: Principal,
                                                             other: Principal) -> None:
    note_id = create(notes, user)
    assert notes.save_content(user, note_id, {"content": {"md": "typed"}}).value is True
    assert notes.save_content(user, note_id, {"content": {"md": "typed"}}).value is False
    with pytest.raises(Forbidden):
        notes.save_content(other, note_id, {"content": {"md": "vandal"}})
    assert notes.content(note_id) == {"md": "typed"}
    assert notes.can_open(user, note_id, write=True)
    assert not notes.can_open(other, note_id)


def test_pins_are_per_user(app: Services, notes: NoteService, user: Principal,
                           other: Principal) -> None:
    app.config.update({"DEFAULT_PERMISSIONS": {"sharing": {"notes": True}}})
    note_id = create(notes, user, access=shared(read=(other.id,)))
    assert notes.toggle_pin(other, note_id).value.pinned_by == [other.id]
    assert [r["id"] for r in notes.pinned(other)] == [note_id]
    assert notes.pinned(user) == []
    notes.toggle_pin(other, note_id)
    assert notes.pinned(other) == []


def test_unknown_and_deleted_notes_are_404(notes: NoteService, user: Principal) -> None:
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            notes.get(user, bad)
    note_id = create(notes, user)
    notes.delete(user, note_id)
    with pytest.raises(NotFound):
        notes.toggle_pin(user, note_id)
    assert not notes.can_open(user, note_id)
