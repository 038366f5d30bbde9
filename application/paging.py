"""Pages of a list as the reference numbers them: 1-based, a fixed size per resource."""

from __future__ import annotations


def page_window(page: int | None, size: int) -> tuple[int, int]:
    """(offset, limit) of a page of `size` rows; no page, or one below 1, is page 1."""
    return (max(1, page or 1) - 1) * size, size


def page_or_all(page: int | None, size: int) -> tuple[int, int | None]:
    """As page_window, except that no page at all means every row: (0, None)."""
    return (0, None) if page is None else page_window(page, size)
