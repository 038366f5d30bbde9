"""Every projector of the product; the projection host runs these."""

from __future__ import annotations

from projections.audit_log import AuditLogProjector
from projections.chat_folders import FoldersProjector
from projections.chats import ChatsProjector
from projections.files import FilesProjector
from projections.groups import GroupsProjector
from projections.knowledge import KnowledgeProjector
from projections.models import ModelsProjector
from projections.notes import NotesProjector
from projections.prompts import PromptsProjector
from projections.realtime import RealtimeProjector
from projections.replies import OpenRepliesProjector
from projections.retrieval_index import RetrievalIndexProjector
from projections.runtime import Projector
from projections.tools import ToolsProjector
from projections.usage import UsageProjector
from projections.users import UsersProjector

PROJECTORS: list[type[Projector]] = [UsersProjector, ChatsProjector, FoldersProjector,
                                     ModelsProjector, ToolsProjector, FilesProjector,
                                     KnowledgeProjector, RetrievalIndexProjector,
                                     AuditLogProjector, OpenRepliesProjector,
                                     UsageProjector]
PROJECTORS.append(PromptsProjector)
PROJECTORS.append(NotesProjector)
PROJECTORS.append(GroupsProjector)  # docs/groups.md
# Feeds follow the log like projectors but publish instead of writing tables (RealtimeHost).
FEEDS: list[type[Projector]] = [RealtimeProjector]
