"""Password hashing through passlib's CryptContext (the maintained libpass fork).

New hashes are argon2id; bcrypt hashes (Open WebUI's) still verify and are upgraded at the next
successful sign-in.
"""

from __future__ import annotations

from passlib.context import CryptContext
from passlib.exc import PasswordSizeError, PasswordValueError

# Open WebUI refuses passwords over bcrypt's 72 bytes; keeping that limit keeps its clients' error
# handling working and every password valid under either scheme.
MAX_PASSWORD_BYTES = 72


class PasswordTooLong(ValueError):
    pass


class Passwords:
    def __init__(self, rounds: int | None = None):
        # OWASP's argon2id floor (19 MiB, t=2): costly enough offline, cheap enough per sign-in.
        self.context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__memory_cost=19456,
            argon2__time_cost=rounds or 2,
            argon2__parallelism=1,
        )

    def hash(self, password: str) -> str:
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise PasswordTooLong(password[:0])
        try:
            return self.context.hash(password)
        except (PasswordSizeError, PasswordValueError) as e:
            raise PasswordTooLong(str(type(e).__name__)) from None

    def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        if not hashed:
            return False, None
        raw = password.encode()
        if len(raw) > MAX_PASSWORD_BYTES:  # as bcrypt (and the reference): only 72 bytes count
            password = raw[:MAX_PASSWORD_BYTES].decode("utf-8", "ignore")
        try:
            return self.context.verify_and_update(password, hashed)
        except (PasswordSizeError, PasswordValueError, ValueError):
            # e.g. a bcrypt hash and a password longer than bcrypt's 72 bytes: not a match
            return False, None
