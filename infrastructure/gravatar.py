"""Gravatar URL for `GET /api/v1/utils/gravatar`, identical to Open WebUI's."""

from __future__ import annotations

import hashlib


def gravatar_url(email: str) -> str:
    """`https://www.gravatar.com/avatar/<sha256 of trimmed, lower-cased email>?d=mp`.

    Gravatar accepts SHA-256 as well as MD5; Open WebUI uses SHA-256 and `d=mp`
    (the "mystery person" silhouette when no avatar is registered).
    """
    address = str(email).strip().lower()
    return f"https://www.gravatar.com/avatar/{hashlib.sha256(address.encode()).hexdigest()}?d=mp"
