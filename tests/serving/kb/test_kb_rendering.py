"""Markdown to safe HTML: hostile input loses every script, handler and dangerous URL; ordinary formatting and
the raw HTML authors are allowed keep working."""

from __future__ import annotations

import re

from serving.kb.rendering import excerpt, plain_text, render

HOSTILE = """# Reset your password

<script>alert('x')</script>
<img src="https://cdn.example.com/a.png" onerror="alert(1)">
<a href="javascript:alert(1)">click</a> <a href="JaVaScRiPt&#58;alert(2)">again</a>
<a href="https://example.com/help" onclick="steal()">help</a>
<iframe src="https://evil.example"></iframe>
<svg onload="alert(4)"><circle/></svg><style>body{display:none}</style>
<form action="https://evil.example"><input name="p"></form>
<a href="data:text/html;base64,PHNjcmlwdD4=">data</a> <div style="background:url(javascript:alert(5))">x</div>

A [markdown link](javascript:alert(3)) and an ![image](javascript:alert(6)).
"""


def test_hostile_html_never_survives():
    html = render(HOSTILE)
    tags = " ".join(re.findall(r"<[^>]*>", html)).lower()
    for forbidden in ("<script", "alert(", "onerror", "onclick", "onload", "javascript", "<iframe", "<svg",
                      "<style", "<form", "<input", "data:text", "style="):
        assert forbidden not in tags, (forbidden, html)
    # what is left of the script and the style is nothing; a refused Markdown link stays as inert text
    assert "alert('x')" not in html and "display:none" not in html
    assert "[markdown link](javascript:alert(3))" in html
    assert '<a href="https://example.com/help" rel="noopener noreferrer nofollow">help</a>' in html
    assert '<img src="https://cdn.example.com/a.png">' in html
    assert "<h1>Reset your password</h1>" in html


def test_markdown_and_allowed_html_render():
    html = render("Press **Save**.\n\n<details><summary>Why?</summary>Because &amp; so</details>\n\n"
                  "| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n```python\nprint('<b>')\n```\n")
    assert "<strong>Save</strong>" in html and "<details><summary>Why?</summary>" in html
    assert re.search(r"<table>.*<td><s>2</s></td>", html, re.S)
    assert "print(&#39;&lt;b&gt;&#39;)" in html or "print('&lt;b&gt;')" in html
    text = plain_text(html)
    assert text.startswith("Press Save.") and "Because & so" in text and "<" not in text.replace("<b>", "")


def test_excerpt_cuts_at_a_word():
    html = render("word " * 200)
    short = excerpt(html, 50)
    assert short.endswith("…") and len(short) <= 51 and "wor…" not in short
    assert excerpt(render("Short text.")) == "Short text."
