"""The sign-in audit stream: successes, failures and sign-outs, recorded in the event log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from application.commands import CommandRunner
from application.context import Actor, acting_as, current_actor
from domain.access_record import AccessRecord

log = logging.getLogger("chronicle.access")

MAX_CLIENT_FIELD = 512  # a user agent is the client's to choose: keep what we record bounded


class AccessLog:
    def __init__(self, runner: CommandRunner, fingerprint: Callable[[str], str]):
        self.runner = runner
        self.fingerprint = fingerprint  # a keyed hash of an e-mail address

    def signed_in(self, user_id: str, email: str, client: dict[str, Any]) -> int:
        return self._record(user_id, lambda: AccessRecord.signed_in(
            user_id, email, self.fingerprint(email), _bounded(client)))

    def sign_in_failed(self, email: str, reason: str, user_id: str | None,
                       client: dict[str, Any]) -> int:
        """Failed attempts on an account are owned by it; on no account, only fingerprinted."""
        return self._record(None, lambda: AccessRecord.sign_in_failed(
            email[:MAX_CLIENT_FIELD], self.fingerprint(email), reason, user_id, _bounded(client)))

    def signed_out(self, user_id: str, client: dict[str, Any]) -> int:
        return self._record(user_id, lambda: AccessRecord.signed_out(user_id, _bounded(client)))

    def _record(self, actor_id: str | None, make: Any) -> int:
        """Best effort: an unavailable log must not turn a valid sign-in into an error.

        Returns the record's log position (0 when it could not be recorded)."""
        actor = Actor(user_id=actor_id or current_actor().user_id,
                      correlation_id=current_actor().correlation_id)
        try:
            with acting_as(actor):
                return self.runner.run("auth.access_recorded", lambda: (None, [make()])).position
        except Exception:
            log.exception("could not record a sign-in audit event")
            return 0


def _bounded(client: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v)[:MAX_CLIENT_FIELD] for k, v in client.items() if v is not None}
