"""What a process holds once it is built: every adapter and use case, each with its real type."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from application.analytics import Analytics
from application.audit import AuditService
from application.auth import AuthService
from application.chats import ChatService
from application.commands import CommandRunner
from application.completions import CompletionService
from application.config import ConfigService
from application.connections import ConnectionsService
from application.erasure import ErasureService
from application.files import FileService
from application.folders import FolderService
from application.groups import GroupService
from application.knowledge import KnowledgeService
from application.llm import LanguageModels
from application.models import ModelService
from application.notes import NoteService
from application.ports import BackgroundJobs, SessionStore
from application.prompts import PromptService
from application.realtime import RealtimeAccess
from application.replies import ReplyService
from application.retention import RetentionPolicy
from application.retrieval import RetrievalService
from application.search import WorkspaceSearch
from application.task_models import TaskModels
from application.tools import ToolService
from application.users import UserService
from application.utils import UtilsService
from infrastructure.event_store import EventStore
from infrastructure.keys import KeyStore
from infrastructure.settings import Settings
from infrastructure.sql import Database
from infrastructure.ydoc_store import YdocStore
from interfaces.realtime.usage import UsagePool
from projections.realtime import ChannelMembersQueries, RealtimeFeed, RealtimeHost
from projections.retrieval_index import VectorMirror
from projections.runtime import LogReader
from projections.users import UsersQueries

log = logging.getLogger("chronicle.composition")


@dataclass
class Container:
    settings: Settings
    clock: Callable[[], float]  # wall-clock seconds, for the use cases that date what they do
    vault: Database  # per-owner data keys
    keys: KeyStore
    read_db: Database
    store: EventStore
    runner: CommandRunner
    reader: LogReader
    host: RealtimeHost  # projectors, and the realtime feed beside them
    sessions: SessionStore
    jobs: BackgroundJobs  # in-process threads, or Dramatiq on Redis
    realtime: RealtimeFeed  # where the realtime feed publishes (docs/realtime.md)
    realtime_access: RealtimeAccess  # who may join which Socket.IO room
    usage: UsagePool  # models in use right now (Socket.IO `usage`), never events
    ydocs: YdocStore  # collaborative note documents (Yjs updates)
    channel_directory: ChannelMembersQueries  # channel membership for Socket.IO rooms
    config: ConfigService
    auth: AuthService
    users: UserService
    user_queries: UsersQueries
    connections: ConnectionsService  # language-model servers (docs/completions.md)
    llm: LanguageModels
    completions: CompletionService
    replies: ReplyService  # the web app's replies, stoppable from any API worker
    task_models: TaskModels  # titles, tags and follow-ups from the admin's task model
    analytics: Analytics  # replies and tokens per model and per user (admins)
    chats: ChatService
    folders: FolderService
    models: ModelService
    notes: NoteService  # notes, and who may open their collaborative documents
    tools: ToolService
    utils: UtilsService
    files: FileService  # docs/retrieval.md
    knowledge: KnowledgeService
    retrieval: RetrievalService
    vector_index: VectorMirror  # the FAISS mirror retrieval searches
    retention: RetentionPolicy  # old chats to the trash, the trash emptied
    audit: AuditService  # docs/audit.md
    erasure: ErasureService  # docs/erasure.md
    prompts: PromptService  # slash-command prompts and their history
    search: WorkspaceSearch  # the web app's search dialog (/api/v1/search)
    groups: GroupService  # docs/groups.md
    closers: list[Callable[[], None]] = field(default_factory=list)  # run last first

    def close(self) -> None:
        self.host.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.warning("error while closing", exc_info=True)
