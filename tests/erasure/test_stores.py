"""The pieces an erasure relies on, on SQLite + memory sessions and on PostgreSQL + Redis: session
state forgets a user and never holds an address in the clear; a key destroyed by another process
is noticed, and the decoded copies it protected are dropped."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from infrastructure.keys import KeyErased, KeyStore
from tests.conftest import REDIS_URL


def test_sessions_forget_a_user_and_hash_rate_limit_keys(container, settings_env):
    sessions, user = container.sessions, str(uuid.uuid4())
    address = f"who-{uuid.uuid4().hex}@example.com"
    assert sessions.hit(f"signin:{address}", 60) == 1
    assert sessions.hit(f"signin:{address}", 60) == 2
    sessions.put_auth_state(user, {"role": "user", "stamp": "s", "deleted": "0", "key": ""})
    sessions.touch(user)
    sessions.note_write(user, 7)
    if "REDIS_URL" in settings_env:
        keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).scan_iter(
            f"{settings_env['REDIS_KEY_PREFIX']}:*")]
        assert keys and not any(address in k for k in keys)

    sessions.forget_user(user, [f"signin:{address}"])
    assert sessions.auth_state(user, "jti")[0] is None
    assert sessions.last_active([user]) == {} and sessions.last_write(user) == 0
    assert sessions.hit(f"signin:{address}", 60) == 1  # the window started over


def test_a_key_erased_elsewhere_is_noticed_and_caches_are_told(container):
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    here = KeyStore(container.vault, container.settings.secret_key(), refresh_interval=0.0)
    told: list[set[str]] = []
    here.on_erased(told.append)
    here.cipher(owner)  # cached in this "process"
    elsewhere = KeyStore(container.vault, container.settings.secret_key())
    elsewhere.erase(owner, time.time())

    here.refresh()
    assert told == [{owner}]
    with pytest.raises(KeyErased):
        here.cipher(owner)
    with pytest.raises(KeyErased):
        here.cipher_for_read(owner)
    assert here.is_erased(owner) and not here.is_erased("someone-else")
    rows = container.vault.query("SELECT wrapped FROM data_keys WHERE owner = ?", (owner,))
    assert rows == [{"wrapped": None}]
