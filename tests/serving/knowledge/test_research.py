"""Research quality scores and buying-signal detection with the real offline model (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.embeddings import local_embedder
from serving.knowledge import quality, signals

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PROSE = " ".join(f"term{i}" for i in range(700))  # 700 distinct words: full marks for substance


def test_quality_rewards_substance_first_party_freshness_and_structure():
    base = dict(text=PROSE, now=NOW, first_party=True, has_url=True, dated=NOW - timedelta(days=3), title="T",
                description="D")
    best = quality.score(**base)
    assert 90 <= best <= 100
    assert quality.score(**{**base, "text": "Too short to say much."}) < best - 30
    assert quality.score(**{**base, "first_party": False}) == best - 10
    assert quality.score(**{**base, "first_party": False, "has_url": False}) == best - 15
    assert quality.score(**{**base, "dated": NOW - timedelta(days=900)}) == best - 21
    assert quality.score(**{**base, "dated": None}) == best - 17
    assert quality.score(**{**base, "title": None, "description": None}) == best - 10
    repetitive = " ".join(["buy now"] * 400)
    assert quality.score(**{**base, "text": repetitive}) < best - 30  # long but says nothing


def test_boilerplate_shared_by_most_pages_is_penalised():
    chrome = "Home About Careers\n© Acme"
    pages = [f"{chrome}\nPage {i} has its own content about pumps and wells." for i in range(4)]
    shared = quality.boilerplate_lines(pages)
    assert shared == {"Home About Careers", "© Acme"}
    assert quality.boilerplate_lines(pages[:2]) == set()  # two pages are too few to tell chrome from content
    share = quality.boilerplate_share(pages[0], shared)
    assert 0.3 < share < 0.6
    clean = quality.score(text=pages[0], now=NOW, first_party=True, has_url=True)
    assert quality.score(text=pages[0], now=NOW, first_party=True, has_url=True, boilerplate=share) < clean


@pytest.mark.parametrize(("kind", "sentence"), [
    ("hiring", "We are hiring fifteen account executives across our London and Berlin offices this quarter."),
    ("funding", "The company raised 40 million dollars in a Series C round led by Northzone and Accel."),
    ("expansion", "Acme is expanding into the Brazilian market and opens a new office in São Paulo next month."),
    ("leadership", "Acme appointed Maria Lopez as Chief Revenue Officer to lead its global sales organisation."),
    ("technology", "The finance team is migrating from its legacy ERP to a new cloud platform this year."),
])
def test_each_kind_of_signal_is_detected(kind, sentence):
    found = signals.detect(f"Acme makes pumps for farms. {sentence} Our pumps are blue and durable.",
                           embedder=local_embedder(), url="https://acme.example/news", date=NOW)
    assert [s.kind for s in found] == [kind]
    assert found[0].sentence == sentence and found[0].url == "https://acme.example/news"
    assert found[0].date == "2026-12-01" and 0.5 <= found[0].confidence <= 1


def test_words_alone_or_ordinary_prose_are_not_signals():
    text = ("Our funding model for customers lets farmers pay per season. The weather this week was mild with "
            "light rain. Pumps should be serviced every twelve months by a trained technician.")
    assert signals.detect(text, embedder=local_embedder()) == []
    assert signals.sentences("Short. Also short.") == []
