"""Random chat commands through the application; the read models must agree with the aggregates.

After every step the list, pinned, archived, tag and search read models equal what a model
computes from the aggregates themselves; after every example a rebuild from position 0 gives
identical read-model tables. Runs on both backends: their search engines (FTS5, tsvector)
differ, which is what this checks most.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import eventsourcing.domain
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from application.auth import Principal
from application.chat_queries import WORD, ListFilter, parse_search
from application.chats import ImportedChat
from application.errors import BadRequest, NotFound
from domain.chat import Chat
from domain.folder import Folder
from domain.user import User
from projections.chat_folders import FoldersProjector
from projections.chats import ChatsProjector, message_text
from projections.runtime import rebuild
from tests.chats.helpers import chat_doc, with_message

VOCAB = ["apple", "apricot", "banana", "cherry", "date"]
TEXT = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join)
TAGS = st.sampled_from(["work", "home"])
FOLDER_NAMES = st.sampled_from(["f0", "f1"])
SEARCHES = ["", "apple", "ap", "banana cherry", '"banana cherry"', "apple tag:work",
            "pinned:true", "archived:true cherry", "shared:true", "folder:f0", "tag:none date"]
# No shrinking: every step waits for real projectors, so shrinking a failure would take many
# minutes; a failure reports its (at most 20-step) sequence as found.
STATEFUL = settings(max_examples=8, stateful_step_count=20, deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])


class Clock:
    """Event time that moves 0.6 s per event: timestamps are whole seconds, so a real clock
    would hide every mistake in updated_at (and ties still happen, to test their order)."""

    START = datetime(2030, 1, 1, tzinfo=UTC)

    def __init__(self) -> None:
        self.now = self.START
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.now = self.START

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=0.6)
            return self.now


def new_user(container: Any) -> Principal:
    user_id = str(uuid.uuid4())
    container.store.save(User(user_id=user_id, email=f"{user_id}@x.org", name="M", role="user",
                              password_hash="-", profile_image_url="", stamp="s"))
    return Principal(id=user_id, role="user", via="session")


class ChatMachine(RuleBasedStateMachine):
    chats = Bundle("chats")

    def __init__(self, container: Any, clock: Clock):
        super().__init__()
        clock.reset()  # the same steps give the same timestamps: examples replay exactly
        self.c = container
        self.svc = container.chats
        self.users = [new_user(container), new_user(container)]
        self.alive = [True, True]
        self.chat_ids: list[list[str]] = [[], []]
        self.folder_ids: list[list[str]] = [[], []]
        self.stale: dict[str, dict[str, Any]] = {}

    # -- the model: computed from the aggregates --------------------------------------------
    def _chats(self, who: int) -> list[Chat]:
        if not self.alive[who]:
            return []
        loaded = (self.c.store.get(uuid.UUID(i)) for i in dict.fromkeys(self.chat_ids[who]))
        return [c for c in loaded if c is not None and not c.deleted]

    def _folders(self, who: int) -> list[Folder]:
        loaded = (self.c.store.get(uuid.UUID(i)) for i in self.folder_ids[who])
        return [f for f in loaded if f is not None and not f.deleted]

    def _owns(self, who: int, chat_id: str) -> bool:
        return any(str(c.id) == chat_id for c in self._chats(who))

    def _act(self, who: int, chat_id: str, command: Any) -> None:
        """Run a command as `who`: it must succeed exactly when `who` owns the live chat."""
        if not self.alive[who]:
            return  # a deleted user can no longer sign in to send anything
        expected = self._owns(who, chat_id)
        try:
            command(self.users[who])
        except NotFound:
            assert not expected, "the owner was refused"
            return
        assert expected, "someone reached a chat not theirs"

    # -- rules ------------------------------------------------------------------------------
    @rule(target=chats, who=st.integers(0, 1), title=TEXT, text=TEXT,
          tags=st.lists(TAGS, max_size=2))
    def create(self, who: int, title: str, text: str, tags: list[str]) -> Any:
        if not self.alive[who]:
            return multiple()
        chat = self.svc.create(self.users[who], chat_doc(title, text), tags=tags).value
        self.chat_ids[who].append(str(chat.id))
        self.stale[str(chat.id)] = chat.to_chat_json()
        return (who, str(chat.id))

    @rule(ref=chats, text=TEXT, intruder=st.booleans())
    def append(self, ref: tuple[int, str], text: str, intruder: bool) -> None:
        who, chat_id = ref
        who = 1 - who if intruder else who  # another user's full save is refused too

        def command(user: Principal) -> None:
            doc = with_message(self.svc.own(user, chat_id).to_chat_json(), text)
            asyncio.run(self.svc.update(user, chat_id, doc))

        self._act(who, chat_id, command)

    @rule(ref=chats, text=TEXT)
    def stale_append(self, ref: tuple[int, str], text: str) -> None:
        """A client holding the chat as created saves it with one more message."""
        who, chat_id = ref

        def command(user: Principal) -> None:
            before = set(self.svc.own(user, chat_id).messages)
            doc = with_message(dict(self.stale[chat_id], history={
                "messages": dict(self.stale[chat_id]["history"]["messages"]),
                "currentId": self.stale[chat_id]["history"]["currentId"]}), text)
            chat, _ = asyncio.run(self.svc.update(user, chat_id, doc)).value
            assert before < set(chat.messages)  # nothing dropped, one added

        self._act(who, chat_id, command)

    @rule(ref=chats, text=TEXT, title=st.booleans())
    def edit(self, ref: tuple[int, str], text: str, title: bool) -> None:
        who, chat_id = ref
        if title:
            self._act(who, chat_id,
                      lambda u: asyncio.run(self.svc.update(u, chat_id, {"title": text})))
        else:
            self._act(who, chat_id,
                      lambda u: asyncio.run(self.svc.upsert_message(u, chat_id, "m0", text)))

    @rule(ref=chats, text=TEXT)
    def stream_delta(self, ref: tuple[int, str], text: str) -> None:
        who, chat_id = ref
        self._act(who, chat_id, lambda u: asyncio.run(self.svc.message_event(
            u, chat_id, "m0", "chat:message:delta", {"content": " " + text})))

    @rule(ref=chats)
    def pin(self, ref: tuple[int, str]) -> None:
        who, chat_id = ref
        self._act(who, chat_id, lambda u: self.svc.toggle_pin(u, chat_id))

    @rule(ref=chats)
    def archive(self, ref: tuple[int, str]) -> None:
        who, chat_id = ref
        self._act(who, chat_id, lambda u: self.svc.toggle_archive(u, chat_id))

    @rule(ref=chats, on=st.booleans())
    def share(self, ref: tuple[int, str], on: bool) -> None:
        who, chat_id = ref
        call = self.svc.share if on else self.svc.unshare
        self._act(who, chat_id, lambda u: call(u, chat_id))

    @rule(ref=chats)
    def delete(self, ref: tuple[int, str]) -> None:
        who, chat_id = ref
        self._act(who, chat_id, lambda u: self.svc.delete(u, chat_id))

    @rule(ref=chats, command=st.sampled_from(["toggle_pin", "toggle_archive", "share", "delete",
                                               "unshare"]))
    def intrude(self, ref: tuple[int, str], command: str) -> None:
        """The other user tries a command on the chat: refused like an unknown chat."""
        who, chat_id = ref
        self._act(1 - who, chat_id, lambda u: getattr(self.svc, command)(u, chat_id))

    @rule(ref=chats, tag=TAGS, add=st.booleans())
    def tag(self, ref: tuple[int, str], tag: str, add: bool) -> None:
        who, chat_id = ref
        call = self.svc.add_tag if add else self.svc.remove_tag
        self._act(who, chat_id, lambda u: call(u, chat_id, tag))

    @rule(who=st.integers(0, 1), archive=st.booleans())
    def archive_all(self, who: int, archive: bool) -> None:
        if self.alive[who]:
            user = self.users[who]
            (self.svc.archive_all if archive else self.svc.unarchive_all)(user)

    @rule(who=st.integers(0, 1), name=FOLDER_NAMES)
    def create_folder(self, who: int, name: str) -> None:
        if not self.alive[who]:
            return
        taken = any(f.name == name and f.parent_id is None for f in self._folders(who))
        try:
            folder = self.c.folders.create(self.users[who], name).value
        except BadRequest:
            assert taken
            return
        assert not taken
        self.folder_ids[who].append(str(folder.id))

    @rule(ref=chats, index=st.integers(0, 3))
    def file(self, ref: tuple[int, str], index: int) -> None:
        who, chat_id = ref
        folders = self._folders(who)
        folder_id = str(folders[index].id) if index < len(folders) else None
        self._act(who, chat_id, lambda u: self.svc.move_to_folder(u, chat_id, folder_id))

    @rule(target=chats, ref=chats)
    def clone(self, ref: tuple[int, str]) -> Any:
        who, chat_id = ref
        if not self._owns(who, chat_id):
            return multiple()
        copy = self.svc.clone(self.users[who], chat_id, None).value
        self.chat_ids[who].append(str(copy.id))
        self.stale[str(copy.id)] = copy.to_chat_json()
        return (who, str(copy.id))

    @rule(target=chats, ref=chats, to=st.integers(0, 1))
    def import_copy(self, ref: tuple[int, str], to: int) -> Any:
        """Import a chat's export twice: the second import adds nothing."""
        who, chat_id = ref
        if not self._owns(who, chat_id) or not self.alive[to]:
            return multiple()
        item = ImportedChat(chat=self.svc.own(self.users[who], chat_id).to_chat_json())
        first = self.svc.import_chats(self.users[to], [item]).value
        again = self.svc.import_chats(self.users[to], [item]).value
        assert [c.id for c in first] == [c.id for c in again]
        new_id = str(first[0].id)
        assert (new_id == chat_id) == (to == who)  # one's own export lands on itself
        self.chat_ids[to].append(new_id)
        self.stale.setdefault(new_id, first[0].to_chat_json())
        return (to, new_id)

    @precondition(lambda self: self.alive[1])
    @rule()
    def delete_user(self) -> None:
        admin = Principal(id=str(uuid.uuid4()), role="admin", via="session")
        self.c.users.delete(admin, self.users[1].id)
        self.alive[1] = False

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def read_models_agree_with_the_aggregates(self) -> None:
        assert self.c.host.wait(["chats", "folders"], self.c.store.head(), 10.0)
        for who, user in enumerate(self.users):
            chats = self._chats(who)
            assert self._lists(user) == self._expected_lists(chats)
            for text in SEARCHES:
                found = [r["id"] for r in self.svc.search(user, text, 1)]
                assert found == self._expected_search(who, chats, text), text

    def _lists(self, user: Principal) -> dict[str, Any]:
        def rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            return [(r["id"], r["title"], r["updated_at"], r["created_at"], r["pinned"],
                     r["archived"], r["folder_id"]) for r in items]

        return {
            "list": rows(self.svc.list_chats(user, None, False, False, None, None)),
            "pinned": rows(self.svc.pinned(user)),
            "archived": rows(self.svc.list_filtered(user.id, True, 1, None, None, None)),
            "all": rows(self.svc.everything(user.id)),
            "tags": self.svc.tags(user),
            "work": [r["id"] for r in self.svc.by_tag(user, "work", 0, 50)],
        }

    @staticmethod
    def _expected_lists(chats: list[Chat]) -> dict[str, Any]:
        newest = sorted(chats, key=lambda c: (-c.updated_at, str(c.id)))

        def rows(items: list[Chat]) -> list[tuple[Any, ...]]:
            return [(str(c.id), c.title, c.updated_at, c.created_at, c.pinned, c.archived,
                     c.folder_id) for c in items]

        return {
            "list": rows([c for c in newest if not (c.pinned or c.archived or c.folder_id)]),
            "pinned": rows([c for c in newest if c.pinned and not c.archived]),
            "archived": rows([c for c in newest if c.archived]),
            "all": rows(newest),
            "tags": sorted({t for c in chats if not c.archived for t in c.tags}),
            "work": [str(c.id) for c in newest if "work" in c.tags],
        }

    def _expected_search(self, who: int, chats: list[Chat], text: str) -> list[str]:
        folders = self._folders(who)
        query = parse_search(text, lambda names: [str(f.id) for f in folders
                                                  if f.name.lower() in names])
        ranked = []
        for chat in chats:
            rows = [chat.title, *(message_text(m) for m in chat.messages.values())]
            if matches(chat, query, [r.lower() for r in rows]):
                exact = bool(query.needle) and any(query.needle in r.lower() for r in rows)
                ranked.append((0 if exact else 1, -chat.updated_at, str(chat.id)))
        return [chat_id for _, _, chat_id in sorted(ranked)][:60]

    def teardown(self) -> None:
        """A rebuild from position 0 reproduces the read models exactly."""
        assert self.c.host.wait(["chats", "folders"], self.c.store.head(), 10.0)
        before = dump(self.c.read_db)
        for projector in (ChatsProjector, FoldersProjector):
            rebuild(projector, self.c.read_db, self.c.reader)
        assert dump(self.c.read_db) == before


def matches(chat: Chat, query: Any, rows: list[str]) -> bool:
    """The search semantics, restated over the aggregate."""
    if chat.archived != bool(query.archived) or (
            query.pinned is not None and chat.pinned != query.pinned) or (
            query.shared is not None and (chat.share_id is not None) != query.shared):
        return False
    if "none" in query.tags and chat.tags or not set(query.tags) - {"none"} <= set(chat.tags):
        return False
    if query.folder_ids is not None and chat.folder_id not in query.folder_ids:
        return False
    tokens = [WORD.findall(r) for r in rows]
    words_ok = all(any(t.startswith(w) for row in tokens for t in row) for w in query.words)
    phrases_ok = all(any(contains(row, p) for row in tokens) for p in query.phrases)
    if not query.words and not query.phrases and query.needle:
        return any(query.needle in r for r in rows)
    return words_ok and phrases_ok


def contains(tokens: list[str], phrase: list[str]) -> bool:
    return any(tokens[i:i + len(phrase)] == phrase for i in range(len(tokens)))


def dump(db: Any) -> dict[str, Any]:
    """Every read-model row of chats and folders (row ids aside), order-independent."""
    tables = {"chat_list": "*", "chat_tags": "*", "chat_gone_users": "*", "folders": "*",
              "chat_text": "chat_id, kind, message_id, user_id, body, body_lc"}
    return {t: sorted((tuple(sorted(r.items())) for r in db.query(f"SELECT {cols} FROM {t}")),
                      key=repr) for t, cols in tables.items()}


def test_read_models_follow_random_chat_commands(container, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", clock)
    run_state_machine_as_test(lambda: ChatMachine(container, clock), settings=STATEFUL)


def test_list_filter_defaults_match_the_reference():
    assert ListFilter() == ListFilter(include_pinned=True, include_folders=True, archived=False)
