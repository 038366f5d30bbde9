"""Chat → PDF for `POST /api/v1/utils/pdf`.

Like Open WebUI, message content is printed as plain text (no Markdown rendering),
each message headed by its role, the model for assistant turns, and the time.
The PDF core fonts only know Latin-1, so a Unicode TrueType font is embedded:
DejaVu Sans from Debian's `fonts-dejavu-core` (or the copy inside matplotlib, if
that happens to be installed), plus a CJK font as fallback when one is present.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF


class ChatPdfError(ValueError):
    """The chat could not be rendered."""


@dataclass(frozen=True)
class PdfFonts:
    regular: Path
    bold: Path | None = None
    fallbacks: tuple[Path, ...] = ()  # tried per glyph when `regular` lacks one


_SYSTEM_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_CJK_CANDIDATES = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),  # fonts-droid-fallback
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
)


@lru_cache(maxsize=1)
def find_fonts() -> PdfFonts | None:
    """The first DejaVu Sans found on this machine, with any CJK fallback; None if none."""
    for folder in (_SYSTEM_DEJAVU, _matplotlib_font_dir()):
        if folder and (folder / "DejaVuSans.ttf").is_file():
            bold = folder / "DejaVuSans-Bold.ttf"
            fallbacks = tuple(p for p in _CJK_CANDIDATES if p.is_file())[:1]
            return PdfFonts(folder / "DejaVuSans.ttf", bold if bold.is_file() else None, fallbacks)
    return None


def _matplotlib_font_dir() -> Path | None:
    # find_spec on a top-level package locates it without importing it.
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def render_chat_pdf(title: str, messages: Sequence[Mapping[str, Any]], *, fonts: PdfFonts | None = None) -> bytes:
    """A PDF of the chat. Without any Unicode font, falls back to Helvetica and
    replaces characters outside Latin-1 with '?', rather than failing.

    CPU-bound (font parsing and subsetting): call it from a worker thread."""
    fonts = fonts or find_fonts()
    text = _text_filter(unicode=fonts is not None)
    blocks = [_message_block(message, text) for message in messages]
    try:
        pdf = _new_document(title, fonts, text(title) + "".join(map("".join, blocks)))
        family = "Body" if fonts else "Helvetica"
        pdf.set_font(family, "B", 18)
        pdf.multi_cell(0, 9, text(title), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for heading, stamp, body in blocks:
            _write_message(pdf, family, heading, stamp, body)
        return bytes(pdf.output())
    except Exception as exc:  # fpdf2 raises plain exceptions on font/layout trouble
        raise ChatPdfError(f"Could not render the PDF: {exc}") from exc


def _new_document(title: str, fonts: PdfFonts | None, all_text: str) -> FPDF:
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_auto_page_break(auto=True, margin=15)
    if fonts:
        pdf.add_font("Body", "", fonts.regular)
        pdf.add_font("Body", "B", fonts.bold or fonts.regular)
        # A CJK font is large and slow to parse: load it only if the text needs it.
        needed = fonts.fallbacks if _has_uncovered(fonts.regular, all_text) else ()
        names = [f"Fallback{i}" for i in range(len(needed))]
        for name, path in zip(names, needed, strict=True):
            pdf.add_font(name, "", path)
        if names:
            pdf.set_fallback_fonts(names, exact_match=False)  # bold text may use a regular CJK
    pdf.add_page()
    return pdf


@lru_cache(maxsize=8)
def _codepoints(font: Path) -> frozenset[int]:
    with TTFont(font, lazy=True) as parsed:
        return frozenset(parsed.getBestCmap())


def _has_uncovered(font: Path, text: str) -> bool:
    covered = _codepoints(font)
    return any(ord(ch) not in covered for ch in set(text) if not ch.isspace())


def _message_block(message: Mapping[str, Any], text: Any) -> tuple[str, str, str]:
    role = str(message.get("role") or "user")
    heading = role.title()
    if role == "assistant" and message.get("model"):
        heading += f"  ({message['model']})"
    stamp = _format_timestamp(message.get("timestamp"))
    return text(heading), stamp, text(_content_text(message.get("content")))


def _write_message(pdf: FPDF, family: str, heading: str, stamp: str, body: str) -> None:
    pdf.set_font(family, "B", 12)
    pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
    if stamp:
        pdf.set_font(family, "", 9)
        pdf.multi_cell(0, 5, stamp, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 11)
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)


def _format_timestamp(value: Any) -> str:
    """Open WebUI's `%Y-%m-%d, %H:%M:%S`; timestamps are seconds, shown in UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d, %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return ""


def _content_text(content: Any) -> str:
    # Multimodal messages carry a list of parts; only the text parts print.
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return "" if content is None else str(content)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text_filter(*, unicode: bool) -> Any:
    def clean(value: str) -> str:
        value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\t", "    "))
        if unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    return clean
