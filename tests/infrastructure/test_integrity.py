"""Events altered or removed directly in the database break the hash chain."""

from __future__ import annotations

import json
import struct
import uuid

import pytest

from domain.user import User
from infrastructure.integrity import verify_chains
from infrastructure.keys import derive_kek
from infrastructure.mapper import FORMAT, split_state
from tests.conftest import built
from tests.operations.helpers import events_sql


@pytest.fixture
def container(settings_env):
    with built(settings_env, run_projectors=False) as c:
        yield c


def history(container, n_users: int = 3, updates: int = 4) -> list[User]:
    users = [User(user_id=str(uuid.uuid4()), email=f"{i}@x.org", name=f"U{i}", role="user",
                  password_hash="-", profile_image_url="", stamp="s") for i in range(n_users)]
    container.store.save(*users)
    for i in range(updates):
        loaded = [container.store.get(u.id) for u in users]  # reload: chain head from the log
        for user in loaded:
            user.update_profile(name=f"v{i}")
        container.store.save(*loaded)
    return users


def problems(container) -> list:
    key = derive_kek(container.settings.secret_key(), b"event-chain")
    return list(verify_chains(container.store, key))


sql = events_sql  # behind the application's back


def test_intact_log_verifies(container):
    history(container)
    assert problems(container) == []


def test_altered_event_is_detected(container):
    users = history(container)
    target = container.store.select(0, 100)[5]
    state = bytearray(target.state)
    state[-1] ^= 0x01  # flip one bit of the ciphertext
    oid = target.originator_id if container.settings.uses_postgres else target.originator_id.hex
    sql(container, "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (bytes(state), oid, target.originator_version))
    found = problems(container)
    assert found and found[0].aggregate_id == str(target.originator_id)
    assert users


def test_removed_event_is_detected(container):
    users = history(container)
    victim = users[1].id
    oid = victim if container.settings.uses_postgres else victim.hex
    sql(container, "DELETE FROM {t} WHERE originator_id = ? AND originator_version = ?",
        (oid, 3))
    found = problems(container)
    assert any(p.aggregate_id == str(victim) and "missing" in p.reason for p in found)


def test_a_rewritten_actor_is_detected(container):
    """The readable header is what auditors query by: rewriting who did it breaks the chain."""
    history(container)
    target = container.store.select(0, 100)[4]
    header, nonce, body = split_state(target.state)
    forged = json.dumps({**header, "a": "someone-else"}, separators=(",", ":")).encode()
    state = struct.pack(">BH", FORMAT, len(forged)) + forged + nonce + body
    oid = target.originator_id if container.settings.uses_postgres else target.originator_id.hex
    sql(container, "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (state, oid, target.originator_version))
    found = problems(container)
    assert [p.aggregate_id for p in found] == [str(target.originator_id)]
    assert "hash chain broken" in found[0].reason
