"""Character chunking with Open WebUI's CHUNK_SIZE / CHUNK_OVERLAP (defaults 1000 / 100).

Every chunk is an exact slice ``text[start:start + len(chunk)]`` so a hit can be traced back to its
place in the document. Cuts prefer paragraph, then line, then word boundaries, like Open WebUI's
recursive character splitter, and fall back to a hard cut inside very long words.

Token budget: all-MiniLM-L6-v2 reads at most 256 tokens. 1,000-character chunks of English
average ~235 tokens and about a quarter exceed 256, so their tails are never embedded (they are
still stored and returned as context). ~500-800 characters keeps whole chunks inside the window;
see docs/embeddings.md.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 100
_SEPARATORS = ("\n\n", "\n", " ")


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def chunk_text(text: str, chunk_size: int = DEFAULT_CHUNK_SIZE,
               chunk_overlap: int = DEFAULT_CHUNK_OVERLAP) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``chunk_size`` characters.

    Consecutive chunks share at most ``chunk_overlap`` characters; together they cover every
    non-whitespace character. Whitespace-only chunks are dropped. Pure and deterministic.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_overlap must be >= 0 and smaller than chunk_size")
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = _cut(text, start, chunk_size, chunk_overlap)
        if text[start:end].strip():
            chunks.append(Chunk(start, text[start:end]))
        if end >= len(text):
            break
        start = _next_start(text, start, end, chunk_overlap)
    return chunks


def _cut(text: str, start: int, size: int, overlap: int) -> int:
    limit = start + size
    if limit >= len(text):
        return len(text)
    # A cut must leave the chunk longer than the overlap, or the next chunk would not advance;
    # searching only the second half keeps chunks from becoming tiny at an early separator.
    earliest = start + max(overlap + 1, size // 2)
    for sep in _SEPARATORS:
        found = text.rfind(sep, earliest, limit)
        if found != -1:
            return found + len(sep)
    return limit


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """Step back ``overlap`` characters, then forward to a word start so no word is split."""
    begin = max(end - overlap, start + 1)
    if begin == end or text[begin - 1].isspace():
        return begin
    for i in range(begin, end):
        if text[i].isspace():
            return i + 1
    return begin
