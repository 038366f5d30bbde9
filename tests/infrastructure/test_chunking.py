from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.chunking import chunk_text

texts = st.text(alphabet=st.sampled_from("ab cd\n\nefg hij\tklm."), max_size=3000) | st.text(max_size=500)
sizes = st.integers(min_value=1, max_value=400).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(min_value=0, max_value=size - 1))
)


@settings(max_examples=300, deadline=None)
@given(text=texts, size_overlap=sizes)
def test_chunks_are_slices_cover_text_and_respect_limits(text: str, size_overlap) -> None:
    size, overlap = size_overlap
    chunks = chunk_text(text, size, overlap)
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= size and chunk.text.strip()
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.start < nxt.start  # always advances
        assert prev.end - nxt.start <= overlap  # overlap never exceeds CHUNK_OVERLAP
    assert chunk_text(text, size, overlap) == chunks  # deterministic


def test_prefers_paragraph_then_word_boundaries() -> None:
    text = ("word " * 30).strip() + "\n\n" + ("next " * 30).strip()
    first, *rest = chunk_text(text, 200, 20)
    assert first.text.endswith("\n\n")
    assert all(c.text[0] != " " and (c.start == 0 or text[c.start - 1].isspace()) for c in rest)


def test_overlap_is_exact_without_word_boundaries() -> None:
    chunks = chunk_text("x" * 250, 100, 10)
    assert [(c.start, len(c.text)) for c in chunks] == [(0, 100), (90, 100), (180, 70)]


def test_defaults_and_edge_cases() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n ") == []
    assert [c.text for c in chunk_text("short text")] == ["short text"]
    long = "lorem ipsum dolor sit amet " * 200
    assert all(len(c.text) <= 1000 for c in chunk_text(long))
    with pytest.raises(ValueError):
        chunk_text("abc", 10, 10)
    with pytest.raises(ValueError):
        chunk_text("abc", 0, 0)
