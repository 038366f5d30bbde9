"""Extraction from real files generated here with the libraries, plus hostile ones."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile

import pytest

from infrastructure.text_extraction import (
    DOCX_TYPE,
    ExtractionError,
    UnsupportedFileType,
    detect_kind,
    extract_text,
)


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Growth"
    table.cell(1, 0).text, table.cell(1, 1).text = "EMEA", "12%"
    document.add_paragraph("Closing remarks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_pages_in_order() -> None:
    text = extract_text(make_pdf(["First page about llamas.", "Second page about alpacas."]),
                        "doc.pdf", "application/pdf")
    assert "llamas" in text and "alpacas" in text
    assert text.index("llamas") < text.index("alpacas")


def test_docx_paragraphs_and_tables_in_document_order() -> None:
    text = extract_text(make_docx(), "report.docx", DOCX_TYPE)
    lines = text.splitlines()
    assert lines[0] == "Quarterly report"
    assert lines.index("Revenue grew in every region.") < lines.index("EMEA | 12%")
    assert lines[-1] == "Closing remarks."


def test_html_drops_scripts_and_styles() -> None:
    html = (b"<html><head><title>t</title><style>p{color:red}</style></head><body>"
            b"<h1>Hello</h1><script>alert('x')</script><p>World &amp; friends</p></body></html>")
    text = extract_text(html, "page.html")
    assert text.splitlines() == ["Hello", "World & friends"]


def test_csv_rows_keep_column_names() -> None:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([["name", "city"], ["Ada", "London"], ["Grace", "New York, NY"]])
    text = extract_text(buffer.getvalue().encode(), "people.csv", "text/csv")
    assert text == "name: Ada\ncity: London\n\nname: Grace\ncity: New York, NY"


def test_json_markdown_and_plain_text() -> None:
    payload = json.dumps({"title": "Ünïcode"}, ensure_ascii=False).encode()
    assert json.loads(extract_text(payload, "data.json")) == {"title": "Ünïcode"}
    assert extract_text(b"# Title\n\nbody", "notes.md") == "# Title\n\nbody"
    assert extract_text("\ufeffbom text".encode(), "a.txt") == "bom text"
    assert extract_text("caf\xe9".encode("cp1252"), "legacy.txt") == "caf\xe9"
    assert extract_text("utf16".encode("utf-16"), "w.txt") == "utf16"
    assert extract_text(b"print(1)", "x.py", "text/x-python") == "print(1)"


def test_content_type_wins_then_extension() -> None:
    assert detect_kind("file.bin", "application/pdf; charset=binary") == "pdf"
    assert detect_kind("Report.DOCX", "application/octet-stream") == "docx"
    with pytest.raises(UnsupportedFileType):
        detect_kind("archive.zip", "application/zip")
    with pytest.raises(UnsupportedFileType):
        extract_text(b"\x89PNG", "image.png", "image/png")


@pytest.mark.parametrize(("data", "name"), [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ngarbage", "broken.pdf"),
    (b"not a pdf at all", "fake.pdf"),
    (b"PK\x03\x04 truncated zip", "broken.docx"),
    (b"{not json", "bad.json"),
    (b"text\x00with\x00nuls\x00" * 10, "binary.txt"),
])
def test_corrupt_files_raise_extraction_error(data: bytes, name: str) -> None:
    with pytest.raises(ExtractionError):
        extract_text(data, name)


def test_truncated_real_pdf_raises_extraction_error_or_reads_partially() -> None:
    data = make_pdf(["some text"])
    with contextlib.suppress(ExtractionError):  # but never any other exception type
        extract_text(data[: len(data) // 3], "cut.pdf")


def test_docx_zip_bomb_is_refused_before_inflating() -> None:
    # 300 MB of zeros deflates to ~300 KB: a valid zip whose declared size exceeds the limit.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                entry.write(block)
    with pytest.raises(ExtractionError, match="zip bomb"):
        extract_text(buffer.getvalue(), "bomb.docx")


def test_docx_high_ratio_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<" + b"a" * 20_000_000)
    with pytest.raises(ExtractionError, match="ratio"):
        extract_text(buffer.getvalue(), "bomb.docx")
