"""RFC 6902 JSON Patch between two JSON documents, fast on large, mostly equal ones.

Equal subtrees are skipped with one C-level comparison, so the diff of two versions of a chat
with thousands of messages costs in proportion to what changed (jsonpatch.make_patch walks every
node in Python: 0.3-0.9 s on such chats, measured by scripts/bench/bench_audit.py). The price of
that shortcut: inside containers Python's equality decides, so `1` becoming `true` (or `1.0`) in an
otherwise unchanged object is not reported.
"""

from __future__ import annotations

from typing import Any


def pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def json_patch(before: Any, after: Any) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    _diff(before, after, [], ops)
    return ops


def _diff(a: Any, b: Any, path: list[str], ops: list[dict[str, Any]]) -> None:
    if type(a) is type(b) and a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                ops.append({"op": "remove", "path": pointer([*path, str(key)])})
        for key, value in b.items():
            if key in a:
                _diff(a[key], value, [*path, str(key)], ops)
            else:
                ops.append({"op": "add", "path": pointer([*path, str(key)]), "value": value})
    elif isinstance(a, list) and isinstance(b, list):
        common = min(len(a), len(b))
        for index in range(common):
            _diff(a[index], b[index], [*path, str(index)], ops)
        for index in range(len(a) - 1, common - 1, -1):  # from the end: indices stay valid
            ops.append({"op": "remove", "path": pointer([*path, str(index)])})
        for index in range(common, len(b)):
            ops.append({"op": "add", "path": pointer([*path, str(index)]), "value": b[index]})
    else:
        ops.append({"op": "replace", "path": pointer(path), "value": b})
