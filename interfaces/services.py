"""One narrow dependency per use case the routers call, so a route names exactly what it uses.

Each reads its service off the request's container; the container itself stays behind these
(and behind the write-position bookkeeping in interfaces/deps.py). They are coroutines because
FastAPI runs a plain function dependency on a worker thread: a thread hop per request for an
attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from application.analytics import Analytics
from application.audit import AuditService
from application.auth import AuthService
from application.chats import ChatService
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
from application.ports import SessionStore
from application.prompts import PromptService
from application.replies import ReplyService
from application.retrieval import RetrievalService
from application.search import WorkspaceSearch
from application.task_models import TaskModels
from application.tools import ToolService
from application.users import UserService
from application.utils import UtilsService
from infrastructure.settings import Settings
from interfaces.deps import get_container
from interfaces.realtime.usage import UsagePool
from projections.users import UsersQueries


async def audit_service(request: Request) -> AuditService:
    return get_container(request).audit


async def auth_service(request: Request) -> AuthService:
    return get_container(request).auth


async def chat_service(request: Request) -> ChatService:
    return get_container(request).chats


async def config_service(request: Request) -> ConfigService:
    return get_container(request).config


async def erasure_service(request: Request) -> ErasureService:
    return get_container(request).erasure


async def file_service(request: Request) -> FileService:
    return get_container(request).files


async def folder_service(request: Request) -> FolderService:
    return get_container(request).folders


async def group_service(request: Request) -> GroupService:
    return get_container(request).groups


async def knowledge_service(request: Request) -> KnowledgeService:
    return get_container(request).knowledge


async def model_service(request: Request) -> ModelService:
    return get_container(request).models


async def prompt_service(request: Request) -> PromptService:
    return get_container(request).prompts
async def note_service(request: Request) -> NoteService:
    return get_container(request).notes


async def retrieval_service(request: Request) -> RetrievalService:
    return get_container(request).retrieval


async def session_store(request: Request) -> SessionStore:
    return get_container(request).sessions


async def app_settings(request: Request) -> Settings:
    return get_container(request).settings


async def tool_service(request: Request) -> ToolService:
    return get_container(request).tools


async def user_service(request: Request) -> UserService:
    return get_container(request).users


async def utils_service(request: Request) -> UtilsService:
    return get_container(request).utils


async def analytics_service(request: Request) -> Analytics:
    return get_container(request).analytics


async def completion_service(request: Request) -> CompletionService:
    return get_container(request).completions


async def connections_service(request: Request) -> ConnectionsService:
    return get_container(request).connections


async def language_models(request: Request) -> LanguageModels:
    return get_container(request).llm


async def reply_service(request: Request) -> ReplyService:
    return get_container(request).replies


async def task_model_service(request: Request) -> TaskModels:
    return get_container(request).task_models


async def workspace_search(request: Request) -> WorkspaceSearch:
    return get_container(request).search


async def usage_pool(request: Request) -> UsagePool:
    return get_container(request).usage


async def user_directory(request: Request) -> UsersQueries:
    return get_container(request).user_queries


AppSettings = Annotated[Settings, Depends(app_settings)]
Audit = Annotated[AuditService, Depends(audit_service)]
Auth = Annotated[AuthService, Depends(auth_service)]
Chats = Annotated[ChatService, Depends(chat_service)]
Config = Annotated[ConfigService, Depends(config_service)]
Erasure = Annotated[ErasureService, Depends(erasure_service)]
Files = Annotated[FileService, Depends(file_service)]
Folders = Annotated[FolderService, Depends(folder_service)]
Knowledge = Annotated[KnowledgeService, Depends(knowledge_service)]
Groups = Annotated[GroupService, Depends(group_service)]
Models = Annotated[ModelService, Depends(model_service)]
Prompts = Annotated[PromptService, Depends(prompt_service)]
Notes = Annotated[NoteService, Depends(note_service)]
Retrieval = Annotated[RetrievalService, Depends(retrieval_service)]
Sessions = Annotated[SessionStore, Depends(session_store)]
Tools = Annotated[ToolService, Depends(tool_service)]
Users = Annotated[UserService, Depends(user_service)]
UsageAnalytics = Annotated[Analytics, Depends(analytics_service)]
Completions = Annotated[CompletionService, Depends(completion_service)]
Connections = Annotated[ConnectionsService, Depends(connections_service)]
LLM = Annotated[LanguageModels, Depends(language_models)]
Replies = Annotated[ReplyService, Depends(reply_service)]
TaskModelsDep = Annotated[TaskModels, Depends(task_model_service)]
Utils = Annotated[UtilsService, Depends(utils_service)]
UsagePoolDep = Annotated[UsagePool, Depends(usage_pool)]
Search = Annotated[WorkspaceSearch, Depends(workspace_search)]
UserDirectory = Annotated[UsersQueries, Depends(user_directory)]
