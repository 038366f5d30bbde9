import json
import uuid

import pytest
from eventsourcing.application import Application

from domain.folder import Folder, FolderDeletedError, FolderError

USER = "user-1"


def event_names(folder):
    return [type(e).__name__ for e in folder.collect_events()]


def test_create():
    folder = Folder.create(
        USER, "Projects", meta={"icon": "📁"}, data={"system_prompt": "Be brief"}
    )
    assert folder.owner_id == folder.user_id == USER
    assert (folder.name, folder.parent_id, folder.is_expanded) == ("Projects", None, False)
    assert folder.meta == {"icon": "📁"} and folder.data == {"system_prompt": "Be brief"}
    assert folder.created_at == folder.updated_at == int(folder.created_on.timestamp())
    assert not folder.deleted
    assert event_names(folder) == ["Created"]


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_blank_names_are_rejected(name):
    with pytest.raises(FolderError):
        Folder.create(USER, name)


def test_explicit_id():
    folder_id = str(uuid.uuid4())
    assert Folder.create(USER, "a", folder_id=folder_id).id == uuid.UUID(folder_id)
    with pytest.raises(FolderError):
        Folder.create(USER, "a", folder_id="nope")


def test_commands_record_only_changes():
    folder = Folder.create(USER, "a")
    folder.collect_events()
    folder.rename("a")
    folder.rename("b")
    folder.move("parent-1")
    folder.move("parent-1")
    folder.set_expanded(False)
    folder.set_expanded(True)
    folder.update_meta({"icon": "x"})
    folder.update_meta({"icon": "x"})
    folder.update_data({"files": [], "model_ids": ["m"]})
    folder.update_data({"files": []})
    assert event_names(folder) == [
        "Renamed",
        "Moved",
        "ExpansionChanged",
        "MetaUpdated",
        "DataUpdated",
    ]
    assert (folder.name, folder.parent_id, folder.is_expanded) == ("b", "parent-1", True)
    assert folder.data == {"files": [], "model_ids": ["m"]}


def test_data_updates_merge_and_record_changed_keys_only():
    folder = Folder.create(USER, "a", data={"system_prompt": "x", "files": []})
    folder.collect_events()
    folder.update_data({"system_prompt": "y", "files": []})
    (updated,) = folder.collect_events()
    assert updated.changes == {"system_prompt": "y"}
    assert folder.data == {"system_prompt": "y", "files": []}


def test_folder_cannot_be_its_own_parent():
    folder = Folder.create(USER, "a")
    with pytest.raises(FolderError):
        folder.move(str(folder.id))
    folder.move(None)
    assert folder.parent_id is None


def test_deleted_folder_refuses_commands():
    folder = Folder.create(USER, "a")
    folder.collect_events()
    folder.delete()
    folder.delete()
    assert folder.deleted and event_names(folder) == ["Deleted"]
    for command in (
        lambda: folder.rename("b"),
        lambda: folder.move(None),
        lambda: folder.set_expanded(True),
        lambda: folder.update_meta({}),
        lambda: folder.update_data({}),
    ):
        with pytest.raises(FolderDeletedError):
            command()


@pytest.mark.parametrize("snapshot", [False, True])
def test_replay_reproduces_state(snapshot):
    folder = Folder.create(USER, "a", parent_id="p0", meta={"k": 1})
    folder.rename("b")
    folder.move("p1")
    folder.set_expanded(True)
    folder.update_meta({"icon": "i"})
    folder.update_data({"files": [{"id": "f"}]})
    folder.delete()
    app = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"} if snapshot else {})
    app.save(folder)
    if snapshot:
        app.take_snapshot(folder.id)
    loaded = app.repository.get(folder.id)
    assert loaded == folder
    state = {k: v for k, v in vars(loaded).items() if not k.startswith("_")}
    assert json.loads(json.dumps(state)) == state
