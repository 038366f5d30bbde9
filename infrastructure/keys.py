"""Per-owner data keys, kept outside the event log so that destroying one erases that owner's data.

Each key is wrapped (AES-GCM) with a key-encryption key derived from the server secret, so a copy of
the key table alone decrypts nothing.
"""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infrastructure.sql import Database

SYSTEM_OWNER = "system"


class KeyErased(Exception):
    """The owner's key was destroyed: their personal data can no longer be read."""


def derive_kek(secret: str, purpose: bytes = b"data-keys") -> bytes:
    """Independent 256-bit keys from the server secret, one per purpose."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chronicle-kek-v1", info=purpose)
    return hkdf.derive(secret.encode())


class KeyStore:
    def __init__(self, db: Database, secret: str):
        self.db = db
        self._kek = AESGCM(derive_kek(secret))
        self._cache: dict[str, AESGCM] = {}
        self._erased: set[str] = set()
        self._lock = threading.Lock()
        with db.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS data_keys (owner TEXT PRIMARY KEY, wrapped BYTEA, "
                "erased_at DOUBLE PRECISION)"
                if db.dialect == "postgres"
                else "CREATE TABLE IF NOT EXISTS data_keys (owner TEXT PRIMARY KEY, wrapped BLOB, "
                "erased_at REAL)"
            )

    def cipher(self, owner: str) -> AESGCM:
        cached = self._cache.get(owner)
        if cached is not None:
            return cached
        if owner in self._erased:
            raise KeyErased(owner)
        with self._lock:
            key = self._load(owner) or self._create(owner)
            aes = AESGCM(key)
            self._cache[owner] = aes
            return aes

    def cipher_for_read(self, owner: str) -> AESGCM:
        """Like cipher(), but never creates a key: a missing key means erased."""
        cached = self._cache.get(owner)
        if cached is not None:
            return cached
        key = self._load(owner)
        if key is None:
            self._erased.add(owner)
            raise KeyErased(owner)
        aes = AESGCM(key)
        self._cache[owner] = aes
        return aes

    def _load(self, owner: str) -> bytes | None:
        rows = self.db.query("SELECT wrapped, erased_at FROM data_keys WHERE owner = ?", (owner,))
        if not rows:
            return None
        if rows[0]["erased_at"] is not None:
            self._erased.add(owner)
            raise KeyErased(owner)
        wrapped = bytes(rows[0]["wrapped"])
        return self._kek.decrypt(wrapped[:12], wrapped[12:], owner.encode())

    def _create(self, owner: str) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._kek.encrypt(nonce, key, owner.encode())
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO data_keys (owner, wrapped) VALUES (?, ?) ON CONFLICT (owner) DO NOTHING",
                (owner, wrapped),
            )
        loaded = self._load(owner)  # another process may have won the race
        assert loaded is not None
        return loaded

    def erase(self, owner: str, at: float) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO data_keys (owner, wrapped, erased_at) VALUES (?, NULL, ?) "
                "ON CONFLICT (owner) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at",
                (owner, at),
            )
        with self._lock:
            self._cache.pop(owner, None)
            self._erased.add(owner)
