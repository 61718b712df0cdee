"""The checker every draft passes before it can be approved or sent, whoever or whatever wrote it.

Each rule returns failures `{code, message, evidence}`; a draft passes when there are none. The rules:
- PLACEHOLDER: template syntax or merge fields left in (`{{…}}`, `{%…%}`, `[First Name]`, `<company>`,
  `{name}`, `%FNAME%`, `*|FNAME|*`, `${x}`, `XXX`, `TODO`, `TBD`, "lorem ipsum").
- UNGROUNDED_NAME / UNGROUNDED_NUMBER / UNGROUNDED_DATE: a name, number or date the context does not contain.
  Names are found without a statistical model, on purpose (deterministic and explainable): runs of capitalised
  words, except a single common English word opening a sentence or a line (the Dale–Chall list),
  weekday names and "I". A number is grounded when its digits appear in a fact; meeting lengths ("15 minutes")
  are the writer's own. A month name is grounded when it appears in a fact. Limits: a lower-case invented claim
  ("our customers doubled revenue") is not caught; a sentence-initial single name that is also a common word
  ("Bill") is not checked.
- WRONG_RECIPIENT / WRONG_SENDER: the greeting names someone other than the prospect; the draft's `to` is not the
  prospect's address; the `from` is not the sender's mailbox.
- TOO_LONG / TOO_SHORT / SUBJECT_LENGTH / READING_LEVEL: words per length setting, subject size, Flesch–Kincaid
  grade (syllables by pyphen).
- SPAM_TERMS / SHOUTING: phrases from `data/spam_terms.txt`, words in capitals, "!!".
- LINK_NOT_ALLOWED: a link whose host is not the prospect's company, a research source's site, the tracking domain
  or a domain the organization allows (`settings.ai.allowedLinkDomains`).
- External text that reads like instructions to a model ("ignore previous instructions", "system:") grounds
  nothing: a claim taken from it is ungrounded (`Fact.suspect`).
- DISCLOSURE_MISSING: the organization asks for an AI-disclosure line (`settings.ai.requireDisclosure`,
  `settings.ai.disclosure`) and the body does not carry it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyphen

from serving.ai.context import DraftContext

LENGTH_LIMITS = {"short": (20, 120), "medium": (30, 180), "long": (40, 260)}
SUBJECT_MAX_CHARS = 78
SUBJECT_MAX_WORDS = 10
MAX_READING_GRADE = 12.0  # US grade 12: plain business prose; above it, readers skim

_PLACEHOLDERS = (
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{\{|\}\}|\{%|%\}|\{#|#\}"),
    re.compile(r"\[[A-Z][A-Za-z]*(?:[ _][A-Za-z]+){0,3}\]"),
    re.compile(r"<[A-Za-z_]+(?: [A-Za-z_]+){0,3}>"),
    re.compile(r"\{[A-Za-z_][A-Za-z0-9_ .]{0,30}\}"),
    re.compile(r"%[A-Z_]{2,}%|\*\|[A-Z_]+\|\*|\$\{[^}]*\}"),
    re.compile(r"\b(?:X{3,}|TODO|TBD|FIXME|lorem ipsum|INSERT [A-Z ]+)\b", re.I),
)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?")
_DURATION = re.compile(r"^\s*(?:-\s*)?(?:min|mins|minute|minutes)\b", re.I)
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH_NAME = "(" + "|".join(m.capitalize() for m in _MONTHS) + ")"
# a month name is a date when something makes it one ("in June", "June 3", "3rd of June", "June 2025"); "May I…"
# is not
_MONTH = re.compile(
    r"(?:\b(?:in|on|by|since|until|till|during|from|before|after|last|next|this|early|mid|late|end of)\s+"
    + _MONTH_NAME + r"\b)|(?:\b" + _MONTH_NAME + r"\s+\d{1,4}\b)|(?:\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH_NAME + r"\b)", re.I)
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_ALWAYS_OK = {"i", "i'm", "i've", "i'd", "i'll", "ps", "p.s."}
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\s+([^,\n!:]+)", re.I)
_TOKEN = re.compile(r"[A-Za-z][\w'’&-]*")
_SENTENCE_END = re.compile(r"[.!?:]\s*$")


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    evidence: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class CheckResult:
    failures: list[Failure] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failures": [f.as_dict() for f in self.failures], "metrics": self.metrics}


@cache
def common_words() -> frozenset[str]:
    # the Dale–Chall list of ~3,000 familiar words, as textstat ships it (MIT; data/README.md)
    words = (Path(__file__).parent / "data" / "common_words_en.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in words.split() if w.strip())


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def reading_grade(text: str) -> float:
    """Flesch–Kincaid grade level: 0.39 × words per sentence + 11.8 × syllables per word − 15.59; syllables
    from pyphen's hyphenation dictionary (a word has at least one)."""
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    if not words:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+(?=\s|$)", text)))
    syllables = sum(max(1, len(_hyphenator().positions(w)) + 1) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


@cache
def spam_terms() -> tuple[str, ...]:
    lines = (Path(__file__).parent / "data" / "spam_terms.txt").read_text(encoding="utf-8").splitlines()
    return tuple(t.strip().lower() for t in lines if t.strip() and not t.lstrip().startswith("#"))


def _host(url: str) -> str:
    url = re.sub(r"^(?:https?://)", "", url, flags=re.I)
    return re.split(r"[/:?#]", url, maxsplit=1)[0].lower().removeprefix("www.")


def _host_allowed(host: str, allowed: frozenset[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def _digits(value: str) -> str:
    return value.lstrip("$€£").replace(",", "")


def check(*, subject: str, body: str, context: DraftContext, length: str = "medium",
          to_email: str | None = None, from_email: str | None = None,
          max_reading_grade: float = MAX_READING_GRADE) -> CheckResult:
    failures: list[Failure] = []
    text = f"{subject}\n{body}"
    corpus = context.corpus

    for pattern in _PLACEHOLDERS:
        for m in pattern.finditer(text):
            failures.append(Failure("PLACEHOLDER", "an unfilled placeholder or template syntax is left in",
                                    m.group(0)))

    links = [m.group(0).rstrip(".,;") for m in _URL.finditer(body)]
    # only domains the context vouches for (the prospect's company, research sources, tracking, the organization's
    # list) — not any URL that appears in a fact: notes and replies can carry anything
    for link in links:
        if not _host_allowed(_host(link), context.allowed_link_hosts):
            failures.append(Failure("LINK_NOT_ALLOWED", f"the link's domain {_host(link)} is not an allowed domain",
                                    link))

    # grounding works on the prose, without links and addresses (their digits and names are not claims)
    prose = _EMAIL.sub(" ", _URL.sub(" ", text))
    for pattern in _PLACEHOLDERS:  # reported above already
        prose = pattern.sub(" ", prose)
    failures += _ungrounded_numbers(prose, corpus)
    failures += _ungrounded_dates(prose, corpus)
    failures += _ungrounded_names(prose, corpus)

    failures += _parties(body, context, to_email, from_email)

    words = len(re.findall(r"\b\w[\w'’-]*\b", body))
    low, high = LENGTH_LIMITS.get(length, LENGTH_LIMITS["medium"])
    if words > high:
        failures.append(Failure("TOO_LONG", f"the body has {words} words; a {length} e-mail has at most {high}",
                                str(words)))
    if words < low:
        failures.append(Failure("TOO_SHORT", f"the body has {words} words; a {length} e-mail has at least {low}",
                                str(words)))
    if not subject.strip() or len(subject) > SUBJECT_MAX_CHARS or len(subject.split()) > SUBJECT_MAX_WORDS:
        failures.append(Failure("SUBJECT_LENGTH", f"a subject needs 1–{SUBJECT_MAX_CHARS} characters and at most "
                                f"{SUBJECT_MAX_WORDS} words", subject))
    grade = round(reading_grade(body), 1) if words else 0.0
    if grade > max_reading_grade:
        failures.append(Failure("READING_LEVEL", f"reading grade {grade} is above {max_reading_grade}: use shorter "
                                "sentences and plainer words", str(grade)))

    lowered = text.lower()
    for term in spam_terms():
        if re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", lowered):
            failures.append(Failure("SPAM_TERMS", f"“{term}” reads as spam to filters and people", term))
    shouting = [w for w in re.findall(r"\b[A-Z]{4,}\b", prose) if w.lower() not in corpus]
    if shouting or "!!" in text:
        failures.append(Failure("SHOUTING", "words in capitals or repeated exclamation marks",
                                ", ".join(shouting) or "!!"))

    if context.disclosure and context.disclosure.strip().lower() not in body.lower():
        failures.append(Failure("DISCLOSURE_MISSING", "your organization requires the AI-disclosure line",
                                context.disclosure))

    return CheckResult(failures, {"words": words, "subjectChars": len(subject), "readingGrade": grade,
                                  "links": links})


def _ungrounded_numbers(prose: str, corpus: str) -> list[Failure]:
    plain_corpus = corpus.replace(",", "")
    out = []
    for m in _NUMBER.finditer(prose):
        value = _digits(m.group(0))
        if _DURATION.match(prose[m.end():]) and float(value or 0) <= 60:
            continue  # "a 15-minute call": the writer's own offer, not a claim
        if not re.search(r"(?<![\d.])" + re.escape(value) + r"(?![\d])", plain_corpus):
            out.append(Failure("UNGROUNDED_NUMBER", f"the number {m.group(0)} is not in the prospect's facts",
                               m.group(0)))
    return out


def _ungrounded_dates(prose: str, corpus: str) -> list[Failure]:
    out = []
    for m in _MONTH.finditer(prose):
        month = next(g for g in m.groups() if g)
        if not month[0].isupper():
            continue  # "in may" is not a month written as one
        if month.lower() not in corpus:
            out.append(Failure("UNGROUNDED_DATE", f"the date “{m.group(0)}” is not in the prospect's facts", month))
    return out


def _ungrounded_names(prose: str, corpus: str) -> list[Failure]:
    out, seen = [], set()
    for line in prose.splitlines():
        # sentences within the line; the line's start is a sentence start too (greetings, sign-offs)
        for sentence in re.split(r"(?<=[.!?])\s+|(?<=[.!?][”\"’)])\s+", line.strip()):
            tokens = list(_TOKEN.finditer(sentence))
            groups: list[list[str]] = []
            prev_end = None
            for i, t in enumerate(tokens):
                word = t.group(0)
                capital = word[0].isupper()
                if not capital:
                    prev_end = None
                    continue
                if i == 0:
                    following = tokens[1].group(0) if len(tokens) > 1 else ""
                    if not following[:1].isupper() or is_common_word(word):
                        prev_end = None  # an ordinary word opening the sentence (see the limits above)
                        continue
                if word.lower() in _ALWAYS_OK or word.lower() in _WEEKDAYS or word.lower() in _MONTHS:
                    prev_end = None
                    continue
                gap = sentence[prev_end:t.start()] if prev_end is not None else None
                if gap is not None and gap.strip() in ("", "&", "-"):
                    groups[-1].append(word)
                else:
                    groups.append([word])
                prev_end = t.end()
            for group in groups:
                name = " ".join(group)
                if name.lower() in seen:
                    continue
                seen.add(name.lower())
                if not all(w.lower().strip("’'s") in corpus or w.lower() in corpus for w in group) \
                        and name.lower() not in corpus:
                    out.append(Failure("UNGROUNDED_NAME", f"“{name}” is not a name in the prospect's facts", name))
    return out


def is_common_word(word: str) -> bool:
    w = word.lower()
    if w in common_words() or w in _ALWAYS_OK or w in {"hi", "hello", "hey", "dear", "thanks", "best", "cheers"}:
        return True
    # inflections of a common word ("Growing", "Hoped", "Teams")
    return any(w.endswith(suffix) and (w[:-len(suffix)] in common_words() or w[:-len(suffix)] + "e" in common_words())
               for suffix in ("ing", "ed", "es", "s", "ly", "er"))


def _parties(body: str, context: DraftContext, to_email: str | None, from_email: str | None) -> list[Failure]:
    out = []
    first_line = next((ln for ln in body.splitlines() if ln.strip()), "")
    greeting = _GREETING.match(first_line)
    if greeting:
        named = greeting.group(1).strip().lower()
        accepted = {n.lower() for n in (context.recipient.first_name, context.recipient.name) if n}
        generic = {"there", "team", "all", "everyone", "folks"}
        if named not in accepted and named not in generic:
            out.append(Failure("WRONG_RECIPIENT", "the greeting names someone other than the recipient",
                               greeting.group(1).strip()))
    if to_email is not None and to_email.strip().lower() != context.recipient.email.lower():
        out.append(Failure("WRONG_RECIPIENT", f"the draft goes to {to_email}, not to the prospect "
                           f"({context.recipient.email})", to_email))
    if from_email is not None and from_email.strip().lower() != context.sender.email.lower():
        out.append(Failure("WRONG_SENDER", f"the draft is sent from {from_email}, not from your mailbox "
                           f"({context.sender.email})", from_email))
    return out
