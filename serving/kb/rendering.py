"""Markdown to the HTML a browser may be given: rendered by markdown-it-py, then sanitized by nh3.

Raw HTML inside the Markdown is allowed on purpose (support articles use `<details>`, `<kbd>`, tables), so the
sanitizer, not the renderer, is the security boundary: scripts, styles, frames, event-handler attributes and any
URL scheme but http(s), mailto and tel never survive it.
"""

from __future__ import annotations

from html import unescape

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])
URL_SCHEMES = {"http", "https", "mailto", "tel"}
EXCERPT_CHARS = 300


def render(markdown: str) -> str:
    html = _MARKDOWN.render(markdown)
    return nh3.clean(html, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                     clean_content_tags={"script", "style"}, strip_comments=True)


def plain_text(html: str) -> str:
    """The words of sanitized HTML, tags removed and whitespace collapsed (for excerpts and embeddings)."""
    return " ".join(unescape(nh3.clean(html, tags=set())).split())


def excerpt(html: str, limit: int = EXCERPT_CHARS) -> str:
    text = plain_text(html)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"
