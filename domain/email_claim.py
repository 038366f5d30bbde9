"""One aggregate per e-mail address: its deterministic id makes an address claimable only once.

A claim outlives its holder: it is released when the user is deleted and may be claimed again. Its
events are encrypted with the key of the user holding it at the time, so after an erasure its
early history replays as tombstones; the erasure snapshots a released claim first (under the
system key), and the address stays claimable. For that snapshot to reveal nothing, the aggregate
keeps only the holder's id: the address is in its id (hashed) and in the holder's User events.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


def normalise_email(email: str) -> str:
    return email.strip().lower()


class EmailClaim(Aggregate):
    @staticmethod
    def create_id(email: str, user_id: str) -> UUID:
        return claim_id(email)

    @event("Claimed")
    def __init__(self, email: str, user_id: str):
        self.user_id = user_id  # not the address: see the module docstring

    @property
    def owner_id(self) -> str:
        return self.user_id

    @property
    def held(self) -> bool:
        return bool(self.user_id)

    def reclaim(self, user_id: str) -> None:
        self._reclaimed(user_id)

    @event("Reclaimed")
    def _reclaimed(self, user_id: str) -> None:
        self.user_id = user_id

    def release(self) -> None:
        if self.user_id:
            self._released()

    @event("Released")
    def _released(self) -> None:
        self.user_id = ""


def claim_id(email: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"chronicle:email:{normalise_email(email)}")
