"""Pure functions over Open WebUI's message tree (`history.messages` + `currentId`).

Messages are plain dicts keyed by message id; each names its parent in `parentId`.
`childrenIds` is derived data: it is stripped on the way in and rebuilt on the way
out, so a client's stale or partial `childrenIds` can never disagree with the tree.

Input is assumed to be well-formed JSON data (validated by the Chat aggregate).
"""

from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any

Message = dict[str, Any]
Messages = dict[str, Message]

DERIVED_KEYS = frozenset({"childrenIds"})


def strip_derived(message: Mapping[str, Any]) -> Message:
    """Copy of `message` without derived keys."""
    return {k: v for k, v in message.items() if k not in DERIVED_KEYS}


def normalise_message(message_id: str, message: Mapping[str, Any]) -> Message:
    """Stored form of a client message: derived keys dropped, `id` equal to its key."""
    stored = strip_derived(message)
    stored["id"] = message_id
    return stored


def message_changes(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """Keys of `incoming` whose values differ from `stored` (shallow merge semantics)."""
    return {
        k: v
        for k, v in incoming.items()
        if k not in DERIVED_KEYS and (k not in stored or stored[k] != v)
    }


def merge_messages(stored: Mapping[str, Message], incoming: Mapping[str, Message]) -> Messages:
    """Union of both trees; a message known to both is shallow-merged, incoming keys winning.

    Nothing in `stored` is ever dropped: a client holding a stale copy of the chat
    must not be able to delete messages written by someone else meanwhile.
    """
    merged = {mid: strip_derived(m) for mid, m in stored.items()}
    for mid, message in incoming.items():
        merged[mid] = {**merged.get(mid, {}), **normalise_message(mid, message)}
    return merged


def diff_messages(
    stored: Mapping[str, Message], incoming: Mapping[str, Message]
) -> tuple[list[Message], list[tuple[str, dict[str, Any]]]]:
    """What `merge_messages(stored, incoming)` adds to `stored`: (new messages, edits).

    Edits carry only the changed keys, so an event recording them stays as small as
    the change, not as large as the message or the chat.
    """
    added: list[Message] = []
    edited: list[tuple[str, dict[str, Any]]] = []
    for mid, message in incoming.items():
        if mid not in stored:
            added.append(normalise_message(mid, message))
            continue
        changes = message_changes(stored[mid], normalise_message(mid, message))
        if changes:
            edited.append((mid, changes))
    return added, edited


def with_children(messages: Mapping[str, Message]) -> Messages:
    """Copies of `messages` with `childrenIds` rebuilt from the `parentId` links.

    Children are listed in message insertion order, which is the order the client
    created them (sibling order is how the UI numbers regenerated answers).
    """
    children: dict[str, list[str]] = {mid: [] for mid in messages}
    for mid, message in messages.items():
        parent = message.get("parentId")
        if isinstance(parent, str) and parent in children and parent != mid:
            children[parent].append(mid)
    return {mid: {**message, "childrenIds": children[mid]} for mid, message in messages.items()}


def linear_branch(messages: Mapping[str, Message], current_id: str | None) -> list[Message]:
    """The messages from the root down to `current_id` (the client's `messages` list)."""
    branch: list[Message] = []
    seen: set[str] = set()
    node = current_id
    # `seen` guards against parentId cycles written by buggy or hostile clients.
    while isinstance(node, str) and node in messages and node not in seen:
        seen.add(node)
        branch.append(messages[node])
        node = messages[node].get("parentId")
    branch.reverse()
    return branch


def history_from_linear(messages: Iterable[Mapping[str, Any]]) -> tuple[Messages, str | None]:
    """History tree for a legacy chat that only has the linear `messages` list.

    Missing ids and parent links are filled in from the list order.
    """
    tree: Messages = {}
    parent: str | None = None
    for index, message in enumerate(messages):
        mid = message.get("id")
        mid = mid if isinstance(mid, str) and mid else f"legacy-{index}"
        stored = normalise_message(mid, message)
        stored.setdefault("parentId", parent)
        tree[mid] = stored
        parent = mid
    return tree, parent


# Open WebUI's socket event emitter persists these message event types into the message
# (socket/main.py `get_event_emitter`, update_db=True); everything else is only relayed.
def apply_message_event(message: Mapping[str, Any], event_type: str, data: Any) -> Message | None:
    """The message after a realtime message event, or None if the event does not change it."""
    data = data if isinstance(data, dict) else {}
    handler = _MESSAGE_EVENT_HANDLERS.get(event_type)
    if handler is None:
        return None
    updated = handler(dict(message), deepcopy(data))
    return updated if updated != message else None


def _on_status(message: Message, data: dict[str, Any]) -> Message:
    message["statusHistory"] = [*message.get("statusHistory", []), data]
    return message


def _on_delta(message: Message, data: dict[str, Any]) -> Message:
    message["content"] = f"{message.get('content') or ''}{data.get('content') or ''}"
    return message


def _on_replace(message: Message, data: dict[str, Any]) -> Message:
    message["content"] = data.get("content") or ""
    return message


def _on_files(message: Message, data: dict[str, Any]) -> Message:
    message["files"] = data.get("files", [])
    return message


def _on_embeds(message: Message, data: dict[str, Any]) -> Message:
    message["embeds"] = [*message.get("embeds", []), *data.get("embeds", [])]
    return message


def _on_source(message: Message, data: dict[str, Any]) -> Message:
    message["sources"] = [*message.get("sources", []), data]
    return message


def _on_error(message: Message, data: dict[str, Any]) -> Message:
    message["error"] = data.get("error")
    return message


def _on_follow_ups(message: Message, data: dict[str, Any]) -> Message:
    message["followUps"] = data.get("follow_ups", data.get("followUps", []))
    return message


_MESSAGE_EVENT_HANDLERS = {
    "status": _on_status,
    "message": _on_delta,
    "chat:message:delta": _on_delta,
    "replace": _on_replace,
    "chat:message": _on_replace,
    "files": _on_files,
    "chat:message:files": _on_files,
    "embeds": _on_embeds,
    "chat:message:embeds": _on_embeds,
    "source": _on_source,
    "citation": _on_source,
    "chat:message:error": _on_error,
    "chat:message:follow_ups": _on_follow_ups,
}
