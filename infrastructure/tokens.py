"""Session JWTs: HS256 only, pinned on decode, signed with WEBUI_SECRET_KEY."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

ALGORITHM = "HS256"


class Tokens:
    def __init__(self, secret: str):
        self.secret = secret

    def issue(self, user_id: str, stamp: str, expires_in: int | None) -> tuple[str, int | None, str]:
        now = int(time.time())
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {"id": user_id, "typ": "session", "auth_method": "password",
                                  "auth_time": now, "session_stamp": stamp,
                                  "mfa_verified": False, "iat": now, "jti": jti}
        expires_at = now + expires_in if expires_in else None
        if expires_at:
            claims["exp"] = expires_at
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), expires_at, jti

    def decode(self, token: str) -> dict[str, Any] | None:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["id", "iat"]})
        except jwt.PyJWTError:
            return None
        return claims if isinstance(claims, dict) else None
