"""Markdown → HTML for `POST /api/v1/utils/markdown`.

Open WebUI returns `markdown.markdown(md)` as is, which passes raw HTML through
(`<script>`, `onerror=`, `javascript:` links). We render with the same library so
the markup matches, then sanitise with ammonia (nh3) before anything reaches a
browser.
"""

from __future__ import annotations

import markdown
import nh3


def markdown_to_html(md: str) -> str:
    """Render Markdown and strip anything executable from the result.

    nh3's defaults drop `<script>`/`<style>` with their content, every `on*`
    attribute, and URLs whose scheme is not on its safe list (so `javascript:`
    and `data:` links lose their href/src).
    """
    return nh3.clean(markdown.markdown(md))
