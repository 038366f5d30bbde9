"""The composition root: builds every adapter once and wires them into the use cases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from application.access import NoGroups
from application.auth import AuthService
from application.catalog import ModelCatalog
from application.chats import ChatService
from application.commands import CommandRunner
from application.completions import CompletionService
from application.config import ConfigService
from application.connections import ConnectionsService
from application.folders import FolderService
from application.models import ModelService
from application.retention import RetentionPolicy
from application.tools import ToolCode, ToolService
from application.users import UserService
from application.utils import UtilsAdapters, UtilsService
from infrastructure import chat_pdf, code_execute, code_format, gravatar, markdown_html, metrics, tool_source
from infrastructure.event_store import ChronicleStore, EventStore, store_env
from infrastructure.isolation import Isolated
from infrastructure.keys import KeyStore, derive_kek, fingerprint
from infrastructure.llm_client import HttpLLM
from infrastructure.passwords import Passwords
from infrastructure.sessions import MemorySessions, RedisSessions
from infrastructure.settings import Settings
from infrastructure.sql import Database, open_database
from infrastructure.tokens import Tokens
from infrastructure.ydoc_store import YdocStore
from projections.chat_folders import FoldersQueries
from projections.chats import ChatsQueries
from projections.host import ProjectionHost
from projections.models import ModelsQueries
from projections.realtime import (
    ChannelMembersQueries,
    RealtimeFeed,
    RealtimeHost,
    RedisPublisher,
    Translator,
    socketio_channel,
)
from projections.registry import FEEDS, PROJECTORS
from projections.runtime import NOTIFY_CHANNEL, LogReader
from projections.tools import ToolsQueries
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
    connections: ConnectionsService  # language-model servers (docs/completions.md)
    llm: HttpLLM
    completions: CompletionService
    closers: list[Any] = field(default_factory=list)
    jobs: Any = None  # JobQueue: in-process threads, or Dramatiq on Redis
    realtime: RealtimeFeed | Any = None  # where the realtime feed publishes (docs/realtime.md)
    ydocs: YdocStore | Any = None  # collaborative note documents (Yjs updates)
    channel_directory: Any = None  # channel membership for Socket.IO rooms
    chats: ChatService | Any = None
    folders: FolderService | Any = None
    models: ModelService | Any = None
    tools: ToolService | Any = None
    utils: UtilsService | Any = None
    files: Any = None  # FileService (docs/retrieval.md)
    knowledge: Any = None  # KnowledgeService
    retrieval: Any = None  # RetrievalService; its FAISS mirror is `retrieval.index`
    retention: RetentionPolicy | Any = None  # old chats to the trash, the trash emptied
    audit: Any = None  # AuditService (docs/audit.md)
    keys: KeyStore | Any = None  # per-owner data keys (infrastructure/keys.py)
    erasure: Any = None  # ErasureService (docs/erasure.md)

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
        "ENABLE_OPENAI_API": settings.ENABLE_OPENAI_API,
        "OPENAI_API_BASE_URLS": _listed(settings.OPENAI_API_BASE_URLS),
        "OPENAI_API_KEYS": _listed(settings.OPENAI_API_KEYS),
        "ENABLE_OLLAMA_API": settings.ENABLE_OLLAMA_API,
        "OLLAMA_BASE_URLS": _listed(settings.OLLAMA_BASE_URLS),
    }


def _listed(text: str) -> list[str]:
    """Open WebUI's ";"-separated environment lists."""
    return [item.strip() for item in text.split(";") if item.strip()]


def bootstrap(settings: Settings | None = None, run_projectors: bool | None = None) -> Container:
    settings = settings or Settings()
    with _startup_lock(settings):
        return _build(settings, run_projectors)


@contextmanager
def _startup_lock(settings: Settings) -> Iterator[None]:
    """Processes starting together (uvicorn --workers N, a compose stack) create the same tables:
    on PostgreSQL they take turns, since concurrent CREATE ... IF NOT EXISTS can still collide."""
    if not settings.uses_postgres:
        yield
        return
    import psycopg

    with psycopg.connect(settings.DATABASE_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('chronicle:startup'))")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('chronicle:startup'))")


def _build(settings: Settings, run_projectors: bool | None) -> Container:
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

    app = ChronicleStore(store_env(url, data), keys, derive_kek(secret, b"event-chain"),
                         on_commit=on_commit,
                         on_batch=metrics.observe_batch,
                         max_batch_events=settings.GROUP_COMMIT_MAX_EVENTS)
    store = EventStore(app)
    reader = LogReader(store)
    reader_box.append(reader)
    # A destroyed key (here or in another process) must not live on in decoded copies.
    keys.on_erased(partial(_forget_decoded, store, reader))
    closers: list[Any] = [store.close, read_db.close, vault.close]

    lease = None
    if url:
        from infrastructure.pg_listener import PgLease, PgListener

        lease = PgLease(url)
    feed = RealtimeFeed(Translator(store), _realtime_publisher(settings))
    host = RealtimeHost(read_db, reader, PROJECTORS, FEEDS, feed, lease=lease)
    if url:
        listener = PgListener(url, {
            "chronicle_events": lambda head: reader.notify_head(
                int(head) if head.isdigit() else store.head()),
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

    sessions: Any = (RedisSessions(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
                     if settings.REDIS_URL else MemorySessions())
    runner = CommandRunner(store, retries=settings.COMMAND_RETRIES,
                           on_command=metrics.observe_command)
    config = ConfigService(store, runner, config_defaults(settings))
    user_queries = UsersQueries(read_db)
    passwords = Passwords()
    tokens = Tokens(secret)
    auth = AuthService(store, runner, user_queries, passwords, tokens, sessions, config,
                       signin_limit=settings.SIGNIN_RATE_LIMIT,
                       signin_window=settings.SIGNIN_RATE_WINDOW,
                       token_ttl=settings.jwt_expiry_seconds,
                       email_fingerprint=partial(fingerprint, derive_kek(secret, b"email")))
    users = UserService(store, runner, user_queries, auth, passwords)
    jobs = _jobs(settings)
    closers.append(jobs.close)
    ydocs = YdocStore(open_database(url, data / "ydoc.sqlite3", schema="chronicle_ydoc",
                                    pool_min=0, pool_max=4))
    closers.append(ydocs.close)
    chat_queries, folder_queries = ChatsQueries(read_db), FoldersQueries(read_db)
    chats = ChatService(store, runner, chat_queries, folder_queries, config.default_permissions,
                        trash_days=settings.CHAT_TRASH_RETENTION_DAYS)
    folders = FolderService(store, runner, folder_queries, chat_queries,
                            config.default_permissions)
    container = Container(settings=settings, vault=vault, read_db=read_db, store=store, runner=runner,
                     reader=reader, host=host, sessions=sessions, config=config, auth=auth,
                     users=users, user_queries=user_queries, closers=closers, jobs=jobs, realtime=feed,
                     ydocs=ydocs, channel_directory=ChannelMembersQueries(read_db), chats=chats,
                     folders=folders, **_completions(config, read_db),
                     **_workspace(settings, store, runner, read_db, config, closers, host))
    container.keys = keys
    _files_and_retrieval(container, run_projectors)
    container.retention = RetentionPolicy(store, runner, chat_queries,
                                          settings.CHAT_RETENTION_DAYS,
                                          settings.CHAT_TRASH_RETENTION_DAYS)
    if run_projectors:
        schedule_retention(container)
    container.audit = _audit(container)
    return container


def _completions(config: ConfigService, read_db: Database) -> dict[str, Any]:
    """Connections, the model list and chat completions (docs/completions.md)."""
    connections, llm = ConnectionsService(config), HttpLLM()
    catalog = ModelCatalog(connections, llm, ModelsQueries(read_db).every, NoGroups())
    return {"connections": connections, "llm": llm,
            "completions": CompletionService(catalog, connections, llm)}


def _erasure(c: Container, storage: Any, embeddings: Any, chunks: Any, files: Any) -> Any:
    """Erasing a user (docs/erasure.md); needs every service that deletes what users own."""
    from application.erasure import ErasureService, Workspace
    from infrastructure.erasure_stores import ErasureStores

    stores = ErasureStores(c.host, [p.name for p in PROJECTORS], c.sessions, files, storage,
                           chunks, embeddings, c.ydocs, lambda: getattr(c.retrieval, "index", None),
                           [c.read_db, c.ydocs.db, c.vault])
    workspace = Workspace(c.users, c.files, c.knowledge, c.models, c.tools)
    return ErasureService(c.store, c.runner, workspace, c.keys, stores)


def _forget_decoded(store: EventStore, reader: LogReader, _owners: set[str]) -> None:
    store.forget_cached()
    reader.forget()


def _audit(c: Container) -> Any:
    from application.audit import AuditService
    from projections.audit_log import AuditQueries

    return AuditService(c.store, AuditQueries(c.read_db), c.config)


def schedule_retention(c: Container) -> None:
    """The process that runs the projectors (embedded server, `chronicle projector`) enqueues
    the retention policy every RETENTION_INTERVAL_SECONDS; it is idempotent, so several such
    processes only repeat a no-op."""
    from infrastructure.jobs import Schedule

    if c.settings.RETENTION_INTERVAL_SECONDS > 0:
        schedule = Schedule(c.jobs, "retention", c.settings.RETENTION_INTERVAL_SECONDS)
        schedule.start()
        c.closers.append(schedule.stop)  # closers run last first: before the jobs close


def _realtime_publisher(settings: Settings) -> RedisPublisher | None:
    """With Redis every process publishes through the write-only manager; without, the server
    attaches its in-process emitter at startup."""
    if not settings.REDIS_URL:
        return None
    return RedisPublisher(settings.REDIS_URL, socketio_channel(settings.DATABASE_URL))


def _advance(host: ProjectionHost, payload: str) -> None:
    if not payload:
        host.refresh_positions()
        return
    for item in payload.split(","):  # `name:position`, several when a runner group stores them
        name, _, position = item.rpartition(":")
        if name and position.isdigit():
            host.advanced(name, int(position))


def _jobs(settings: Settings) -> Any:
    from infrastructure.jobs import DramatiqJobs, InProcessJobs, queue_name

    if settings.CHRONICLE_JOBS == "dramatiq" and settings.REDIS_URL:
        return DramatiqJobs(settings.REDIS_URL, queue_name(settings.DATABASE_URL))
    return InProcessJobs()


def _workspace(settings: Settings, store: EventStore, runner: CommandRunner, read_db: Database,
               config: ConfigService, closers: list[Any], host: ProjectionHost) -> dict[str, Any]:
    """Models, tools and utils (docs/models-tools-utils.md)."""
    groups, permissions = NoGroups(), config.default_permissions
    code = ToolCode(tool_source.parse_frontmatter, tool_source.parse_tool_specs,
                    tool_source.extract_valves_schemas, tool_source.validate_valves)
    # Conversions with super-linear worst cases run in killable child processes.
    fmt, md, pdf = (Isolated(code_format.format_python, 30), Isolated(markdown_html.markdown_to_html, 10),
                    Isolated(chat_pdf.render_chat_pdf, 60))
    closers.extend([fmt.close, md.close, pdf.close])
    jupyter = partial(code_execute.jupyter_config, settings.CODE_EXECUTION_JUPYTER_URL,
                      settings.CODE_EXECUTION_JUPYTER_AUTH_TOKEN)
    adapters = UtilsAdapters(gravatar=gravatar.gravatar_url, format_code=fmt, markdown=md, pdf=pdf,
                             jupyter=jupyter, execute=code_execute.execute_code)
    events_file = None if settings.uses_postgres else settings.DATA_DIR / "events.sqlite3"
    return {"models": ModelService(store, runner, ModelsQueries(read_db), groups, permissions,
                                   host),
            "tools": ToolService(store, runner, ToolsQueries(read_db), groups, permissions, code),
            "utils": UtilsService(adapters, events_file)}


def _files_and_retrieval(c: Container, run_projectors: bool) -> None:
    """Files, knowledge bases and retrieval (docs/retrieval.md)."""
    from application.files import FileService, Pipeline
    from application.knowledge import KnowledgeService
    from application.retrieval import EmbeddingPorts, EmbeddingSpec, RetrievalService, rag_defaults
    from infrastructure import embeddings, text_extraction
    from infrastructure.chunking import chunk_text
    from infrastructure.file_storage import LocalFileStorage
    from projections.files import FilesQueries
    from projections.knowledge import KnowledgeQueries
    from projections.retrieval_index import RetrievalQueries, VectorMirror

    s = c.settings
    storage = LocalFileStorage(s.DATA_DIR / "uploads")
    cache: Any = (embeddings.PostgresEmbeddingCache(c.read_db.pool.connection)  # type: ignore[attr-defined]
                  if s.uses_postgres else
                  embeddings.SQLiteEmbeddingCache(s.DATA_DIR / "embeddings.sqlite3"))
    ports = EmbeddingPorts(model_id=_embedding_model_id, create=_create_embedder,
                           cached=lambda e: embeddings.CachedEmbedder(e, cache),  # type: ignore[arg-type]
                           lookup=cache.get_many, validate=_validate_embedding)
    default = EmbeddingSpec(s.RAG_EMBEDDING_ENGINE.strip().lower(), s.RAG_EMBEDDING_MODEL,
                            s.RAG_EMBEDDING_BATCH_SIZE, s.RAG_OPENAI_API_BASE_URL,
                            s.RAG_OPENAI_API_KEY, s.RAG_OLLAMA_BASE_URL)
    retrieval = RetrievalService(c.config, c.runner, rag_defaults(
        s.CHUNK_SIZE, s.CHUNK_OVERLAP, s.RAG_TOP_K, s.FILE_MAX_SIZE_MB), default, ports, storage,
        RetrievalQueries(c.read_db), c.jobs, c.host, c.store.head)
    # Formats with parsers (pdf, docx, html...) are read in a killable, memory-capped child.
    isolated = Isolated(text_extraction.extract_text, 120, slots=1, memory_mb=2048)
    pipeline = Pipeline(text_extraction.detect_kind, partial(_extract, isolated), chunk_text)
    knowledge_queries = KnowledgeQueries(c.read_db)
    files = FileService(c.store, c.runner, FilesQueries(c.read_db), knowledge_queries,
                        c.user_queries, NoGroups(), storage, c.jobs, pipeline, retrieval, c.host,
                        c.store.head, c.host.position)
    knowledge = KnowledgeService(c.store, c.runner, knowledge_queries, files, NoGroups(),
                                 c.config.default_permissions)
    retrieval.access = knowledge.can_read_collection
    mirror = VectorMirror(c.read_db, s.DATA_DIR / "vector_index", retrieval.active_model,
                          retrieval.vectors_for)
    retrieval.index = mirror
    c.files, c.knowledge, c.retrieval = files, knowledge, retrieval
    c.erasure = _erasure(c, storage, cache, RetrievalQueries(c.read_db), FilesQueries(c.read_db))
    c.jobs.bind(lambda: c)
    if run_projectors:
        mirror.start()  # load the saved index and follow; elsewhere it starts on the first query

    def close() -> None:  # jobs first: a running job still needs the rest
        for step in (c.jobs.close, mirror.stop, isolated.close, getattr(cache, "close", None)):
            if step is not None:
                step()

    c.closers.append(close)


def _extract(isolated: Any, data: bytes, filename: str, content_type: str | None) -> str:
    from infrastructure.text_extraction import detect_kind, extract_text

    if detect_kind(filename, content_type) == "text":
        return extract_text(data, filename, content_type)  # plain decoding: safe in-process
    return str(isolated(data, filename, content_type))


def _embedding_model_id(spec: Any) -> str:
    """The embedding cache's model key of a spec (what the embedder's model_id will be)."""
    from infrastructure.embeddings import LOCAL_MODEL_ID

    return LOCAL_MODEL_ID if spec.engine == "" else f"{spec.engine}:{spec.model}"


def _validate_embedding(spec: Any) -> None:
    from infrastructure.embeddings import LOCAL_MODEL_ALIASES, LOCAL_MODEL_ID

    if spec.engine == "" and spec.model not in LOCAL_MODEL_ALIASES:
        raise ValueError(f"only {LOCAL_MODEL_ID} is available locally; got {spec.model!r}")
    if spec.engine and not spec.model.strip():
        raise ValueError("RAG_EMBEDDING_MODEL is required")


def _create_embedder(spec: Any) -> Any:
    from infrastructure.embeddings import LOCAL_MODEL_ID, make_embedder

    return make_embedder(spec.engine, spec.model or LOCAL_MODEL_ID, batch_size=spec.batch_size,
                         openai_base_url=spec.openai_url or "https://api.openai.com/v1",
                         openai_api_key=spec.openai_key,
                         ollama_base_url=spec.ollama_url or "http://localhost:11434")
