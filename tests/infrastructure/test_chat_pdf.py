import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from infrastructure import chat_pdf
from infrastructure.chat_pdf import find_fonts, render_chat_pdf

TITLE = "Trip planning — Поездка — Ταξίδι"
MESSAGES = [
    {"role": "user", "content": "Привет! Как добраться до Афин?", "timestamp": 1700000000},
    {
        "role": "assistant",
        "model": "llama3:8b",
        "content": "Γειά σου! Take the ferry from Piraeus.\nΣτην Αθήνα.",
        "timestamp": 1700000060,
    },
    {"role": "user", "content": [{"type": "text", "text": "Thanks, merci, danke"}]},
]


def _pypdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pdftotext(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


def test_a_unicode_font_is_available():
    # Without one, non-Latin text cannot be printed: install fonts-dejavu-core.
    fonts = find_fonts()
    assert fonts is not None and fonts.regular.is_file()


def test_output_is_a_pdf():
    pdf = render_chat_pdf(TITLE, MESSAGES)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert PdfReader(io.BytesIO(pdf)).metadata.title == TITLE


def test_text_is_extractable_with_pypdf():
    text = _pypdf_text(render_chat_pdf(TITLE, MESSAGES))
    for expected in (
        "Поездка",
        "Ταξίδι",
        "Привет! Как добраться до Афин?",
        "Take the ferry from Piraeus.",
        "Στην Αθήνα.",
        "Thanks, merci, danke",
        "llama3:8b",
        "2023-11-14, 22:13:20",
    ):
        assert expected in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_text_is_extractable_with_pdftotext():
    text = _pdftotext(render_chat_pdf(TITLE, MESSAGES))
    assert "Поездка" in text and "Ταξίδι" in text
    assert "Привет! Как добраться до Афин?" in text
    assert "Γειά σου!" in text
    assert "User" in text and "Assistant" in text


@pytest.mark.skipif(not (find_fonts() and find_fonts().fallbacks), reason="no CJK font (fonts-droid-fallback)")
def test_cjk_text_uses_the_fallback_font():
    pdf = render_chat_pdf("中文聊天", [{"role": "user", "content": "你好，世界。日本語もOK"}])
    text = _pdftotext(pdf) if shutil.which("pdftotext") else _pypdf_text(pdf)
    assert "中文聊天" in text
    assert "你好，世界。日本語もOK" in text


def test_long_chats_span_pages_and_keep_the_end():
    messages = [{"role": "user", "content": f"Сообщение номер {i}. " * 20} for i in range(60)]
    messages.append({"role": "assistant", "content": "Последнее слово"})
    pdf = render_chat_pdf("Long", messages)
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 3
    assert "Последнее слово" in _pypdf_text(pdf)


def test_odd_content_does_not_break_rendering():
    messages = [
        {"role": "user", "content": None},
        {"role": "assistant", "content": "tab\there\r\nbell\x07gone", "timestamp": "bad"},
        {"content": "no role given", "timestamp": 10**20},
        {"role": "user", "content": "x" * 5000},
    ]
    text = _pypdf_text(render_chat_pdf("", messages))
    assert "no role given" in text
    assert "bellgone" in text


def test_without_unicode_fonts_latin_text_still_renders(monkeypatch):
    monkeypatch.setattr(chat_pdf, "find_fonts", lambda: None)
    pdf = render_chat_pdf("Plain title", [{"role": "user", "content": "Café au lait, Привет"}])
    text = _pypdf_text(pdf)
    assert "Plain title" in text
    assert "Café au lait, ??????" in text
