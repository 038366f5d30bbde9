"""Per-owner data keys, kept outside the event log so that destroying one erases that owner's data.

Each key is wrapped (AES-GCM) with a key-encryption key derived from the server secret, so a copy of
the key table alone decrypts nothing.

Every process caches the keys it used. An erasure in one process reaches the others through the
`erased_owners` table, which each process checks at most every `refresh_interval` seconds while it
uses keys: it then drops the erased keys and tells its listeners (caches of decoded state).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.commands import forbid_blocking
from infrastructure.sql import Database

SYSTEM_OWNER = "system"
log = logging.getLogger("chronicle.keys")


class KeyErased(Exception):
    """The owner's key was destroyed: their personal data can no longer be read."""


def derive_kek(secret: str, purpose: bytes = b"data-keys") -> bytes:
    """Independent 256-bit keys from the server secret, one per purpose."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chronicle-kek-v1", info=purpose)
    return hkdf.derive(secret.encode())


class KeyStore:
    def __init__(self, db: Database, secret: str, refresh_interval: float = 1.0):
        self.db = db
        self._kek = AESGCM(derive_kek(secret))
        self._cache: dict[str, AESGCM] = {}
        self._erased: set[str] = set()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[set[str]], None]] = []
        self.refresh_interval = refresh_interval
        self._next_check = 0.0
        self._erasures_seen = -1
        blob, real = ("BYTEA", "DOUBLE PRECISION") if db.dialect == "postgres" else ("BLOB", "REAL")
        with db.transaction() as tx:
            tx.execute(f"CREATE TABLE IF NOT EXISTS data_keys (owner TEXT PRIMARY KEY, "
                       f"wrapped {blob}, erased_at {real})")
            tx.execute(f"CREATE TABLE IF NOT EXISTS erased_owners (owner TEXT PRIMARY KEY, "
                       f"erased_at {real} NOT NULL)")
            tx.execute("INSERT INTO erased_owners (owner, erased_at) SELECT owner, erased_at "
                       "FROM data_keys WHERE erased_at IS NOT NULL ON CONFLICT (owner) DO NOTHING")
        self._check_erasures()

    def on_erased(self, listener: Callable[[set[str]], None]) -> None:
        """Call `listener(owners)` whenever keys are found erased (here or in another process)."""
        self._listeners.append(listener)

    def refresh(self) -> None:
        """Notice erasures made by other processes (at most one query per refresh_interval)."""
        self._check_erasures()

    def _check_erasures(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        forbid_blocking()  # a command on the event loop leaves the check to a thread
        self._next_check = now + self.refresh_interval
        try:
            count = int(self.db.query("SELECT COUNT(*) AS n FROM erased_owners")[0]["n"])
            if count == self._erasures_seen:
                return
            owners = {str(r["owner"]) for r in self.db.query("SELECT owner FROM erased_owners")}
        except Exception:  # the vault restarting must not fail reads that hold their keys
            log.warning("could not check for erased keys; retrying", exc_info=True)
            return
        first, self._erasures_seen = self._erasures_seen < 0, count
        fresh = self._forget(owners)
        if fresh and not first:
            self._notify(fresh)

    def _forget(self, owners: set[str]) -> set[str]:
        with self._lock:
            fresh = owners - self._erased
            for owner in owners:
                self._cache.pop(owner, None)
            self._erased |= owners
        return fresh

    def _notify(self, owners: set[str]) -> None:
        for listener in self._listeners:
            listener(owners)

    def is_erased(self, owner: str) -> bool:
        """(`data_keys` is the authority: an import writes erased owners there only.)"""
        rows = self.db.query("SELECT 1 AS x FROM erased_owners WHERE owner = ? UNION ALL "
                             "SELECT 1 AS x FROM data_keys WHERE owner = ? AND erased_at IS NOT "
                             "NULL", (owner, owner))
        return bool(rows)

    def cipher(self, owner: str) -> AESGCM:
        self._check_erasures()
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
        self._check_erasures()
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
        """Destroy the owner's key for good; the files keep no copy of it (see scrub)."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO data_keys (owner, wrapped, erased_at) VALUES (?, NULL, ?) "
                "ON CONFLICT (owner) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at",
                (owner, at),
            )
            tx.execute("INSERT INTO erased_owners (owner, erased_at) VALUES (?, ?) "
                       "ON CONFLICT (owner) DO NOTHING", (owner, at))
        self._forget({owner})
        self._notify({owner})
        self.scrub()

    def scrub(self) -> None:
        """The old wrapped key may linger in free pages, the WAL or a dead row version."""
        self.db.scrub(full=True)


def fingerprint(key: bytes, text: str) -> str:
    """A keyed hash: the same input always gives the same value, which reveals nothing without
    the server secret (used for e-mail addresses that belong to no account)."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
