"""Research quality: 0–100, how much a rep can rely on a source. The parts and their weights:

- substance, up to 40: words of text (full marks from 600 words), scaled by how varied the vocabulary is (a
  page that repeats itself says less than its length suggests);
- provenance, up to 25: first-party (the company's own registrable domain) 25, a third party with a URL 15, a
  pasted text with no URL 10;
- freshness, up to 25: from the published date, else the server's Last-Modified: within 30 days 25, 180 days
  18, a year 10, older 4, unknown 8;
- structure, up to 10: a title 5, a meta description 5;
- boilerplate, minus up to 30: the share of the text's lines that also appear on at least half of the site's
  other crawled pages (menus, cookie banners, footers the HTML cleaning did not catch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

FULL_WORDS = 600


def substance(text: str) -> float:
    words = text.lower().split()
    if not words:
        return 0.0
    variety = min(1.0, len(set(words)) / len(words) / 0.4)  # ordinary prose has ≥ 40% distinct words
    return 40.0 * min(1.0, len(words) / FULL_WORDS) * variety


def provenance(*, first_party: bool, has_url: bool) -> float:
    return 25.0 if first_party else 15.0 if has_url else 10.0


def freshness(dated: datetime | None, now: datetime) -> float:
    if dated is None:
        return 8.0
    age = (now - dated).days
    return 25.0 if age <= 30 else 18.0 if age <= 180 else 10.0 if age <= 365 else 4.0


def boilerplate_lines(texts: Iterable[str]) -> set[str]:
    """Lines that appear on at least half of the pages (of at least three) — site chrome, not content."""
    pages = [set(line for line in text.splitlines() if line.strip()) for text in texts]
    if len(pages) < 3:
        return set()
    counts = Counter(line for lines in pages for line in lines)
    return {line for line, n in counts.items() if n >= len(pages) / 2}


def boilerplate_share(text: str, boilerplate: set[str]) -> float:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not boilerplate:
        return 0.0
    return sum(len(line) for line in lines if line in boilerplate) / sum(len(line) for line in lines)


def score(*, text: str, now: datetime, first_party: bool, has_url: bool, dated: datetime | None = None,
          title: str | None = None, description: str | None = None, boilerplate: float = 0.0) -> int:
    total = (substance(text) + provenance(first_party=first_party, has_url=has_url) + freshness(dated, now)
             + (5.0 if title else 0.0) + (5.0 if description else 0.0) - 30.0 * boilerplate)
    return max(0, min(100, round(total)))
