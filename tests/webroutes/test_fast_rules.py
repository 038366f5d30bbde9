"""The rules of the web app's new use cases on the real services (fakes for storage): adding a
user, user variables, the time zone, banners, the archived count and the global search."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.auth import Principal
from application.errors import BadRequest
from application.search import PAGE_SIZE, SearchRequest, WorkspaceSearch
from tests.chats.helpers import chat_doc
from tests.fast.fakes import Services, services

pytestmark = pytest.mark.fast


@pytest.fixture
def app() -> Services:
    return services()


def _signed_up(app: Services, name: str, role: str = "user") -> Principal:
    """The first sign-up is the admin; later ones are made `role` by that admin."""
    session, _ = app.auth.signup(name, f"{name.lower()}@x.org", "pw", None)
    who = Principal(id=str(session.user.id), role=session.user.role, via="session")
    if who.role == role:
        return who
    admin = next(r["id"] for r in app.read["users"].where(lambda r: r["role"] == "admin"))
    app.users.admin_update(Principal(id=admin, role="admin", via="session"), who.id, role,
                           None, None, None, None)
    return Principal(id=who.id, role=role, via="session")


def test_an_added_user_has_the_role_given_and_signs_in(app: Services) -> None:
    _signed_up(app, "Ada", "admin")
    session, _ = app.auth.add_user("Eve", "EVE@x.org", "pw", None, "admin")
    assert (session.user.email, session.user.role) == ("eve@x.org", "admin")
    assert app.auth.authenticate(session.token).role == "admin"
    signed, _ = app.auth.signin("eve@x.org", "pw")
    assert str(signed.user.id) == str(session.user.id)
    pending, _ = app.auth.add_user("Pat", "pat@x.org", "pw", None, None)
    assert pending.user.role == "pending"


@pytest.mark.parametrize(("email", "role"), [("eve@x.org", "owner"), ("not-an-email", "user"),
                                             ("ada@x.org", "user")])
def test_adding_a_user_refuses_bad_input_and_writes_nothing(app: Services, email: str,
                                                           role: str) -> None:
    _signed_up(app, "Ada", "admin")
    before = app.store.head()
    with pytest.raises(BadRequest):
        app.auth.add_user("Eve", email, "pw", None, role)
    assert app.store.head() == before


def test_variables_replace_whole_and_are_checked(app: Services) -> None:
    _signed_up(app, "Ada", "admin")
    bob = _signed_up(app, "Bob")
    assert app.users.variables(bob) == {}
    app.users.update_variables(bob, {"city": "Oslo\r\nNorth"})
    assert app.users.variables(bob) == {"city": "Oslo\nNorth"}
    app.users.update_variables(bob, {"team": "blue"})
    assert app.users.variables(bob) == {"team": "blue"}
    before = app.store.head()
    for bad in ({"9lives": "x"}, {"ok": 1}, {"big": "x" * 20_001}, {"k": "x" * 100_000}):
        with pytest.raises(BadRequest):
            app.users.update_variables(bob, bad)
    assert app.store.head() == before and app.users.variables(bob) == {"team": "blue"}


def test_the_time_zone_is_recorded_once_per_change(app: Services) -> None:
    ada = _signed_up(app, "Ada", "admin")
    app.users.set_timezone(ada, "Europe/Oslo")
    head = app.store.head()
    app.users.set_timezone(ada, "Europe/Oslo")  # the app sends it on every load
    assert app.store.head() == head
    assert app.store.get(UUID(ada.id)).timezone == "Europe/Oslo"


def test_banners_are_config_events(app: Services) -> None:
    banner = {"id": "b1", "type": "info", "title": None, "content": "Hi", "dismissible": True,
              "timestamp": 1, "i18n": None}
    outcome = app.config.set_banners([banner])
    assert outcome.value == [banner] and outcome.position > 0
    assert app.config.banners() == [banner]


def test_archived_count_counts_the_callers_archived_chats(app: Services) -> None:
    _signed_up(app, "Ada", "admin")
    bob, cy = _signed_up(app, "Bob"), _signed_up(app, "Cy")
    chats = [app.chats.create(bob, chat_doc(f"c{i}", "hi")).value for i in range(3)]
    for chat in chats[:2]:
        app.chats.toggle_archive(bob, str(chat.id))
    assert app.chats.archived_count(bob) == 2 and app.chats.archived_count(cy) == 0


def test_search_pages_the_callers_chats_only(app: Services) -> None:
    _signed_up(app, "Ada", "admin")
    bob, cy = _signed_up(app, "Bob"), _signed_up(app, "Cy")
    for i in range(PAGE_SIZE + 1):
        app.chats.create(bob, chat_doc(f"bread {i}", "hi"))
    app.chats.create(cy, chat_doc("bread of Cy", "hi"))
    search = WorkspaceSearch(app.read["chats"], app.read["folders"])  # type: ignore[arg-type]
    first = search.search(bob, SearchRequest(query="bread"))
    assert len(first["items"]) == PAGE_SIZE and first["has_more"] is True
    second = search.search(bob, SearchRequest(query="bread", page=2))
    assert len(second["items"]) == 1 and second["has_more"] is False
    titles = {i["title"] for i in first["items"] + second["items"]}
    assert "bread of Cy" not in titles and first["kinds"] == ["chat"]
    assert search.search(bob, SearchRequest(query="bread", kind="note"))["items"] == []


def test_a_knowledge_base_records_a_rename_once() -> None:
    from domain.knowledge import KnowledgeBase, KnowledgeDeletedError

    kb = KnowledgeBase(knowledge_id="kb-1", user_id="u-1", name="Draft", description="",
                       access_control=None, meta=None)
    assert kb.update("Final", "About") is True
    assert kb.update("Final", "About") is False
    assert [type(e).__name__ for e in kb.collect_events()] == ["Created", "Updated"]
    assert (kb.name, kb.description) == ("Final", "About")
    kb.delete()
    with pytest.raises(KnowledgeDeletedError):
        kb.update("Again", "x")
