"""Bounds on free-form JSON in request bodies.

Bodies nested hundreds deep parse, then exhaust Python's recursion in validation, copying or
encoding (after a command may already be saved): they are refused at validation instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

JSON_DEPTH_MAX = 64  # nesting of free-form JSON (meta, params, valves, messages); not in reference


def json_depth(value: Any, limit: int = JSON_DEPTH_MAX) -> int:
    """How deeply `value` nests (iteratively: deep input must not exhaust the stack); stops
    counting past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node \
            if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _shallow_enough(value: Any) -> Any:
    if json_depth(value) > JSON_DEPTH_MAX:
        raise ValueError(f"must nest at most {JSON_DEPTH_MAX} levels deep")
    return value


JSONObject = Annotated[dict[str, Any], AfterValidator(_shallow_enough)]
