"""One sign-in, failed sign-in or sign-out: audit history that is not the state of any account.

Each attempt is its own one-event aggregate, so recording one never contends with another; it is
owned by the account it concerns (when there is one), so erasing that user erases the email,
address and browser it recorded. An attempt on an address that belongs to nobody keeps only a
keyed fingerprint of the address (auditors can still group attempts on one address, and check a
given one), never the address itself: it may be a future user's, whose erasure must not miss it.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class AccessRecord(Aggregate):
    class SignedIn(Aggregate.Created):
        owner_id: str | None
        user_id: str | None
        email: str | None
        email_fingerprint: str
        reason: str | None
        client: dict[str, Any]

    class SignInFailed(SignedIn):
        pass

    class SignedOut(SignedIn):
        pass

    def __init__(self, owner_id: str | None, user_id: str | None, email: str | None,
                 email_fingerprint: str, reason: str | None, client: dict[str, Any]) -> None:
        self.owner_id = owner_id
        self.user_id = user_id
        self.email = email
        self.email_fingerprint = email_fingerprint
        self.reason = reason
        self.client = client

    @classmethod
    def signed_in(cls, user_id: str, email: str, fingerprint: str,
                  client: dict[str, Any]) -> AccessRecord:
        return cls._create(cls.SignedIn, owner_id=user_id, user_id=user_id, email=email,
                           email_fingerprint=fingerprint, reason=None, client=client)

    @classmethod
    def sign_in_failed(cls, email: str, fingerprint: str, reason: str, user_id: str | None,
                       client: dict[str, Any]) -> AccessRecord:
        return cls._create(cls.SignInFailed, owner_id=user_id, user_id=user_id,
                           email=email if user_id else None, email_fingerprint=fingerprint,
                           reason=reason, client=client)

    @classmethod
    def signed_out(cls, user_id: str, client: dict[str, Any]) -> AccessRecord:
        return cls._create(cls.SignedOut, owner_id=user_id, user_id=user_id, email=None,
                           email_fingerprint="", reason=None, client=client)
