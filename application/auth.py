"""Authentication use cases: sign-up, sign-in, sessions, API keys, passwords."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from application.access_log import AccessLog
from application.commands import CommandRunner
from application.config import ConfigService, parse_duration
from application.errors import BadRequest, Forbidden, Unauthorized
from application.errors import TooManyRequests as RateLimited
from application.messages import Detail
from application.permissions import allowed
from application.ports import EventStorePort, PasswordHasher, SessionStore, TokenService
from application.read_models import UsersReadModel
from domain.directory import DIRECTORY_ID, Directory
from domain.email_claim import EmailClaim, claim_id, normalise_email
from domain.user import ROLES, User, new_stamp

# The reference's [^@]+@[^@]+\.[^@]+ (or x@localhost), anchored, without spaces or control characters.
_PART = r"[^@\s\x00-\x1f\x7f]+"
EMAIL_RE = re.compile(rf"^{_PART}@(localhost|{_PART}\.{_PART})$")
DEFAULT_PROFILE_IMAGE = "/user.png"
NEVER_EXPIRES_TTL = 10 * 365 * 86400  # seconds a revoked non-expiring JWT stays revoked


class PasswordTooLong(Exception):
    """Raised by a PasswordHasher for a password its scheme cannot take."""


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    via: str  # "session" or "api_key"
    jti: str | None = None
    expires_at: int | None = None
    last_write: int = 0  # the user's last write when the request began (read-your-writes)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: int | None
    user: User
    permissions: dict[str, Any]


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class AuthService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, users: UsersReadModel,
                 passwords: PasswordHasher, tokens: TokenService, sessions: SessionStore,
                 config: ConfigService, signin_limit: int = 15, signin_window: int = 180,
                 token_ttl: int | None = None,
                 email_fingerprint: Callable[[str], str] = lambda email: "",
                 permissions: Callable[[str], dict[str, Any]] | None = None):
        self.store = store
        self.runner = runner
        self.users = users
        self.passwords = passwords
        self.tokens = tokens
        self.sessions = sessions
        self.config = config
        self.signin_limit = signin_limit
        self.signin_window = signin_window
        self.token_ttl = token_ttl
        self.access = AccessLog(runner, email_fingerprint)
        # A user's effective permissions (application/permissions.py); the defaults alone
        # where no groups are wired (tools that build the service by hand).
        self.permissions_of = permissions or (lambda _user_id: config.default_permissions())

    # -- sign-up and sign-in ----------------------------------------------------------------
    def signup(self, name: str, email: str, password: str,
               profile_image_url: str | None) -> tuple[Session, int]:
        email = normalise_email(email)
        onboarding = not self.store.exists(DIRECTORY_ID)
        if not onboarding and not (self.config.get("ENABLE_SIGNUP")
                                   and self.config.enabled("ENABLE_LOGIN_FORM")):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        if not EMAIL_RE.match(email):
            raise BadRequest(Detail.INVALID_EMAIL_FORMAT)
        claimed = self.store.get(claim_id(email))
        if claimed is not None and claimed.held:  # before the costly hash; decide() re-checks
            raise BadRequest(Detail.EMAIL_TAKEN)
        password_hash = self._hash(password)
        default_role = str(self.config.get("DEFAULT_USER_ROLE") or "pending")

        def decide() -> tuple[User, list[Any]]:
            claim = self.store.get(claim_id(email))
            if claim is not None and claim.held:
                raise BadRequest(Detail.EMAIL_TAKEN)
            directory = self.store.get(DIRECTORY_ID)
            user_id = str(uuid4())
            role = default_role if directory else "admin"
            user = User(user_id=user_id, email=email, name=name.strip(), role=role, password_hash=password_hash,
                        profile_image_url=profile_image_url or DEFAULT_PROFILE_IMAGE,
                        stamp=new_stamp())
            if claim is None:
                claim = EmailClaim(email=email, user_id=user_id)
            else:
                claim.reclaim(user_id)
            if directory is None:
                directory = Directory(first_admin=user_id)
            elif role == "admin":
                directory.add_admin(user_id)
            else:
                return user, [user, claim]
            return user, [user, claim, directory]

        outcome = self.runner.run("auth.signup", decide)
        return self._session(outcome.value), outcome.position

    def add_user(self, name: str, email: str, password: str, profile_image_url: str | None,
                 role: str | None) -> tuple[Session, int]:
        """An admin adds an account (0.12.4's /auths/add): any role, sign-up switches aside.
        The answer carries a session token of the new user, as 0.12.4's does."""
        role = role or "pending"
        if role not in ROLES:
            raise BadRequest(Detail.ACTION_PROHIBITED)
        email = normalise_email(email)
        if not EMAIL_RE.match(email):
            raise BadRequest(Detail.INVALID_EMAIL_FORMAT)
        claimed = self.store.get(claim_id(email))
        if claimed is not None and claimed.held:  # before the costly hash; decide() re-checks
            raise BadRequest(Detail.EMAIL_TAKEN)
        password_hash = self._hash(password)

        def decide() -> tuple[User, list[Any]]:
            claim = self.store.get(claim_id(email))
            if claim is not None and claim.held:
                raise BadRequest(Detail.EMAIL_TAKEN)
            user_id = str(uuid4())
            user = User(user_id=user_id, email=email, name=name.strip(), role=role,
                        password_hash=password_hash,
                        profile_image_url=profile_image_url or DEFAULT_PROFILE_IMAGE,
                        stamp=new_stamp())
            if claim is None:
                claim = EmailClaim(email=email, user_id=user_id)
            else:
                claim.reclaim(user_id)
            touched: list[Any] = [user, claim]
            directory = self.store.get(DIRECTORY_ID)
            if role == "admin" and directory is not None:
                directory.add_admin(user_id)
                touched.append(directory)
            return user, touched

        outcome = self.runner.run("auth.add_user", decide)
        return self._session(outcome.value), outcome.position

    def admin_details(self) -> dict[str, str | None]:
        """Whom a pending user should contact (0.12.4's /auths/admin/details): the configured
        ADMIN_EMAIL, else the first admin; 400 when the admin has hidden it."""
        if not self.config.enabled("SHOW_ADMIN_DETAILS"):
            raise BadRequest(Detail.ACTION_PROHIBITED)
        email = self.config.get("ADMIN_EMAIL") or None
        if email:
            claim = self.store.get(claim_id(normalise_email(str(email))))
            user = self.store.get(UUID(claim.user_id)) if claim is not None and claim.held \
                else None
            return {"name": user.name if user is not None else None, "email": str(email)}
        directory = self.store.get(DIRECTORY_ID)
        first = self.store.get(UUID(directory.primary_admin)) if directory is not None else None
        if first is None:
            return {"name": None, "email": None}
        return {"name": first.name, "email": first.email}

    def signin(self, email: str, password: str,
               client: dict[str, Any] | None = None) -> tuple[Session, int]:
        email, client = normalise_email(email), client or {}
        limited = self.sessions.hit(f"signin:{email}", self.signin_window) > self.signin_limit
        claim = self.store.get(claim_id(email))
        user = self.store.get(UUID(claim.user_id)) if claim is not None and claim.held else None
        user_id = str(user.id) if user is not None and not user.deleted else None
        if limited:
            self.access.sign_in_failed(email, "rate_limited", user_id, client)
            raise RateLimited(Detail.RATE_LIMIT_EXCEEDED)
        if user is None or user_id is None:
            self.passwords.verify(password, _DUMMY_HASH)  # same cost as a real check
            self.access.sign_in_failed(email, "unknown_user", None, client)
            raise BadRequest(Detail.INVALID_CRED)
        valid, upgraded = self.passwords.verify(password, user.password_hash)
        if not valid:
            self.access.sign_in_failed(email, "wrong_password", str(user.id), client)
            raise BadRequest(Detail.INVALID_CRED)
        position = 0
        if upgraded:
            position = self._rehash(user.id, upgraded)
        recorded = self.access.signed_in(str(user.id), email, client)
        return self._session(user), max(position, recorded)

    def _rehash(self, user_id: UUID, new_hash: str) -> int:
        def decide() -> tuple[None, list[Any]]:
            user = self.store.get(user_id)
            user.rehash_password(new_hash)
            return None, [user]

        return self.runner.run("auth.rehash", decide).position

    def _session(self, user: User) -> Session:
        expires_in = parse_duration(str(self.config.get("JWT_EXPIRES_IN") or ""))
        token, expires_at, _ = self.tokens.issue(str(user.id), user.session_stamp, expires_in)
        self.remember(user)
        return Session(token=token, expires_at=expires_at, user=user,
                       permissions=self.permissions_of(str(user.id)))

    def _hash(self, password: str) -> str:
        try:
            return self.passwords.hash(password)
        except ValueError:
            raise BadRequest(Detail.PASSWORD_TOO_LONG) from None

    # -- authenticating requests ------------------------------------------------------------
    def authenticate(self, credential: str) -> Principal:
        if credential.startswith("sk-"):
            return self._authenticate_api_key(credential)
        claims = self.tokens.decode(credential)
        if claims is None:
            raise Unauthorized(Detail.UNAUTHORIZED)
        user_id, jti = str(claims["id"]), str(claims.get("jti") or "")
        state, revoked = self.sessions.auth_state(user_id, jti)
        if revoked:
            raise Unauthorized(Detail.INVALID_TOKEN_SHORT)
        if state is None:
            state = self._load_auth_state(user_id)
        if not state or state.get("deleted") == "1":
            raise Unauthorized(Detail.INVALID_TOKEN)
        if state.get("stamp") != claims.get("session_stamp"):
            raise Unauthorized(Detail.INVALID_TOKEN_SHORT)
        return Principal(id=user_id, role=state["role"], via="session", jti=jti,
                         expires_at=claims.get("exp"))

    async def authenticate_session(self, credential: str) -> Principal:
        """`authenticate` for a JWT on the event loop: one session-store round trip (which also
        marks the user active and reads their last write); the log only on a cache miss."""
        claims = self.tokens.decode(credential)
        if claims is None:
            raise Unauthorized(Detail.UNAUTHORIZED)
        user_id, jti = str(claims["id"]), str(claims.get("jti") or "")
        state, revoked, written = await self.sessions.visit(user_id, jti)
        if revoked:
            raise Unauthorized(Detail.INVALID_TOKEN_SHORT)
        if state is None:
            state = await asyncio.to_thread(self._load_auth_state, user_id)
        if not state or state.get("deleted") == "1":
            raise Unauthorized(Detail.INVALID_TOKEN)
        if state.get("stamp") != claims.get("session_stamp"):
            raise Unauthorized(Detail.INVALID_TOKEN_SHORT)
        return Principal(id=user_id, role=state["role"], via="session", jti=jti,
                         expires_at=claims.get("exp"), last_write=written)

    def _authenticate_api_key(self, key: str) -> Principal:
        if not self.config.get("ENABLE_API_KEYS"):
            raise Forbidden(Detail.API_KEY_NOT_ALLOWED)
        key_hash = hash_api_key(key)
        row = self.users.by_api_key_hash(key_hash)
        if row is None:
            raise Unauthorized(Detail.INVALID_TOKEN)
        # The read model only finds the owner; the write side decides (a key deleted, a user
        # deleted or demoted a moment ago must not wait for the projection).
        user_id = str(row["id"])
        state, _ = self.sessions.auth_state(user_id, "")
        if state is None or "key" not in state:
            state = self._load_auth_state(user_id)
        if not state or state.get("deleted") == "1" or state.get("key") != key_hash:
            raise Unauthorized(Detail.INVALID_TOKEN)
        if state["role"] != "admin" and not allowed(self.permissions_of(user_id),
                                                    "features.api_keys"):
            raise Forbidden(Detail.API_KEY_NOT_ALLOWED)
        return Principal(id=user_id, role=state["role"], via="api_key")

    def _load_auth_state(self, user_id: str) -> dict[str, str] | None:
        try:
            user = self.store.get(UUID(user_id))
        except ValueError:
            return None
        if user is None:
            return None
        return self.remember(user)

    def remember(self, user: User) -> dict[str, str]:
        """Cache what authentication needs, so a request costs no event-store query."""
        state = {"role": user.role, "stamp": user.session_stamp,
                 "deleted": "1" if user.deleted else "0", "key": user.api_key_hash or ""}
        self.sessions.put_auth_state(str(user.id), state)
        return state

    def signout(self, principal: Principal, client: dict[str, Any] | None = None) -> int:
        """Revoke the session's token; returns the log position of the sign-out record."""
        if principal.jti:
            # A JWT without `exp` (JWT_EXPIRES_IN=-1) never expires: neither may its revocation.
            ttl = (principal.expires_at - int(time.time())) if principal.expires_at else \
                NEVER_EXPIRES_TTL
            self.sessions.revoke(principal.jti, max(1, ttl))
        return self.access.signed_out(principal.id, client or {})

    # -- credentials ------------------------------------------------------------------------
    def update_password(self, principal: Principal, password: str,
                        new_password: str) -> tuple[Session, int]:
        user = self.store.get(UUID(principal.id))
        valid, _ = self.passwords.verify(password, user.password_hash)
        if not valid:
            raise BadRequest(Detail.INCORRECT_PASSWORD)
        new_hash = self._hash(new_password)

        def decide() -> tuple[User, list[Any]]:
            fresh = self.store.get(UUID(principal.id))
            fresh.change_password(new_hash, new_stamp())
            return fresh, [fresh]

        outcome = self.runner.run("auth.update_password", decide)
        return self._session(outcome.value), outcome.position

    def require_api_keys(self, principal: Principal) -> None:
        permitted = principal.is_admin or allowed(self.permissions_of(principal.id),
                                                   "features.api_keys")
        if not self.config.get("ENABLE_API_KEYS") or not permitted:
            raise Forbidden(Detail.API_KEY_CREATION_NOT_ALLOWED)

    def create_api_key(self, principal: Principal) -> tuple[str, int]:
        self.require_api_keys(principal)
        key = f"sk-{secrets.token_hex(16)}"

        def decide() -> tuple[User, list[Any]]:
            user = self.store.get(UUID(principal.id))
            user.create_api_key(hash_api_key(key), f"{key[:6]}...{key[-4:]}")
            return user, [user]

        outcome = self.runner.run("auth.create_api_key", decide)
        self.remember(outcome.value)
        return key, outcome.position

    def delete_api_key(self, principal: Principal) -> int:
        def decide() -> tuple[User, list[Any]]:
            user = self.store.get(UUID(principal.id))
            user.delete_api_key()
            return user, [user]

        outcome = self.runner.run("auth.delete_api_key", decide)
        self.remember(outcome.value)
        return outcome.position


# A real argon2 hash of a random string: unknown e-mails cost the same as wrong passwords.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$MTIzNDU2Nzg5MGFiY2RlZg$"
    "4Z8b0oJkqkq0O9Yp3P2sK6k0l3p8q2W9n7l9x0cQd1E"
)
