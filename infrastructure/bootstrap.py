"""The composition root: builds every adapter once and wires them into the use cases."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from application.auth import AuthService
from application.commands import CommandRunner
from application.config import ConfigService
from application.users import UserService
from infrastructure import metrics
from infrastructure.event_store import ChronicleStore, EventStore, store_env
from infrastructure.keys import KeyStore
from infrastructure.passwords import Passwords
from infrastructure.sessions import MemorySessions, RedisSessions
from infrastructure.settings import Settings
from infrastructure.sql import Database, open_database
from infrastructure.tokens import Tokens
from projections.host import ProjectionHost
from projections.registry import PROJECTORS
from projections.runtime import NOTIFY_CHANNEL, LogReader
from projections.users import UsersQueries

log = logging.getLogger("chronicle.bootstrap")


@dataclass
class Container:
    settings: Settings
    vault: Database
    read_db: Database
    store: EventStore
    runner: CommandRunner
    reader: LogReader
    host: ProjectionHost
    sessions: Any
    config: ConfigService
    auth: AuthService
    users: UserService
    user_queries: UsersQueries
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        self.host.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.warning("error while closing", exc_info=True)


def config_defaults(settings: Settings) -> dict[str, Any]:
    return {
        "ENABLE_SIGNUP": settings.ENABLE_SIGNUP,
        "DEFAULT_USER_ROLE": settings.DEFAULT_USER_ROLE,
        "ENABLE_API_KEYS": settings.ENABLE_API_KEYS,
        "JWT_EXPIRES_IN": settings.JWT_EXPIRES_IN,
        "ENABLE_LDAP": settings.ENABLE_LDAP,
        "DEFAULT_PERMISSIONS": {},
    }


def bootstrap(settings: Settings | None = None, run_projectors: bool | None = None) -> Container:
    settings = settings or Settings()
    secret = settings.secret_key()
    url = settings.DATABASE_URL if settings.uses_postgres else ""
    data = settings.DATA_DIR
    vault = open_database(url, data / "keys.sqlite3", schema="chronicle_vault", pool_min=1,
                          pool_max=4)
    read_db = open_database(url, data / "read.sqlite3", schema="chronicle_read",
                            pool_min=settings.PG_POOL_SIZE, pool_max=settings.PG_POOL_MAX)
    keys = KeyStore(vault, secret)

    reader_box: list[LogReader] = []

    def on_commit(head: int) -> None:
        if reader_box:
            reader_box[0].notify_head(head)

    app = ChronicleStore(store_env(url, data), keys, on_commit=on_commit,
                         on_batch=metrics.observe_batch,
                         max_batch_events=settings.GROUP_COMMIT_MAX_EVENTS)
    store = EventStore(app)
    reader = LogReader(store)
    reader_box.append(reader)
    closers: list[Any] = [store.close, read_db.close, vault.close]

    lease = None
    if url:
        from infrastructure.pg_listener import PgLease, PgListener

        lease = PgLease(url)
    host = ProjectionHost(read_db, reader, PROJECTORS, lease=lease)
    if url:
        listener = PgListener(url, {
            "chronicle_events": lambda _: reader.notify_head(store.head()),
            NOTIFY_CHANNEL: lambda payload: _advance(host, payload),
        })
        listener.start()
        closers.append(listener.stop)
    else:
        reader.start_polling()

    if run_projectors is None:
        run_projectors = settings.CHRONICLE_PROJECTORS == "embedded"
    if run_projectors:
        host.start()

    sessions: Any = RedisSessions(settings.REDIS_URL) if settings.REDIS_URL else MemorySessions()
    runner = CommandRunner(store, retries=settings.COMMAND_RETRIES,
                           on_command=metrics.observe_command)
    config = ConfigService(store, runner, config_defaults(settings))
    user_queries = UsersQueries(read_db)
    passwords = Passwords()
    tokens = Tokens(secret)
    auth = AuthService(store, runner, user_queries, passwords, tokens, sessions, config,
                       signin_limit=settings.SIGNIN_RATE_LIMIT,
                       signin_window=settings.SIGNIN_RATE_WINDOW,
                       token_ttl=settings.jwt_expiry_seconds)
    users = UserService(store, runner, user_queries, auth, passwords)
    return Container(settings=settings, vault=vault, read_db=read_db, store=store, runner=runner,
                     reader=reader, host=host, sessions=sessions, config=config, auth=auth,
                     users=users, user_queries=user_queries, closers=closers)


def _advance(host: ProjectionHost, payload: str) -> None:
    if not payload:
        host.refresh_positions()
        return
    name, _, position = payload.rpartition(":")
    if name and position.isdigit():
        host.advanced(name, int(position))
