"""Task-model completions (Open WebUI 0.12.4's `/api/v1/tasks/*`): a title, tags, follow-up
questions and search queries for a conversation, asked of the admin's task model (or the chat's
own model), each enabled by the admin's task config.

The prompts ask the model for a JSON object; `parse` reads it leniently (models wrap JSON in
prose or code fences). Results that change a chat (its title, its tags) are commands on the
chat, recorded by the caller; this module only asks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from application.auth import Principal
from application.catalog import ModelCatalog
from application.commands import Outcome
from application.completions import CompletionService
from application.config import ConfigService
from application.errors import BadRequest, NotFound

Row = dict[str, Any]
TASK_DEFAULTS: Row = {
    "TASK_MODEL": "", "TASK_MODEL_EXTERNAL": "", "TASK_MODEL_PARAMS": None,
    "ENABLE_TITLE_GENERATION": True, "TITLE_GENERATION_PROMPT_TEMPLATE": "",
    "IMAGE_PROMPT_GENERATION_PROMPT_TEMPLATE": "",
    "ENABLE_AUTOCOMPLETE_GENERATION": False, "AUTOCOMPLETE_GENERATION_INPUT_MAX_LENGTH": -1,
    "AUTOCOMPLETE_GENERATION_PROMPT_TEMPLATE": "",
    "TAGS_GENERATION_PROMPT_TEMPLATE": "", "FOLLOW_UP_GENERATION_PROMPT_TEMPLATE": "",
    "ENABLE_FOLLOW_UP_GENERATION": True, "ENABLE_TAGS_GENERATION": True,
    "ENABLE_SEARCH_QUERY_GENERATION": True, "ENABLE_RETRIEVAL_QUERY_GENERATION": True,
    "QUERY_GENERATION_PROMPT_TEMPLATE": "", "TOOLS_FUNCTION_CALLING_PROMPT_TEMPLATE": "",
    "ENABLE_VOICE_MODE_PROMPT": False, "VOICE_MODE_PROMPT_TEMPLATE": None,
}
NO_MODEL = ("No model specified for {what} generation. "
            "Please ensure a model is selected for this chat.")


@dataclass(frozen=True)
class Task:
    name: str  # as the disabled message and the errors say it
    enable: str
    template: str
    answer: str  # the JSON key the model is asked to fill
    default: str


def _prompt(ask: str, answer: str, example: str) -> str:
    return (f"You look at a conversation and {ask}.\n"
            f'Answer with one JSON object and nothing else, like {{"{answer}": {example}}}.\n'
            "Use the conversation's language.\n\n<conversation>\n{{MESSAGES:END:6}}\n"
            "</conversation>")


TASKS = {
    "title": Task("Title", "ENABLE_TITLE_GENERATION", "TITLE_GENERATION_PROMPT_TEMPLATE",
                  "title", _prompt("give it a short title of two to five words, no quotes or"
                                   " emoji", "title", '"Sourdough Starter Tips"')),
    "tags": Task("Tags", "ENABLE_TAGS_GENERATION", "TAGS_GENERATION_PROMPT_TEMPLATE", "tags",
                 _prompt("name one to three broad topics and up to three narrower ones it"
                         " covers", "tags", '["Cooking", "Baking"]')),
    "follow_up": Task("Follow-up", "ENABLE_FOLLOW_UP_GENERATION",
                      "FOLLOW_UP_GENERATION_PROMPT_TEMPLATE", "follow_ups",
                      _prompt("suggest three short questions the user could ask next, from"
                              " the user's point of view", "follow_ups",
                              '["How long does it keep?"]')),
    "queries": Task("Query", "ENABLE_SEARCH_QUERY_GENERATION",
                    "QUERY_GENERATION_PROMPT_TEMPLATE", "queries",
                    _prompt("write one to three web search queries that would help answer the"
                            " user's last message", "queries", '["sourdough hydration"]')),
}
_MESSAGES = re.compile(r"\{\{MESSAGES(?::(START|END):(\d+))?\}\}")


def render(template: str, messages: list[Row]) -> str:
    """The template with `{{MESSAGES}}`, `{{MESSAGES:START:n}}` or `{{MESSAGES:END:n}}` filled."""
    def fill(match: re.Match[str]) -> str:
        chosen = messages
        if match.group(1):
            n = int(match.group(2))
            chosen = messages[:n] if match.group(1) == "START" else messages[-n:]
        return "\n".join(f"{str(m.get('role', '')).upper()}: {_text(m.get('content'))}"
                         for m in chosen)

    return _MESSAGES.sub(fill, template)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def parse(reply: Row, key: str) -> Any:
    """The value of `key` in the JSON object a task model answered, or None."""
    choices = reply.get("choices") or [{}]
    content = ((choices[0] or {}).get("message") or {}).get("content") or ""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(content[start:end + 1])
    except ValueError:
        return None
    return value.get(key) if isinstance(value, dict) else None


class TaskModels:
    def __init__(self, config: ConfigService, catalog: ModelCatalog,
                 completions: CompletionService):
        self.config = config
        self.catalog = catalog
        self.completions = completions

    def settings(self) -> Row:
        values = self.config.values()
        return {k: values.get(k, default) for k, default in TASK_DEFAULTS.items()}

    def update(self, values: Row) -> Outcome[Row]:
        outcome = self.config.update({k: v for k, v in values.items() if k in TASK_DEFAULTS})
        return Outcome(self.settings(), outcome.position)

    def enabled(self, kind: str) -> bool:
        return bool(self.settings()[TASKS[kind].enable])

    async def ask(self, principal: Principal, kind: str, model: Any,
                  messages: list[Row]) -> Row:
        """The task model's completion for `kind` over `messages` (400/404 as 0.12.4)."""
        task = TASKS[kind]
        if not isinstance(model, str) or not model:
            raise BadRequest(NO_MODEL.format(what=task.name.lower()))
        settings = self.settings()
        model_id = await self._task_model(principal, settings["TASK_MODEL"], model)
        template = settings[task.template] or task.default
        body: Row = {"model": model_id, "stream": False, "messages": [
            {"role": "user", "content": render(template, messages)}]}
        if isinstance(settings["TASK_MODEL_PARAMS"], dict):
            body.update({k: v for k, v in settings["TASK_MODEL_PARAMS"].items()
                         if k in ("temperature", "max_tokens", "top_p")})
        connection, upstream, _ = await self.completions.prepare(principal, body, ground=False)
        return await self.completions.complete(connection, upstream)

    async def _task_model(self, principal: Principal, task_model: str, model: str) -> str:
        """The admin's task model when the caller may use it, else the chat's own model."""
        for candidate in (task_model, model):
            if candidate:
                try:
                    await self.catalog.resolve(principal, candidate)
                    return candidate
                except LookupError:
                    continue
        raise NotFound("Model not found")
