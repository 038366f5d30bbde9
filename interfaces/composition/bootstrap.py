"""The composition root: every process (API, `chronicle projector`, `chronicle worker`, the operator
scripts) builds its container here, each adapter once, in dependency order.

Nothing is patched after it is built. Where two objects need each other (the store tells the log
reader of commits; retrieval asks the knowledge service who may search; the vector mirror embeds
through retrieval; a job queue runs jobs against the container that holds it), the one built
first gets a callable that reaches the later one when it is called, never during construction.

The ports (event store, read database, sessions, jobs, embedder, file storage, clock) are keyword
arguments with production defaults: a test or a benchmark swaps one and builds the rest as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

from application.access import GroupMembership
from application.analytics import Analytics
from application.audit import AuditService
from application.auth import AuthService
from application.catalog import ModelCatalog
from application.chats import ChatService
from application.commands import CommandRunner
from application.completions import CompletionService
from application.config import ConfigService
from application.connections import ConnectionsService
from application.erasure import ErasureService, Workspace
from application.files import FileService, Pipeline
from application.folders import FolderService
from application.grounding import Grounding
from application.groups import GroupService
from application.knowledge import KnowledgeService
from application.models import ModelService
from application.notes import NoteService
from application.permissions import EffectivePermissions
from application.ports import BackgroundJobs, FileStorage, SessionStore
from application.prompts import PromptService
from application.realtime import RealtimeAccess
from application.replies import LocalTasks, ReplyService, TaskBoard
from application.retention import RetentionPolicy
from application.retrieval import Embedder, EmbeddingPorts, EmbeddingSpec, RetrievalService, rag_defaults
from application.search import WorkspaceSearch
from application.task_models import TaskModels
from application.tools import ToolCode, ToolService
from application.users import UserService
from application.utils import UtilsAdapters, UtilsService
from infrastructure import (
    chat_pdf,
    code_execute,
    code_format,
    embeddings,
    gravatar,
    markdown_html,
    metrics,
    text_extraction,
    tool_source,
)
from infrastructure.chunking import chunk_text
from infrastructure.erasure_stores import ErasureStores
from infrastructure.event_store import ChronicleStore, EventStore, store_env
from infrastructure.file_storage import LocalFileStorage
from infrastructure.isolation import Isolated
from infrastructure.jobs import DramatiqJobs, InProcessJobs, RunJob, Schedule, queue_name
from infrastructure.keys import KeyStore, derive_kek, fingerprint
from infrastructure.llm_client import HttpLLM
from infrastructure.passwords import Passwords
from infrastructure.sessions import MemorySessions, RedisSessions
from infrastructure.settings import Settings
from infrastructure.sql import Database, open_database
from infrastructure.task_board import RedisTasks
from infrastructure.tokens import Tokens
from infrastructure.ydoc_store import YdocStore
from interfaces.composition.container import Container
from interfaces.composition.jobs import run_job
from interfaces.realtime.usage import UsagePool
from projections.audit_log import AuditQueries
from projections.chat_folders import FoldersQueries
from projections.chats import ChatsQueries
from projections.files import FilesQueries
from projections.groups import GroupsQueries
from projections.host import ProjectionHost
from projections.knowledge import KnowledgeQueries
from projections.models import ModelsQueries
from projections.notes import NotesQueries
from projections.prompts import PromptsQueries
from projections.realtime import (
    ChannelMembersQueries,
    RealtimeFeed,
    RealtimeHost,
    RedisPublisher,
    Translator,
    socketio_channel,
)
from projections.registry import FEEDS, PROJECTORS
from projections.replies import OpenRepliesQueries
from projections.retrieval_index import RetrievalQueries, VectorMirror
from projections.runtime import NOTIFY_CHANNEL, LogReader
from projections.tools import ToolsQueries
from projections.usage import UsageQueries
from projections.users import UsersQueries

log = logging.getLogger("chronicle.bootstrap")

EmbeddingCache = embeddings.PostgresEmbeddingCache | embeddings.SQLiteEmbeddingCache


class Ports(NamedTuple):
    """The ports `bootstrap()` takes; None builds the production one of the settings."""

    store: EventStore | None
    read_db: Database | None
    sessions: SessionStore | None
    jobs: BackgroundJobs | None
    embedder: Callable[[EmbeddingSpec], Embedder]
    file_storage: FileStorage | None
    clock: Callable[[], float]


def bootstrap(settings: Settings | None = None, run_projectors: bool | None = None, *,
              store: EventStore | None = None, read_db: Database | None = None,
              sessions: SessionStore | None = None, jobs: BackgroundJobs | None = None,
              embedder: Callable[[EmbeddingSpec], Embedder] | None = None,
              file_storage: FileStorage | None = None,
              clock: Callable[[], float] = time.time) -> Container:
    """Build a process's container; a port left out is the production one of `settings`."""
    settings = settings or Settings()
    if run_projectors is None:
        run_projectors = settings.CHRONICLE_PROJECTORS == "embedded"
    ports = Ports(store, read_db, sessions, jobs, embedder or create_embedder, file_storage, clock)
    with _startup_lock(settings):
        return _build(settings, run_projectors, ports)


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


def _build(settings: Settings, run_projectors: bool, ports: Ports) -> Container:
    vault = open_database(_url(settings), settings.DATA_DIR / "keys.sqlite3",
                          schema="chronicle_vault", pool_min=1, pool_max=4)
    keys = KeyStore(vault, settings.secret_key())
    store, reader = _event_log(settings, keys, ports.store)
    read_db = ports.read_db if ports.read_db is not None else _read_db(settings)
    closers: list[Callable[[], None]] = [store.close, read_db.close, vault.close]
    host, feed = _projection_host(settings, store, reader, read_db, closers)
    if run_projectors:
        host.start()
    sessions = ports.sessions if ports.sessions is not None else _sessions(settings)
    runner = CommandRunner(store, retries=settings.COMMAND_RETRIES,
                           on_command=metrics.observe_command)
    config = ConfigService(store, runner, config_defaults(settings))
    access = _access(read_db, config)
    people = _people(settings, store, runner, read_db, sessions, config, access)

    def built() -> Container:  # jobs run against the container built below, once it is returned
        return container

    jobs = ports.jobs if ports.jobs is not None else _jobs(settings, partial(run_job, built))
    closers.append(jobs.close)
    ydocs = YdocStore(open_database(_url(settings), settings.DATA_DIR / "ydoc.sqlite3",
                                    schema="chronicle_ydoc", pool_min=0, pool_max=4))
    closers.append(ydocs.close)
    chats = _chats(settings, store, runner, read_db, access, ports.clock)
    work = _workspace(settings, store, runner, read_db, access, closers, host)
    storage = (ports.file_storage if ports.file_storage is not None
               else LocalFileStorage(settings.DATA_DIR / "uploads"))
    files = _files(settings, store, runner, read_db, config, people.queries, jobs, host,
                   ports.embedder, storage, closers, access)
    llm = _completions(settings, config, read_db, chats.chats, host, access, runner,
                       Grounding(files.retrieval, FilesQueries(read_db).names))
    prompts = PromptService(store, runner, PromptsQueries(read_db), access.groups,
                            access.permissions)
    erasure = _erasure(host, store, runner, keys, sessions, ydocs, [read_db, ydocs.db, vault],
                       Workspace(people.users, files.files, files.knowledge, work.models, work.tools,
                                 prompts),
                       files, ports.clock)
    retention = RetentionPolicy(store, runner, chats.queries, settings.CHAT_RETENTION_DAYS,
                                settings.CHAT_TRASH_RETENTION_DAYS)
    channels = ChannelMembersQueries(read_db)
    notes = NoteService(store, runner, NotesQueries(read_db), access.groups, access.permissions,
                        partial(config.enabled, "ENABLE_NOTES"), host)
    container = Container(
        settings=settings, clock=ports.clock, vault=vault, keys=keys, read_db=read_db, store=store,
        runner=runner, reader=reader, host=host, sessions=sessions, jobs=jobs, realtime=feed,
        realtime_access=RealtimeAccess(channels, notes), usage=_usage_pool(settings), ydocs=ydocs,
        channel_directory=channels, config=config, auth=people.auth, users=people.users,
        user_queries=people.queries, connections=llm.connections, llm=llm.llm,
        completions=llm.completions,
        replies=llm.replies, task_models=llm.task_models,
        analytics=Analytics(UsageQueries(read_db), people.queries),
        chats=chats.chats, folders=chats.folders, models=work.models, tools=work.tools,
        notes=notes,
        utils=work.utils, files=files.files, knowledge=files.knowledge, retrieval=files.retrieval,
        vector_index=files.mirror, retention=retention, prompts=prompts,
        audit=AuditService(store, AuditQueries(read_db), config), erasure=erasure,
        search=WorkspaceSearch(chats.queries, FoldersQueries(read_db)),
        groups=GroupService(store, runner, access.groups, access.permissions), closers=closers)
    if run_projectors:
        files.mirror.start()  # load the saved index and follow; elsewhere it starts on the first query
        schedule_retention(container)
    return container


def _read_db(settings: Settings) -> Database:
    return open_database(_url(settings), settings.DATA_DIR / "read.sqlite3",
                         schema="chronicle_read", pool_min=settings.PG_POOL_SIZE,
                         pool_max=settings.PG_POOL_MAX)


def _url(settings: Settings) -> str:
    """The PostgreSQL URL every database of the deployment lives in; empty for SQLite files."""
    return settings.DATABASE_URL if settings.uses_postgres else ""


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


# -- the log ------------------------------------------------------------------------------------
def _event_log(settings: Settings, keys: KeyStore, store: EventStore | None
               ) -> tuple[EventStore, LogReader]:
    def on_commit(head: int) -> None:  # the reader is built on the store that calls this
        reader.notify_head(head)

    if store is None:
        secret = settings.secret_key()
        store = EventStore(ChronicleStore(
            store_env(_url(settings), settings.DATA_DIR), keys, derive_kek(secret, b"event-chain"),
            on_commit=on_commit, on_batch=metrics.observe_batch,
            max_batch_events=settings.GROUP_COMMIT_MAX_EVENTS))
    reader = LogReader(store)
    # A destroyed key (here or in another process) must not live on in decoded copies.
    keys.on_erased(partial(_forget_decoded, store, reader))
    return store, reader


def _forget_decoded(store: EventStore, reader: LogReader, _owners: set[str]) -> None:
    store.forget_cached()
    reader.forget()


def _projection_host(settings: Settings, store: EventStore, reader: LogReader, read_db: Database,
                     closers: list[Callable[[], None]]) -> tuple[RealtimeHost, RealtimeFeed]:
    """The projectors and the realtime feed, woken by NOTIFY on PostgreSQL, by polling on SQLite."""
    url = _url(settings)
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
    return host, feed


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


def schedule_retention(c: Container) -> None:
    """The process that runs the projectors (embedded server, `chronicle projector`) enqueues
    the retention policy every RETENTION_INTERVAL_SECONDS; it is idempotent, so several such
    processes only repeat a no-op."""
    if c.settings.RETENTION_INTERVAL_SECONDS > 0:
        schedule = Schedule(c.jobs, "retention", c.settings.RETENTION_INTERVAL_SECONDS)
        schedule.start()
        c.closers.append(schedule.stop)  # closers run last first: before the jobs close


# -- ports with production defaults -------------------------------------------------------------
def _sessions(settings: Settings) -> SessionStore:
    if settings.REDIS_URL:
        return RedisSessions(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
    return MemorySessions()


def _jobs(settings: Settings, run: RunJob) -> BackgroundJobs:
    if settings.CHRONICLE_JOBS == "dramatiq" and settings.REDIS_URL:
        return DramatiqJobs(settings.REDIS_URL, run, queue_name(settings.DATABASE_URL))
    return InProcessJobs(run)


def _usage_pool(settings: Settings) -> UsagePool:
    """Shared by every API worker through Redis, under the deployment's Socket.IO channel."""
    return UsagePool(settings.REDIS_URL, key=f"{socketio_channel(settings.DATABASE_URL)}:usage")


# -- use cases ----------------------------------------------------------------------------------
class People(NamedTuple):
    auth: AuthService
    users: UserService
    queries: UsersQueries


class Access(NamedTuple):
    """Who belongs to which group, and what each user may do (docs/groups.md)."""

    groups: GroupsQueries  # the GroupMembership port every access check asks
    permissions: EffectivePermissions  # the defaults combined with the user's groups'


def _access(read_db: Database, config: ConfigService) -> Access:
    groups = GroupsQueries(read_db)
    return Access(groups, EffectivePermissions(config.default_permissions, groups.permissions_of))


def _people(settings: Settings, store: EventStore, runner: CommandRunner, read_db: Database,
            sessions: SessionStore, config: ConfigService, access: Access) -> People:
    secret = settings.secret_key()
    queries, passwords = UsersQueries(read_db), Passwords()
    auth = AuthService(store, runner, queries, passwords, Tokens(secret), sessions, config,
                       signin_limit=settings.SIGNIN_RATE_LIMIT,
                       signin_window=settings.SIGNIN_RATE_WINDOW,
                       token_ttl=settings.jwt_expiry_seconds,
                       email_fingerprint=partial(fingerprint, derive_kek(secret, b"email")),
                       permissions=access.permissions)
    return People(auth, UserService(store, runner, queries, auth, passwords, grants=access.groups),
                  queries)


class Chats(NamedTuple):
    chats: ChatService
    folders: FolderService
    queries: ChatsQueries


def _chats(settings: Settings, store: EventStore, runner: CommandRunner, read_db: Database,
           access: Access, clock: Callable[[], float]) -> Chats:
    chat_queries, folder_queries = ChatsQueries(read_db), FoldersQueries(read_db)
    chats = ChatService(store, runner, chat_queries, folder_queries, access.permissions,
                        trash_days=settings.CHAT_TRASH_RETENTION_DAYS, clock=clock)
    folders = FolderService(store, runner, folder_queries, chat_queries, access.permissions)
    return Chats(chats, folders, chat_queries)


class Completions(NamedTuple):
    connections: ConnectionsService
    llm: HttpLLM
    completions: CompletionService
    replies: ReplyService
    task_models: TaskModels


def _completions(settings: Settings, config: ConfigService, read_db: Database,
                 chats: ChatService, host: ProjectionHost, access: Access,
                 runner: CommandRunner, grounding: Grounding) -> Completions:
    """Connections, the model list, chat completions and the web app's replies
    (docs/completions.md)."""
    connections, llm = ConnectionsService(config), HttpLLM()
    catalog = ModelCatalog(connections, llm, ModelsQueries(read_db).every, access.groups,
                           workspace_version=partial(host.position, "models"))
    completions = CompletionService(catalog, connections, llm, grounding, runner)
    # Across API workers a stop must reach the one streaming the reply: Redis when there is one.
    tasks: TaskBoard = (RedisTasks(settings.REDIS_URL, settings.REDIS_KEY_PREFIX)
                        if settings.REDIS_URL else LocalTasks())
    task_models = TaskModels(config, catalog, completions)
    replies = ReplyService(completions, chats, tasks, OpenRepliesQueries(read_db), task_models,
                           checkpoint_seconds=settings.REPLY_CHECKPOINT_SECONDS,
                           stale_seconds=settings.REPLY_STALE_SECONDS)
    return Completions(connections, llm, completions, replies, task_models)


class Work(NamedTuple):
    models: ModelService
    tools: ToolService
    utils: UtilsService


def _workspace(settings: Settings, store: EventStore, runner: CommandRunner, read_db: Database,
               access: Access, closers: list[Callable[[], None]], host: ProjectionHost) -> Work:
    """Models, tools and utils (docs/models-tools-utils.md)."""
    groups: GroupMembership = access.groups
    permissions = access.permissions
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
    return Work(ModelService(store, runner, ModelsQueries(read_db), groups, permissions, host),
                ToolService(store, runner, ToolsQueries(read_db), groups, permissions, code),
                UtilsService(adapters, events_file))


class Files(NamedTuple):
    files: FileService
    knowledge: KnowledgeService
    retrieval: RetrievalService
    mirror: VectorMirror
    storage: FileStorage
    cache: EmbeddingCache


def _files(settings: Settings, store: EventStore, runner: CommandRunner, read_db: Database,
           config: ConfigService, users: UsersQueries, jobs: BackgroundJobs, host: ProjectionHost,
           embedder: Callable[[EmbeddingSpec], Embedder], storage: FileStorage,
           closers: list[Callable[[], None]], access: Access) -> Files:
    """Files, knowledge bases and retrieval (docs/retrieval.md). Retrieval asks the knowledge
    service (built on files, built on retrieval) who may search, and the mirror embeds through
    retrieval: both reach the later object through a callable."""
    s = settings
    cache = _embedding_cache(settings, read_db)
    mirror = VectorMirror(read_db, s.DATA_DIR / "vector_index", lambda: retrieval.active_model(),
                          lambda model, entries: retrieval.vectors_for(model, entries))
    retrieval = RetrievalService(
        config, runner, rag_defaults(s.CHUNK_SIZE, s.CHUNK_OVERLAP, s.RAG_TOP_K, s.FILE_MAX_SIZE_MB),
        _embedding_spec(s), _embedding_ports(embedder, cache), storage, RetrievalQueries(read_db),
        jobs, host, store.head, access=lambda principal, name: knowledge.can_read_collection(
            principal, name), index=mirror)
    # Formats with parsers (pdf, docx, html...) are read in a killable, memory-capped child.
    isolated = Isolated(text_extraction.extract_text, 120, slots=1, memory_mb=2048)
    pipeline = Pipeline(text_extraction.detect_kind, partial(_extract, isolated), chunk_text)
    knowledge_queries = KnowledgeQueries(read_db)
    files = FileService(store, runner, FilesQueries(read_db), knowledge_queries, users, access.groups,
                        storage, jobs, pipeline, retrieval, host, store.head, host.position)
    knowledge = KnowledgeService(store, runner, knowledge_queries, files, access.groups,
                                 access.permissions)

    def close() -> None:  # jobs first: a running job still needs the rest
        for step in (jobs.close, mirror.stop, isolated.close, getattr(cache, "close", None)):
            if step is not None:  # the PostgreSQL cache borrows the read pool: nothing to close
                step()

    closers.append(close)
    return Files(files, knowledge, retrieval, mirror, storage, cache)


def _embedding_cache(settings: Settings, read_db: Database) -> EmbeddingCache:
    if settings.uses_postgres:
        return embeddings.PostgresEmbeddingCache(read_db.pool.connection)  # type: ignore[attr-defined]
    return embeddings.SQLiteEmbeddingCache(settings.DATA_DIR / "embeddings.sqlite3")


def _embedding_spec(s: Settings) -> EmbeddingSpec:
    return EmbeddingSpec(s.RAG_EMBEDDING_ENGINE.strip().lower(), s.RAG_EMBEDDING_MODEL,
                         s.RAG_EMBEDDING_BATCH_SIZE, s.RAG_OPENAI_API_BASE_URL,
                         s.RAG_OPENAI_API_KEY, s.RAG_OLLAMA_BASE_URL)


def _embedding_ports(embedder: Callable[[EmbeddingSpec], Embedder],
                     cache: EmbeddingCache) -> EmbeddingPorts:
    return EmbeddingPorts(model_id=_embedding_model_id, create=embedder,
                          cached=lambda e: embeddings.CachedEmbedder(e, cache),  # type: ignore[arg-type]
                          lookup=cache.get_many, validate=_validate_embedding)


def _erasure(host: ProjectionHost, store: EventStore, runner: CommandRunner, keys: KeyStore,
             sessions: SessionStore, ydocs: YdocStore, databases: list[Database],
             workspace: Workspace, files: Files, clock: Callable[[], float]) -> ErasureService:
    """Erasing a user (docs/erasure.md); needs every service that deletes what users own."""
    read_db = databases[0]
    stores = ErasureStores(host, [p.name for p in PROJECTORS], sessions, FilesQueries(read_db),
                           files.storage, RetrievalQueries(read_db), files.cache, ydocs,
                           lambda: files.mirror, databases)
    return ErasureService(store, runner, workspace, keys, stores, clock=clock)


def _extract(isolated: Isolated, data: bytes, filename: str, content_type: str | None) -> str:
    if text_extraction.detect_kind(filename, content_type) == "text":
        return text_extraction.extract_text(data, filename, content_type)  # plain decoding: safe in-process
    return str(isolated(data, filename, content_type))


def _embedding_model_id(spec: EmbeddingSpec) -> str:
    """The embedding cache's model key of a spec (what the embedder's model_id will be)."""
    return embeddings.LOCAL_MODEL_ID if spec.engine == "" else f"{spec.engine}:{spec.model}"


def _validate_embedding(spec: EmbeddingSpec) -> None:
    if spec.engine == "" and spec.model not in embeddings.LOCAL_MODEL_ALIASES:
        raise ValueError(f"only {embeddings.LOCAL_MODEL_ID} is available locally; got {spec.model!r}")
    if spec.engine and not spec.model.strip():
        raise ValueError("RAG_EMBEDDING_MODEL is required")


def create_embedder(spec: EmbeddingSpec) -> Embedder:
    """The production embedder of a spec (the `embedder` port's default)."""
    return embeddings.make_embedder(
        spec.engine, spec.model or embeddings.LOCAL_MODEL_ID, batch_size=spec.batch_size,
        openai_base_url=spec.openai_url or "https://api.openai.com/v1",
        openai_api_key=spec.openai_key, ollama_base_url=spec.ollama_url or "http://localhost:11434")
