"""Grounding a completion in the caller's documents: the files and knowledge bases sent with the
request (`files`, or the app's `metadata.files`) or attached to the workspace preset
(`info.meta.knowledge`) are searched in the retrieval index with the last user message, and
what is found goes to the model as context and back to the caller as `sources`, the way Open
WebUI 0.12.4 does it: one source per item (`source` the item, `document` the chunks,
`metadata` one entry per chunk, `distances` the scores), the context as numbered `<source>`
tags in the admin's RAG template, appended to the system message.

An item the caller may not read, or that is not indexed, gives nothing: it is skipped, never
an error, as upstream skips it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from application.auth import Principal
from application.errors import NotFound

Row = dict[str, Any]
PLACEHOLDERS = re.compile(r"(\[context\]|\{\{CONTEXT\}\}|\[query\]|\{\{QUERY\}\})")
MAX_ITEMS = 32  # a request naming more documents than this is searched in its first 32


class Searchable(Protocol):
    """What grounding needs of the retrieval service."""

    def rag_config(self) -> Row: ...

    def query(self, collection_names: Sequence[str], text: str, k: int | None = None,
              principal: Principal | None = None, min_position: int | None = None
              ) -> list[Any]: ...


def attached_items(body: Row, preset: Row | None) -> list[Row]:
    """The documents a completion asks to be grounded in, each once, in the order given."""
    metadata = body.get("metadata")
    found: list[Any] = [*(body.get("files") or []),
                        *((metadata.get("files") or []) if isinstance(metadata, dict) else [])]
    if preset is not None:
        meta = preset.get("meta") or (preset.get("info") or {}).get("meta") or {}
        found.extend(meta.get("knowledge") or [])
    items: dict[tuple[str, str], Row] = {}
    for item in found:
        collection = _collection(item)
        if collection is not None:
            items.setdefault(collection, item)
    return list(items.values())[:MAX_ITEMS]


def _collection(item: Any) -> tuple[str, str] | None:
    """(kind, collection name) of an item: a file is `file-{id}`, a knowledge base its id."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    kind = item.get("type")
    if kind == "file":
        return "file", f"file-{item['id']}"
    if kind in ("collection", None):  # a preset's knowledge entries are knowledge bases
        return "collection", item["id"]
    return None


def last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # the multimodal form: its text parts
                return " ".join(p.get("text", "") for p in content
                                if isinstance(p, dict) and p.get("type") == "text")
    return ""


class Grounding:
    def __init__(self, retrieval: Searchable, file_names: Callable[[list[str]], dict[str, str]]):
        self.retrieval = retrieval
        self.file_names = file_names

    def sources(self, principal: Principal, items: list[Row], query: str) -> list[Row]:
        """What each readable item gives for `query` (blocking: the search embeds the query)."""
        if not items or not query.strip():
            return []
        k = int(self.retrieval.rag_config().get("TOP_K") or 3)
        found: list[tuple[Row, list[Any]]] = []
        for item in items:
            collection = _collection(item)
            assert collection is not None  # attached_items keeps only these
            try:
                hits = self.retrieval.query([collection[1]], query, k, principal)
            except NotFound:
                continue  # not the caller's to read: as if it were not attached
            if hits:
                found.append((item, hits))
        names = self.file_names(sorted({h.file_id for _, hits in found for h in hits}))
        return [self._source(item, hits, names) for item, hits in found]

    @staticmethod
    def _source(item: Row, hits: list[Any], names: dict[str, str]) -> Row:
        shown = {k: v for k, v in item.items() if k not in ("data", "file")}
        return {"source": shown, "document": [h.text for h in hits],
                "metadata": [{"file_id": h.file_id, "name": names.get(h.file_id, h.file_id),
                              "source": h.file_id, "start_index": h.start} for h in hits],
                "distances": [h.score for h in hits]}

    def ground(self, messages: list[Any], sources: list[Row], query: str) -> list[Any]:
        """The messages with the sources as context in the RAG template, appended to the
        system message (a new one first when there is none)."""
        context = source_tags(sources)
        if not context or not query:
            return messages
        template = str(self.retrieval.rag_config().get("RAG_TEMPLATE") or "")
        text = fill_template(template, context, query)
        if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system" \
                and isinstance(messages[0].get("content"), str):
            return [{**messages[0], "content": f"{messages[0]['content']}\n{text}"}, *messages[1:]]
        return [{"role": "system", "content": text}, *messages]


def source_tags(sources: list[Row]) -> str:
    """Each chunk as `<source id="n" name="...">text</source>`, n numbering distinct files."""
    numbers: dict[str, int] = {}
    lines = []
    for source in sources:
        for text, meta in zip(source["document"], source["metadata"], strict=False):
            number = numbers.setdefault(meta["source"], len(numbers) + 1)
            name = html.escape(str(meta.get("name") or ""), quote=True)
            lines.append(f'<source id="{number}" name="{name}">{text}</source>')
    return "\n".join(lines)


def fill_template(template: str, context: str, query: str) -> str:
    """The template's context and query placeholders (both of 0.12.4's spellings) filled once:
    a query that itself contains a placeholder is not expanded again."""
    if "[context]" not in template and "{{CONTEXT}}" not in template:
        template = f"{template}\n<context>\n{{{{CONTEXT}}}}\n</context>" if template else \
            "<context>\n{{CONTEXT}}\n</context>"
    parts = []
    for piece in PLACEHOLDERS.split(template):  # the pattern's group keeps each placeholder
        if piece in ("[context]", "{{CONTEXT}}"):
            parts.append(context)
        elif piece in ("[query]", "{{QUERY}}"):
            parts.append(query)
        else:
            parts.append(piece)
    return "".join(parts)
