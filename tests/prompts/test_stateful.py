"""Random prompt commands through the service; the lists must show what the access rules say.

After every step each user's workspace list and `/` menu hold exactly the prompts that user may
read (restated here from the grants the test gave), and every live prompt's history has one
version per text change; after every example a rebuild from position 0 gives identical tables.
Runs on both backends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from application.auth import Principal
from application.errors import Unauthorized
from application.prompts import PromptFilter, PromptInput
from domain.user import User
from projections.prompts import PromptsProjector
from projections.runtime import rebuild

STATEFUL = settings(max_examples=6, stateful_step_count=15, deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])
SHARES = ["private", "read-1", "write-2", "public"]  # who else may read: none, user 1, user 2, all
TEXTS = st.sampled_from(["alpha", "beta", "gamma"])


@dataclass
class Expected:
    owner: int
    share: str = "private"
    active: bool = True
    text: str = "alpha"
    versions: int = 1
    tags: list[str] = field(default_factory=list)

    def readable_by(self, who: int) -> bool:
        return (who == self.owner or self.share == "public"
                or (self.share, who) in (("read-1", 1), ("write-2", 2)))

    def writable_by(self, who: int) -> bool:
        return who == self.owner or (self.share, who) == ("write-2", 2)


def new_user(container: Any) -> Principal:
    user_id = str(uuid.uuid4())
    container.store.save(User(user_id=user_id, email=f"{user_id}@x.org", name="M", role="user",
                              password_hash="-", profile_image_url="", stamp="s"))
    return Principal(id=user_id, role="user", via="session")


def grants(share: str, users: list[Principal]) -> dict[str, Any]:
    if share == "private":
        return {}
    if share == "public":
        return {"read": {"user_ids": ["*"], "group_ids": []}}
    permission, who = share.split("-")
    return {permission: {"user_ids": [users[int(who)].id], "group_ids": []}}


class PromptMachine(RuleBasedStateMachine):
    prompts = Bundle("prompts")

    def __init__(self, container: Any):
        super().__init__()
        self.c = container
        self.svc = container.prompts
        self.users = [new_user(container) for _ in range(3)]
        self.admin = Principal(id=str(uuid.uuid4()), role="admin", via="session")
        self.expected: dict[str, Expected] = {}

    @rule(target=prompts, who=st.integers(0, 2), text=TEXTS, tagged=st.booleans())
    def create(self, who: int, text: str, tagged: bool) -> str:
        tags = ["t"] if tagged else []
        made = self.svc.create(self.users[who], PromptInput(
            command=f"c-{uuid.uuid4().hex[:12]}", name="n", content=text, tags=tags)).value
        self.expected[str(made.id)] = Expected(owner=who, text=text, tags=tags)
        return str(made.id)

    def _live(self, prompt_id: str) -> Expected | None:
        expected = self.expected.get(prompt_id)
        return expected if expected is not None and expected.versions > 0 else None

    @rule(prompt_id=prompts, who=st.integers(0, 2), text=TEXTS,
          message=st.sampled_from([None, "m"]))
    def revise(self, prompt_id: str, who: int, text: str, message: str | None) -> None:
        expected = self._live(prompt_id)
        if expected is None:
            return
        form = PromptInput(command=self.svc.get(self.admin, prompt_id)["command"], name="n",
                           content=text, tags=expected.tags, commit_message=message)
        if not expected.writable_by(who):
            try:
                self.svc.update(self.users[who], prompt_id, form)
            except Unauthorized:
                return
            raise AssertionError("a user without write access changed a prompt")
        self.svc.update(self.users[who], prompt_id, form)
        expected.versions += text != expected.text
        expected.text = text

    @rule(prompt_id=prompts, share=st.sampled_from(SHARES))
    def share(self, prompt_id: str, share: str) -> None:
        expected = self._live(prompt_id)
        if expected is not None:
            self.svc.access_update(self.admin, prompt_id, grants(share, self.users))
            expected.share = share

    @rule(prompt_id=prompts)
    def toggle(self, prompt_id: str) -> None:
        expected = self._live(prompt_id)
        if expected is not None:
            self.svc.toggle(self.users[expected.owner], prompt_id)
            expected.active = not expected.active

    @rule(prompt_id=prompts)
    def delete(self, prompt_id: str) -> None:
        expected = self._live(prompt_id)
        if expected is not None:
            self.svc.delete(self.users[expected.owner], prompt_id)
            expected.versions = 0

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def lists_follow_the_access_rules(self) -> None:
        assert self.c.host.wait(["prompts"], self.c.store.head(), 10.0)
        live = {k: e for k, e in self.expected.items() if e.versions > 0}
        for who, user in enumerate(self.users):
            rows, _ = self.svc.page(user, PromptFilter(), 1)
            listed = {r["id"]: r for r in rows if r["id"] in self.expected}
            assert set(listed) == {k for k, e in live.items() if e.readable_by(who)}
            assert all(r["write_access"] == live[k].writable_by(who) for k, r in listed.items())
            menu = {r["id"] for r in self.svc.menu(user) if r["id"] in self.expected}
            assert menu == {k for k, e in live.items() if e.readable_by(who) and e.active}
        for prompt_id, expected in live.items():
            row = self.svc.get(self.admin, prompt_id)
            assert row["content"] == expected.text and row["is_active"] == expected.active
            assert len(self.svc.history(self.admin, prompt_id, 0)) == expected.versions

    def teardown(self) -> None:
        """A rebuild from position 0 reproduces the read model exactly."""
        assert self.c.host.wait(["prompts"], self.c.store.head(), 10.0)
        before = dump(self.c.read_db)
        rebuild(PromptsProjector, self.c.read_db, self.c.reader)
        assert dump(self.c.read_db) == before
        for prompt_id in [k for k, e in self.expected.items() if e.versions > 0]:
            self.svc.delete(self.admin, prompt_id)  # the next example's lists start empty


def dump(db: Any) -> dict[str, Any]:
    return {t: sorted((tuple(sorted(r.items())) for r in db.query(f"SELECT * FROM {t}")), key=repr)
            for t in ("prompts", "prompt_access", "prompt_tags")}


def test_lists_follow_random_prompt_commands(container):
    container.config.update({"DEFAULT_PERMISSIONS": {"workspace": {"prompts": True}}})
    run_state_machine_as_test(lambda: PromptMachine(container), settings=STATEFUL)
