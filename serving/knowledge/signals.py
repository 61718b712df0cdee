"""Buying signals in research text: hiring, funding, expansion, new leadership, technology changes.

A sentence is a signal of a kind when a rule of that kind matches it and its embedding is close enough to that
kind's prototype sentences (the rule alone fires on "our funding model", the meaning alone on vague prose), or
— without a rule — when it is very close in meaning (a paraphrase no rule foresaw). Confidence is the
similarity, raised when a rule agrees. Each signal keeps its evidence: url, sentence, date.

Signals land where the rest of the platform reads intent: `raw.intent_signals` (the landing table the intent
feeds fill; dbt builds account intent from it) through `serving.core.raw_landing`, and the company profile's
`buying_signals` through the accounts service (accounts owns `company_profiles`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from sqlalchemy.orm import Session

from models.embeddings import Embedder
from serving.accounts import service as accounts
from serving.core import raw_landing

# kind → the signal_type of raw.intent_signals (its check constraint lists the feed's types)
INTENT_TYPES = {"hiring": "job_posting", "funding": "funding", "expansion": "news", "leadership": "news",
                "technology": "technographic_change"}

RULES = {
    "hiring": re.compile(
        r"\b(we(?:'| a)re hiring|now hiring|is hiring|are hiring|join (?:our|the) team|open (?:positions|roles)|"
        r"job openings?|hiring (?:a|an|for|\d+)|recruiting|new (?:roles|positions|hires)|headcount|"
        r"(?:grow|double|triple)s? (?:its|our|the) (?:team|workforce|headcount))\b", re.I),
    "funding": re.compile(
        r"\b(series [a-f]\b|seed round|funding round|raised|raises|secured .{0,40}(?:funding|investment)|"
        r"closed .{0,40}(?:round|financing)|venture|valuation|investors?\b.{0,40}\b(?:led|participat))", re.I),
    "expansion": re.compile(
        r"\b(expand(?:s|ed|ing)? (?:into|to|its|our)|expansion|opens? (?:a |its |our )?new (?:office|headquarters|"
        r"hub|location|facility|plant)|new (?:office|offices|market|markets|region)|launch(?:es|ed)? in|"
        r"enter(?:s|ed|ing)? (?:the )?.{0,30}markets?)\b", re.I),
    "leadership": re.compile(
        r"\b(appoint(?:s|ed)?|names?|named|hires?|hired|welcomes?|joins? as|promoted|succeeds?)\b.{0,80}\b(ceo|cto|"
        r"cfo|coo|cmo|cro|ciso|chief [a-z]+ officer|vp|vice president|head of|president|managing director)\b",
        re.I),
    "technology": re.compile(
        r"\b(migrat(?:e|es|ed|ing)|adopt(?:s|ed|ing)?|switch(?:es|ed|ing)? (?:to|from)|implement(?:s|ed|ing)?|"
        r"deploy(?:s|ed|ing)?|mov(?:e|es|ed|ing) to|replac(?:e|es|ed|ing)|roll(?:s|ed)? out|rolling out)\b.{0,80}"
        r"\b(platform|salesforce|hubspot|aws|azure|google cloud|gcp|kubernetes|snowflake|databricks|erp|crm|stack|"
        r"cloud|software|system|tool)\b", re.I),
}

PROTOTYPES = {
    "hiring": ["The company is hiring engineers and sales representatives.",
               "We are growing our team and have many open positions.",
               "They plan to double their headcount this year."],
    "funding": ["The startup raised a Series B funding round led by venture investors.",
                "The company secured new investment to fuel its growth.",
                "They closed a financing round at a higher valuation."],
    "expansion": ["The company is expanding into new international markets.",
                  "They opened a new office in another country.",
                  "The business launched operations in a new region."],
    "leadership": ["The company appointed a new chief executive officer.",
                   "A new vice president of sales joined the leadership team.",
                   "The board named a new chief technology officer."],
    "technology": ["The company is migrating its systems to a new cloud platform.",
                   "They replaced their old CRM with a new software vendor.",
                   "The team adopted a new data platform across the business."],
}
RULE_FLOOR = 0.30  # a rule's match counts when the sentence is at least this close to the kind's prototypes
MEANING_ONLY = 0.62  # without a rule, only a sentence this close counts
MAX_SENTENCES = 400  # of one source: a long page is embedded in a bounded time
MAX_PER_KIND = 3  # per source: the strongest evidence, not every repetition

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])|\n+")


@dataclass(frozen=True)
class Signal:
    kind: str
    sentence: str
    url: str | None
    date: str | None
    confidence: float
    source_id: str | None = None


def sentences(text: str) -> list[str]:
    found = []
    for piece in _SENTENCE_END.split(text):
        piece = " ".join(piece.split())
        if 6 <= len(piece.split()) <= 80:  # headings and fragments say too little; run-ons are not sentences
            found.append(piece)
    return found[:MAX_SENTENCES]


@lru_cache(maxsize=4)
def _prototype_vectors(model: str, embedder: Embedder) -> dict[str, np.ndarray]:
    return {kind: embedder.embed(examples) for kind, examples in PROTOTYPES.items()}


def detect(text: str, *, embedder: Embedder, url: str | None = None, date: datetime | None = None,
           source_id: uuid.UUID | None = None) -> list[Signal]:
    candidates = sentences(text)
    if not candidates:
        return []
    prototypes = _prototype_vectors(embedder.model, embedder)
    vectors = embedder.embed(candidates)
    found: list[Signal] = []
    for kind, examples in prototypes.items():
        similarity = (vectors @ examples.T).max(axis=1)
        hits = []
        for sentence, close in zip(candidates, similarity, strict=True):
            ruled = bool(RULES[kind].search(sentence))
            if (ruled and close >= RULE_FLOOR) or close >= MEANING_ONLY:
                confidence = min(1.0, float(close) + (0.25 if ruled else 0.0))
                hits.append(Signal(kind, sentence, url, date.date().isoformat() if date else None,
                                   round(confidence, 3), str(source_id) if source_id else None))
        found.extend(sorted(hits, key=lambda s: -s.confidence)[:MAX_PER_KIND])
    return found


def record(*, db_session: Session, organization_id: uuid.UUID, company_profile_id: uuid.UUID,
           signals: list[Signal], occurred_at: datetime, fallback_domain: str | None = None) -> list[Signal]:
    """Add the signals the company profile does not have yet to its `buying_signals` and land each as an intent
    signal for the company's account domain; returns the new ones. In the caller's transaction."""
    if not signals:
        return []
    added = accounts.add_buying_signals(db_session=db_session, company_profile_id=company_profile_id,
                                        signals=[asdict(s) for s in signals])
    domain = accounts.company_profile_domain(db_session=db_session, company_profile_id=company_profile_id) \
        or fallback_domain
    new = [s for s in signals if asdict(s) in added]
    if domain and new:
        raw_landing.insert_rows(db_session, "raw.intent_signals", raw_landing.INTENT_SIGNAL_COLUMNS, [{
            "organization_id": str(organization_id), "signal_type": INTENT_TYPES[s.kind],
            "account_domain": domain, "prospect_email": None, "topic": s.kind, "strength": s.confidence,
            "occurred_at": datetime.fromisoformat(s.date).replace(tzinfo=UTC) if s.date else occurred_at,
            "expires_at": None,
            "provider": "knowledge_base",
            "payload": json.dumps({"url": s.url, "sentence": s.sentence, "source_id": s.source_id,
                                              "company_profile_id": str(company_profile_id)}),
        } for s in new], source="knowledge", request_id=None, deduplicate=False)
    return new
