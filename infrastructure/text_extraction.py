"""Text extraction from uploaded files: txt, md, csv, json, html, pdf, docx.

Chosen by content type, else by file extension. Unsupported types raise ``UnsupportedFileType``
(the API answers 415); anything wrong with the bytes raises ``ExtractionError`` — parsers' own
exceptions never escape, since uploads are untrusted input.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import PurePath

MAX_INPUT_BYTES = 100 * 1024 * 1024
MAX_TEXT_CHARS = 20_000_000  # a bigger extraction is almost certainly a bomb, not a document
MAX_PDF_PAGES = 5_000
# docx is a zip: refuse archives whose declared contents would inflate beyond these limits.
# (zipfile stops reading an entry at its declared size, so the declared sizes are binding.)
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_DOCX_ENTRIES = 2_000
MAX_DOCX_RATIO = 200

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_BY_CONTENT_TYPE = {
    "text/plain": "text",
    "text/markdown": "text",
    "text/x-markdown": "text",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "text/json": "json",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    DOCX_TYPE: "docx",
}
_BY_EXTENSION = {
    ".txt": "text", ".text": "text", ".md": "text", ".markdown": "text", ".csv": "csv",
    ".json": "json", ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf",
    ".docx": "docx",
}

log = logging.getLogger(__name__)


class UnsupportedFileType(ValueError):
    """No extractor for this content type / extension."""


class ExtractionError(ValueError):
    """The file claims a supported type but cannot be read (corrupt, encrypted, hostile)."""


def detect_kind(filename: str | None = None, content_type: str | None = None) -> str:
    """'text', 'csv', 'json', 'html', 'pdf' or 'docx'; raises UnsupportedFileType otherwise."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[mime]
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    if mime.startswith("text/"):  # other text/* (code, logs) read fine as plain text
        return "text"
    raise UnsupportedFileType(f"unsupported file type: {content_type or '?'} {filename or ''}")


def extract_text(data: bytes, filename: str | None = None, content_type: str | None = None) -> str:
    kind = detect_kind(filename, content_type)
    if len(data) > MAX_INPUT_BYTES:
        raise ExtractionError(f"file larger than {MAX_INPUT_BYTES} bytes")
    try:
        text = _EXTRACTORS[kind](data)
    except (ExtractionError, UnsupportedFileType):
        raise
    except (MemoryError, RecursionError) as exc:
        raise ExtractionError(f"{kind} file too complex to extract") from exc
    except Exception as exc:  # parsers raise many types on hostile input; none may escape
        log.info("extraction of %s failed: %r", kind, exc)
        raise ExtractionError(f"cannot read {kind} file: {type(exc).__name__}") from exc
    if len(text) > MAX_TEXT_CHARS:
        raise ExtractionError("extracted text exceeds the size limit")
    return text


def decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # the usual non-UTF-8 office export
    if "\x00" in text[:8192]:
        raise ExtractionError("binary content in a text file")
    return text


def _csv(data: bytes) -> str:
    # One block per row as "column: value" lines, like Open WebUI's CSV loader, so a chunk keeps
    # the column names that give its values meaning.
    rows = csv.reader(io.StringIO(decode_text(data), newline=""))
    header = next(rows, None)
    if header is None:
        return ""
    blocks = []
    for row in rows:
        pairs = zip(header, row, strict=False)
        blocks.append("\n".join(f"{k.strip()}: {v.strip()}" for k, v in pairs if v.strip()))
    return "\n\n".join(b for b in blocks if b)


def _json(data: bytes) -> str:
    text = decode_text(data)
    json.loads(text)  # validate; the original text keeps the author's layout
    return text


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise ExtractionError("pdf is password protected")
    if len(reader.pages) > MAX_PDF_PAGES:
        raise ExtractionError(f"pdf has more than {MAX_PDF_PAGES} pages")
    pages, total = [], 0
    for page in reader.pages:
        text = (page.extract_text() or "").strip()
        total += len(text)
        if total > MAX_TEXT_CHARS:
            raise ExtractionError("extracted text exceeds the size limit")
        pages.append(text)
    return "\n\n".join(p for p in pages if p)


def _docx(data: bytes) -> str:
    _check_zip(data)
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            parts.extend(" | ".join(c.text.strip() for c in row.cells) for row in block.rows)
        elif block.text.strip():
            parts.append(block.text.strip())
    return "\n".join(parts)


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ExtractionError("docx is not a valid zip archive") from exc
    entries = archive.infolist()
    if len(entries) > MAX_DOCX_ENTRIES:
        raise ExtractionError("docx has too many entries")
    total = sum(e.file_size for e in entries)
    if total > MAX_DOCX_UNCOMPRESSED:
        raise ExtractionError("docx expands beyond the size limit (zip bomb?)")
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > MAX_DOCX_RATIO * max(1, entry.compress_size):
            raise ExtractionError("docx entry compression ratio too high (zip bomb?)")


_EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    "text": decode_text,
    "csv": _csv,
    "json": _json,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
}
