import pytest

from infrastructure.markdown_html import markdown_to_html


def test_renders_ordinary_markdown():
    html = markdown_to_html("# Title\n\nSome *emphasis* and **bold** with [a link](https://example.com).")
    assert "<h1>Title</h1>" in html
    assert "<em>emphasis</em>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html


def test_renders_lists_and_code():
    html = markdown_to_html("- one\n- two\n\ntext\n\n    print('hi')\n")
    assert "<li>one</li>" in html and "<li>two</li>" in html
    assert "<pre><code>print('hi')" in html


def test_code_spans_keep_html_as_text():
    html = markdown_to_html("Use `<script>alert(1)</script>` carefully")
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


@pytest.mark.parametrize(
    "md",
    [
        "<script>alert('xss')</script>\n\nafter",
        "hello <script src=https://evil.example/x.js></script>",
        "<SCRIPT>alert(1)</SCRIPT>",
    ],
)
def test_script_elements_and_their_content_are_removed(md):
    html = markdown_to_html(md).lower()
    assert "<script" not in html
    assert "alert" not in html
    assert "evil.example" not in html


def test_style_elements_are_removed():
    html = markdown_to_html("<style>body { display: none }</style>\n\n**ok**")
    assert "<style" not in html and "display" not in html
    assert "<strong>ok</strong>" in html


@pytest.mark.parametrize(
    "md",
    [
        '<img src="x.png" onerror="alert(1)">',
        '<a href="https://example.com" onclick="steal()">x</a>',
        '<div onmouseover="alert(1)">hover</div>',
        "<p ONLOAD=alert(1)>p</p>",
    ],
)
def test_event_handler_attributes_are_removed(md):
    html = markdown_to_html(md).lower()
    assert " on" not in html.replace("noopener", "")
    assert "alert" not in html and "steal" not in html


@pytest.mark.parametrize(
    "md",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="  javascript:alert(1)">click</a>',
        "![img](javascript:alert(1))",
        '<iframe src="javascript:alert(1)"></iframe>',
    ],
)
def test_javascript_urls_are_removed(md):
    html = markdown_to_html(md).lower()
    assert "javascript" not in html
    assert "<iframe" not in html


def test_dangerous_containers_are_removed():
    html = markdown_to_html('<object data="x.swf"></object><embed src="x"><form action="/x">')
    for tag in ("<object", "<embed", "<form"):
        assert tag not in html
