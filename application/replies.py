"""Replies the web app asks for (`POST /api/chat/completions` with `chat_id`, the assistant
message `id` and the socket `session_id`), as Open WebUI 0.12.4 answers them: at once with the
task id, then the reply streamed to every session of the user as Socket.IO `events`.

Tokens are not events. The reply is recorded when it starts (the user message and the assistant
message: model, parent, who asked), checkpointed at most every `checkpoint_seconds` while it
streams (a crash loses at most that), and finished once (content, usage, error). A stopped
reply keeps what arrived. What the app receives, in order: `chat:active {active: true}`, the
upstream's chunks as `chat:completion` (the app appends `choices[0].delta.content`),
`chat:completion {done: true, content, usage}` or `chat:message:error`, `chat:active {active:
false}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from application.auth import Principal
from application.chats import ChatService
from application.completions import CompletionService
from application.connections import Connection
from application.errors import BadRequest
from application.llm import UpstreamError
from application.task_models import TASKS, TaskModels, parse
from domain.chat import Chat
from domain.chat_history import linear_branch

log = logging.getLogger("chronicle.replies")
CHECKPOINT_SECONDS = 1.0
STALE_SECONDS = 60.0  # an open reply this old whose task runs nowhere was interrupted
SWEEP_SECONDS = 15.0
INTERRUPTED = "The reply was interrupted: the server streaming it stopped."
STREAM_FAILED = "Chat completion stream failed"
NEW_CHAT = "New Chat"  # a first message's chat, until a title is generated
Row = dict[str, Any]
Emit = Callable[[str, dict[str, Any], str], Awaitable[None]]  # (event, data, room)


class OpenReplies(Protocol):
    def started_before(self, cutoff: int, limit: int = 500) -> list[Row]: ...


class TaskBoard(Protocol):
    """Which replies are running, by chat; stopping one from any process."""

    async def add(self, task_id: str, chat_id: str, user_id: str,
                  task: asyncio.Task[Any]) -> None: ...

    async def remove(self, task_id: str) -> None: ...

    async def of_chat(self, chat_id: str) -> list[str]: ...

    async def owner(self, task_id: str) -> str | None: ...

    async def stop(self, task_id: str) -> None: ...


@dataclass
class LocalTasks:
    """The task board of one process (the embedded default)."""

    running: dict[str, tuple[str, str, asyncio.Task[Any]]] = field(default_factory=dict)

    async def add(self, task_id: str, chat_id: str, user_id: str,
                  task: asyncio.Task[Any]) -> None:
        self.running[task_id] = (chat_id, user_id, task)

    async def remove(self, task_id: str) -> None:
        self.running.pop(task_id, None)

    async def of_chat(self, chat_id: str) -> list[str]:
        return [t for t, (c, _, _) in self.running.items() if c == chat_id]

    async def owner(self, task_id: str) -> str | None:
        found = self.running.get(task_id)
        return found[1] if found else None

    async def stop(self, task_id: str) -> None:
        found = self.running.get(task_id)
        if found is not None:
            found[2].cancel()


def is_new_chat(body: Row) -> bool:
    """0.12.4's sign of a first message: `parent_id` sent as null and no `chat_id`."""
    return "parent_id" in body and body["parent_id"] is None and not body.get("chat_id")


def _sent(message: Row) -> Row:
    return {"role": message.get("role", "user"), "content": message.get("content", "")}


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def delta_of(chunk: Row) -> str:
    choices = chunk.get("choices") or [{}]
    content = (choices[0].get("delta") or {}).get("content") if choices else None
    return content if isinstance(content, str) else ""


@dataclass
class Reply:
    """One streaming reply: where it goes and what has arrived."""

    principal: Principal
    chat_id: str
    message_id: str
    task_id: str
    emit: Emit
    parts: list[str] = field(default_factory=list)
    usage: Row | None = None
    error: str | None = None
    model: str = ""
    messages: list[Row] = field(default_factory=list)
    background: Row = field(default_factory=dict)  # the app's `background_tasks`
    sources: list[Row] = field(default_factory=list)  # what grounded it (application/grounding.py)

    @property
    def content(self) -> str:
        return "".join(self.parts)

    async def send(self, kind: str, data: Any) -> None:
        """To every session of the user, on whichever worker; a socket error never stops it."""
        payload = {"chat_id": self.chat_id, "message_id": self.message_id,
                   "data": {"type": kind, "data": data}}
        try:
            await self.emit("events", payload, user_room(self.principal.id))
        except Exception:
            log.warning("could not emit %s for chat %s", kind, self.chat_id, exc_info=True)


class ReplyService:
    def __init__(self, completions: CompletionService, chats: ChatService, tasks: TaskBoard,
                 open_replies: OpenReplies, task_models: TaskModels | None = None,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS,
                 stale_seconds: float = STALE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.completions = completions
        self.chats = chats
        self.tasks = tasks
        self.open_replies = open_replies
        self.task_models = task_models
        self.checkpoint_seconds = checkpoint_seconds
        self.stale_seconds = stale_seconds
        self.clock = clock

    @staticmethod
    def wanted(body: Row) -> bool:
        """The web app's form: the reply goes to a chat and a socket, not to the response. A
        first message (`parent_id: null`, no `chat_id`) opens its chat here, as 0.12.4 does."""
        return all(isinstance(body.get(k), str) and body[k] for k in ("id", "session_id")) and \
            (isinstance(body.get("chat_id"), str) and bool(body["chat_id"]) or is_new_chat(body))

    async def start(self, principal: Principal, body: Row, emit: Emit) -> Row:
        message_id = body["id"]
        user_message = body.get("user_message")
        user_message = user_message if isinstance(user_message, dict) else None
        parent = user_message.get("id") if user_message else body.get("parent_id")
        if is_new_chat(body):
            messages = body.get("messages") or ([_sent(user_message)] if user_message else [])
            if not messages:
                raise BadRequest("No messages to send")
            # The model is checked before the chat exists: a refused request writes nothing.
            connection, upstream, sources = await self.completions.prepare(
                principal, {**body, "messages": messages})
            chat_id = await self._open_chat(principal, body, user_message, emit)
        else:
            chat_id = body["chat_id"]
            chat = await asyncio.to_thread(self.chats.own, principal, chat_id)  # 404: not theirs
            messages = body.get("messages") or self._history(chat, user_message, parent)
            connection, upstream, sources = await self.completions.prepare(
                principal, {**body, "messages": messages})
        task_id = str(uuid.uuid4())
        await self.chats.start_reply(principal, chat_id, user_message, {
            "id": message_id, "parentId": parent if isinstance(parent, str) else None,
            "role": "assistant", "content": "", "model": body["model"], "done": False,
            "timestamp": int(time.time())}, task_id)
        background = body.get("background_tasks")
        reply = Reply(principal, chat_id, message_id, task_id, emit, model=body["model"],
                      messages=list(messages), sources=sources,
                      background=background if isinstance(background, dict) else {})
        registered = asyncio.Event()  # the task must be on the board before it can leave it
        task = asyncio.create_task(self._run(reply, connection, upstream, registered))
        try:
            await self.tasks.add(task_id, chat_id, principal.id, task)
        finally:
            registered.set()
        return {"status": True, "task_ids": [task_id], "chat_id": chat_id}

    async def _open_chat(self, principal: Principal, body: Row, user_message: Row | None,
                         emit: Emit) -> str:
        """A first message's chat: "New Chat" with the model, in the folder the app names (404
        when it is not the caller's); the messages come with the reply's start."""
        folder = body.get("folder_id")
        chat: Row = {"title": NEW_CHAT, "models": [body["model"]], "tags": [],
                "history": {"messages": {}, "currentId": None}, "messages": [],
                "files": body.get("files") if isinstance(body.get("files"), list) else [],
                "timestamp": int(time.time() * 1000)}
        created = await asyncio.to_thread(self.chats.create, principal, chat,
                                          folder if isinstance(folder, str) and folder else None)
        chat_id = str(created.value.id)
        payload = {"chat_id": chat_id, "message_id": user_message.get("id") if user_message
                   else None, "data": {"type": "chat:list", "data": {
                       "chat_id": chat_id, "folder_id": folder}}}
        try:  # the app's sidebar lists the new chat on this
            await emit("events", payload, user_room(principal.id))
        except Exception:
            log.warning("could not announce the new chat %s", chat_id, exc_info=True)
        return chat_id

    @staticmethod
    def _history(chat: Chat, user_message: Row | None, parent: Any) -> list[Row]:
        """The conversation up to the new user message, when the app sends no `messages`."""
        branch = linear_branch(chat.messages, parent if isinstance(parent, str) else None)
        if user_message is not None and (not branch or branch[-1].get("id") !=
                                         user_message.get("id")):
            branch.append(user_message)
        if not branch:
            raise BadRequest("No messages to send")
        return [{"role": m.get("role"), "content": m.get("content", "")} for m in branch]

    async def _run(self, reply: Reply, connection: Connection, upstream: Row,
                   registered: asyncio.Event) -> None:
        try:
            await registered.wait()
            await reply.send("chat:active", {"active": True})
            if reply.sources:  # before the first delta, as 0.12.4 sends them
                await reply.send("chat:completion", {"sources": reply.sources})
            await self._stream(reply, connection, upstream)
        except UpstreamError as error:
            reply.error = error.message if not error.mid_stream else STREAM_FAILED
        except asyncio.CancelledError:
            pass  # stopped: what arrived is kept
        try:
            await self.tasks.remove(reply.task_id)
        except Exception:
            log.warning("could not take task %s off the board", reply.task_id, exc_info=True)
        await self._finish(reply)

    async def _stream(self, reply: Reply, connection: Connection, upstream: Row) -> None:
        last = self.clock()
        async for chunk in self.completions.stream(connection, upstream):
            reply.parts.append(delta_of(chunk))
            reply.usage = chunk.get("usage") or reply.usage
            await reply.send("chat:completion", chunk)
            if self.clock() - last >= self.checkpoint_seconds:
                last = self.clock()
                await self.chats.checkpoint_reply(reply.principal, reply.chat_id,
                                                  reply.message_id, reply.content)

    async def _finish(self, reply: Reply) -> None:
        changes: Row = {"content": reply.content}
        if reply.usage:
            changes["usage"] = reply.usage
        if reply.sources:
            changes["sources"] = reply.sources
        if reply.error:
            changes["error"] = {"content": reply.error}
        try:
            await self.chats.finish_reply(reply.principal, reply.chat_id, reply.message_id,
                                          changes)
        except Exception:
            log.exception("could not record the end of a reply in chat %s", reply.chat_id)
        if reply.error:
            await reply.send("chat:message:error", {"error": {"content": reply.error}})
        else:
            await reply.send("chat:completion", {"done": True, "content": reply.content,
                                                 **({"usage": reply.usage} if reply.usage
                                                    else {})})
            await self._background(reply)
        await reply.send("chat:active", {"active": False})

    # -- after a reply: what the app asked for in `background_tasks` ----------------------
    async def _background(self, reply: Reply) -> None:
        """A title, tags and follow-ups from the task model; a title and tags are commands on
        the chat. A failing task is logged: the reply itself has ended well."""
        if self.task_models is None:
            return
        conversation = [*reply.messages, {"role": "assistant", "content": reply.content}]
        for kind, wanted, apply in (("title", "title_generation", self._retitle),
                                    ("tags", "tags_generation", self._tag),
                                    ("follow_up", "follow_up_generation", self._follow_ups)):
            if not reply.background.get(wanted) or not self.task_models.enabled(kind):
                continue
            try:
                answer = await self.task_models.ask(reply.principal, kind, reply.model,
                                                    conversation)
                await apply(reply, parse(answer, TASKS[kind].answer))
            except Exception:
                log.warning("%s generation failed for chat %s", kind, reply.chat_id,
                            exc_info=True)

    async def _retitle(self, reply: Reply, title: Any) -> None:
        if isinstance(title, str) and title.strip():
            title = title.strip()[:200]
            await self.chats.update(reply.principal, reply.chat_id, {"title": title})
            await reply.send("chat:title", title)

    async def _tag(self, reply: Reply, tags: Any) -> None:
        names = [t for t in tags if isinstance(t, str) and t.strip()] if isinstance(
            tags, list) else []
        for name in names[:6]:
            await asyncio.to_thread(self.chats.add_tag, reply.principal, reply.chat_id,
                                    name.strip()[:100])
        if names:
            await reply.send("chat:tags", names[:6])

    async def _follow_ups(self, reply: Reply, questions: Any) -> None:
        if isinstance(questions, list):
            found = [q for q in questions if isinstance(q, str) and q.strip()][:5]
            await reply.send("chat:message:follow_ups", {"follow_ups": found})

    # -- tasks ----------------------------------------------------------------------------
    async def of_chat(self, principal: Principal, chat_id: str) -> list[str]:
        await asyncio.to_thread(self.chats.own, principal, chat_id)
        return await self.tasks.of_chat(chat_id)

    async def stop(self, principal: Principal, task_id: str) -> bool:
        owner = await self.tasks.owner(task_id)
        if owner is None or (owner != principal.id and not principal.is_admin):
            return False
        await self.tasks.stop(task_id)
        return True

    async def stop_chat(self, principal: Principal, chat_id: str) -> list[str]:
        stopped = await self.of_chat(principal, chat_id)
        for task_id in stopped:
            await self.tasks.stop(task_id)
        return stopped

    # -- replies whose process died -------------------------------------------------------
    async def sweep(self, now: float) -> int:
        """Finish, as interrupted, the open replies older than `stale_seconds` whose task runs
        nowhere (a crashed or killed process); the checkpointed content stays."""
        rows = await asyncio.to_thread(self.open_replies.started_before,
                                       int(now - self.stale_seconds))
        interrupted = 0
        for row in rows:
            if await self.tasks.owner(row["task_id"]) is None:
                interrupted += await asyncio.to_thread(
                    self.chats.interrupt_reply, row["chat_id"], row["message_id"], INTERRUPTED)
        return interrupted

    async def sweep_forever(self, every: float = SWEEP_SECONDS) -> None:
        """Each API worker sweeps; two finishing one reply is one conflict, not two ends."""
        while True:
            try:
                if await self.sweep(time.time()):
                    log.info("marked interrupted replies")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("sweeping interrupted replies failed", exc_info=True)
            await asyncio.sleep(every)
