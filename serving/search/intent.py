"""Query understanding: what a rep means by what they type in the search box.

- An e-mail address finds that person (and the e-mails to them); a domain or URL finds that company and its
  people. When exactly one record matches, the response says to jump to it.
- Words naming a type narrow the search to it ("deals", "leads", "companies").
- Phrases become filters: "closing this month" (a deal's close date), "hot"/"burning"/"warm" (intent tier), "won",
  "lost", "open" and stage names, prospect statuses, "my" (owned by me), "over $50k" (amount), "in fintech" (an
  industry the organization's accounts use), "created this week" / "today" (record dates).
- Whatever is not understood stays the text query; nothing is dropped silently: `understood.phrases` lists
  every phrase turned into a filter, and the response returns it.

Pure functions of the query, the date, the user and the organization's industries: tested without a server.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

EMAIL = re.compile(r"^[\w.+'-]+@([\w-]+\.)+[a-z]{2,}$", re.IGNORECASE)
DOMAIN = re.compile(r"^(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#].*)?$", re.IGNORECASE)

TYPE_WORDS = {
    "prospects": "prospects", "prospect": "prospects", "leads": "prospects", "lead": "prospects",
    "contacts": "prospects", "contact": "prospects", "people": "prospects",
    "accounts": "accounts", "account": "accounts", "companies": "accounts", "company": "accounts",
    "deals": "deals", "deal": "deals", "opportunities": "deals", "opportunity": "deals", "opps": "deals",
    "emails": "emails", "email": "emails", "mails": "emails",
}
TIERS = {"burning": ["burning"], "hot": ["hot", "burning"], "warm": ["warm", "hot", "burning"]}
STAGES = {"discovery": "discovery", "qualification": "qualification", "proposal": "proposal",
          "negotiation": "negotiation"}
OPEN_STAGES = ["discovery", "qualification", "proposal", "negotiation"]
STATUSES = {"new", "contacted", "engaged", "qualified", "unqualified", "nurture", "converted"}
AMOUNT = re.compile(r"\b(over|above|more than|greater than|>|>=|under|below|less than|<|<=)\s*\$?\s*"
                    r"(\d+(?:[.,]\d+)?)\s*([km]|mm|thousand|million)?\b", re.IGNORECASE)
PERIOD = re.compile(r"\b(closing|close|closes|created|added|new|contacted)?\s*"
                    r"(today|this week|next week|this month|next month|this quarter|next quarter|"
                    r"last week|last month|last 7 days|last 30 days)\b", re.IGNORECASE)


@dataclass
class Understanding:
    text: str
    types: list[str]
    # entity -> Typesense filter clauses (field names and values from this module only, never from raw input)
    filters: dict[str, list[str]] = field(default_factory=dict)
    phrases: list[dict] = field(default_factory=list)
    # ("prospects", "email", "jane@acme.io") when the query is one record's key
    lookup: tuple[str, str, str] | None = None

    def add(self, entity: str, clause: str) -> None:
        self.filters.setdefault(entity, []).append(clause)

    def as_dict(self) -> dict:
        return {"text": self.text, "types": self.types, "phrases": self.phrases,
                "filters": {k: " && ".join(v) for k, v in self.filters.items()}}


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def period_range(period: str, today: date) -> tuple[date, date]:
    """[start, end) of a named period around `today`."""
    period = period.lower()
    if period == "today":
        return today, today + timedelta(days=1)
    if period in ("this week", "next week", "last week"):
        start = today - timedelta(days=today.weekday())
        start += {"this week": timedelta(0), "next week": timedelta(days=7), "last week": timedelta(days=-7)}[period]
        return start, start + timedelta(days=7)
    if period in ("last 7 days", "last 30 days"):
        days = 7 if "7" in period else 30
        return today - timedelta(days=days - 1), today + timedelta(days=1)
    if period in ("this month", "next month", "last month"):
        year, month = today.year, today.month
        month += {"this month": 0, "next month": 1, "last month": -1}[period]
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        start = date(year, month, 1)
        return start, start + timedelta(days=calendar.monthrange(year, month)[1])
    quarter = (today.month - 1) // 3 + (1 if period == "next quarter" else 0)
    year = today.year + quarter // 4
    start = date(year, (quarter % 4) * 3 + 1, 1)
    end_month = start.month + 3
    return start, date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)


def _quote(value: str) -> str:
    return "`" + value.replace("`", "") + "`"


def understand(query: str, *, types: list[str], today: date, user_id: str | None = None,
               industries: list[str] = ()) -> Understanding:
    """Read `query` for the given searchable `types` (the caller's allowed ones)."""
    raw = " ".join(query.split())
    u = Understanding(text=raw, types=list(types))
    if not raw:
        u.text = "*"
        return u

    if EMAIL.match(raw):
        email = raw.lower()
        u.types = [t for t in types if t in ("prospects", "emails")] or list(types)
        u.add("prospects", f"email:={_quote(email)}")
        u.add("emails", f"to_addresses:={_quote(email)}")
        u.text, u.lookup = "*", ("prospects", "email", email)
        u.phrases.append({"phrase": raw, "meaning": "e-mail address"})
        return u
    domain_match = DOMAIN.match(raw)
    if domain_match and " " not in raw:
        domain = domain_match.group(1).lower()
        u.types = [t for t in types if t in ("accounts", "prospects")] or list(types)
        u.add("accounts", f"domain:={_quote(domain)}")
        u.add("prospects", f"email_domain:={_quote(domain)}")
        u.text, u.lookup = "*", ("accounts", "domain", domain)
        u.phrases.append({"phrase": raw, "meaning": "company domain"})
        return u

    text = raw

    def consume(pattern: str, meaning: str) -> bool:
        nonlocal text
        match = re.search(pattern, text, re.IGNORECASE)
        if not match:
            return False
        u.phrases.append({"phrase": match.group(0).strip(), "meaning": meaning})
        text = (text[:match.start()] + " " + text[match.end():]).strip()
        return True

    # amounts first: "over 50k" must not leave "50k" as text
    amount = AMOUNT.search(text)
    if amount:
        value = float(amount.group(2).replace(",", "."))
        unit = (amount.group(3) or "").lower()
        value *= {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6}.get(unit, 1)
        op = ">=" if amount.group(1).lower() in ("over", "above", "more than", "greater than", ">", ">=") else "<="
        u.add("deals", f"amount:{op}{value:.2f}")
        consume(re.escape(amount.group(0)), f"amount {op} {value:,.0f}")
        u.types = ["deals"] if "deals" in types else u.types

    period = PERIOD.search(text)
    if period:
        verb = (period.group(1) or "").lower()
        start, end = period_range(period.group(2), today)
        if verb.startswith("clos") or (not verb and "deals" in u.types and len(u.types) == 1):
            u.add("deals", f"close_date:>={_epoch(start)} && close_date:<{_epoch(end)}")
            u.types = ["deals"] if "deals" in types else u.types
            meaning = f"close date from {start.isoformat()} to {(end - timedelta(days=1)).isoformat()}"
        elif verb == "contacted":
            u.add("prospects", f"last_contacted_at:>={_epoch(start)} && last_contacted_at:<{_epoch(end)}")
            meaning = f"last contacted from {start.isoformat()} to {(end - timedelta(days=1)).isoformat()}"
        else:
            for entity in u.types:
                u.add(entity, f"created_at:>={_epoch(start)} && created_at:<{_epoch(end)}")
            meaning = f"created from {start.isoformat()} to {(end - timedelta(days=1)).isoformat()}"
        consume(re.escape(period.group(0).strip()), meaning)

    named = [TYPE_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in TYPE_WORDS]
    if named:
        wanted = [t for t in dict.fromkeys(named) if t in types]
        if wanted:
            u.types = wanted
            for word in {w for w in re.findall(r"[a-z]+", text.lower()) if w in TYPE_WORDS}:
                consume(rf"\b{word}\b", f"type {TYPE_WORDS[word]}")

    for word, tiers in TIERS.items():
        if consume(rf"\b{word}\b", f"intent tier {' or '.join(tiers)}"):
            for entity in ("prospects", "accounts"):
                u.add(entity, f"intent_tier:=[{', '.join(tiers)}]")
            if not named:
                u.types = [t for t in types if t in ("prospects", "accounts")] or u.types
            break

    if consume(r"\b(closed[- ])?won\b", "stage closed_won"):
        u.add("deals", "stage:=closed_won")
    elif consume(r"\b(closed[- ])?lost\b", "stage closed_lost"):
        u.add("deals", "stage:=closed_lost")
    elif consume(r"\bopen\b", "open stages"):
        u.add("deals", f"stage:=[{', '.join(OPEN_STAGES)}]")
    for word, stage in STAGES.items():
        if consume(rf"\b(in )?{word}( stage)?\b", f"stage {stage}"):
            u.add("deals", f"stage:={stage}")
    if any(f.startswith("stage") for f in u.filters.get("deals", [])) and not named:
        u.types = ["deals"] if "deals" in types else u.types

    for status in STATUSES:
        if ("prospects" in u.types and len(u.types) == 1) and consume(rf"\b{status}\b", f"status {status}"):
            u.add("prospects", f"status:={status}")

    if user_id and consume(r"\bmy\b|\bmine\b", "owned by me"):
        for entity in ("prospects", "accounts", "deals"):
            u.add(entity, f"owner_id:={_quote(user_id)}")

    by_length = sorted(industries, key=len, reverse=True)
    for industry in by_length:
        if consume(rf"\b(in|from)\s+{re.escape(industry)}\b", f"industry {industry}") or \
                consume(rf"\b{re.escape(industry)}\b", f"industry {industry}"):
            for entity in ("prospects", "accounts", "deals"):
                u.add(entity, f"industry:={_quote(industry)}")
            break

    text = re.sub(r"\b(in|from|with|the|of|all|show|me|find)\b", " ", text, flags=re.IGNORECASE) \
        if u.phrases else text
    u.text = " ".join(text.split()) or "*"
    return u
