"""A request's one session-store round trip (`visit`), on memory sessions and on Redis: the
cached auth state, the revocation, the user's last write, and the user marked active."""

from __future__ import annotations

import asyncio
import time
import uuid


def test_a_visit_reads_state_revocation_and_last_write_and_touches(container):
    sessions, user, jti = container.sessions, str(uuid.uuid4()), uuid.uuid4().hex
    assert asyncio.run(sessions.visit(user, jti)) == (None, False, 0)
    before = time.time() - 1
    state = {"role": "user", "stamp": "s", "deleted": "0", "key": ""}
    sessions.put_auth_state(user, state)
    sessions.note_write(user, 42)
    assert asyncio.run(sessions.visit(user, jti)) == (state, False, 42)
    assert sessions.last_active([user])[user] >= before
    sessions.revoke(jti, 60)
    assert asyncio.run(sessions.visit(user, jti))[1] is True


def test_a_burst_of_visits_waits_for_connections_instead_of_failing(container):
    """Three hundred requests at once (more than the asyncio pool's connections)."""
    sessions, user = container.sessions, str(uuid.uuid4())

    async def burst() -> list[tuple[object, bool, int]]:
        return await asyncio.gather(*(sessions.visit(user, f"j{i}") for i in range(300)))

    assert asyncio.run(burst()) == [(None, False, 0)] * 300
