"""What the writer may say about a prospect: facts, each with its source and date, gathered from the records.

Everything a draft states must come from here (the checker compares drafts against `DraftContext.corpus`). Facts
that came from outside the organization — enrichment, notes, crawled pages and research, inbound e-mail — are
marked `external`: the LLM prompt carries them inside a data block, never as instructions (see `writer.py`).
Reads go through the other domains' service functions; nothing here writes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.accounts import service as accounts
from serving.accounts.models import CompanyProfile
from serving.activities import service as activities
from serving.core.config import Settings
from serving.core.errors import NotFound, ValidationFailed
from serving.emails import mailboxes
from serving.emails.sending import sender_address
from serving.knowledge import service as knowledge
from serving.organizations.models import Organization
from serving.prospects import service as prospects
from serving.users.models import User

# enrichment values worth a sentence; the rest (ids, raw vendor blobs) is noise in a prompt
_ENRICHMENT_KEYS = ("industry", "employee_count", "employees", "company_size", "technologies", "funding",
                    "location", "headline", "recent_news", "job_change", "hiring")
_EXECUTIVE = re.compile(r"\b(chief|ceo|cto|cfo|coo|cmo|cro|ciso|founder|co-founder|president|owner|vp|"
                        r"vice president|head of|svp|evp|partner)\b", re.I)
_MANAGER = re.compile(r"\b(director|manager|lead|supervisor|principal)\b", re.I)
_EXECUTIVE_SENIORITY = {"c_level", "c-level", "cxo", "executive", "vp", "owner", "founder", "partner"}
_MANAGER_SENIORITY = {"director", "manager", "head", "lead"}
# text that addresses a model rather than describing the prospect: kept in the prompt as data, but nothing in it
# may ground a claim (the checker leaves it out of the corpus)
_INSTRUCTION_LIKE = re.compile(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier)|disregard (?:all |the )?(?:previous|prior|above)|"
    r"\b(?:system|assistant|developer)\s*:|you are now|new instructions|do not follow|override (?:the )?rules|"
    r"</?\s*data\s*>|\bprompt\b", re.I)
MAX_KB_FACTS = 3
KB_MIN_SIMILARITY = 0.25  # MiniLM cosine: below it the document is about something else
MAX_ACTIVITIES = 3


@dataclass(frozen=True)
class Fact:
    key: str  # what it is: "prospect.title", "signal.hiring", "value.knowledge" …
    value: str
    source: str  # where it came from: "prospects#<id>.title", "knowledge_documents#<id>" …
    as_of: datetime | None = None
    external: bool = False  # came from outside the organization: data, never instructions

    @property
    def suspect(self) -> bool:
        """External text that reads like instructions to a model: it grounds nothing."""
        return self.external and bool(_INSTRUCTION_LIKE.search(self.value))

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "source": self.source,
                "asOf": self.as_of.isoformat() if self.as_of else None, "external": self.external,
                "suspect": self.suspect}


@dataclass(frozen=True)
class Party:
    email: str
    name: str | None = None
    first_name: str | None = None


@dataclass
class DraftContext:
    organization_id: uuid.UUID
    prospect_id: uuid.UUID
    recipient: Party
    sender: Party
    mailbox_id: uuid.UUID | None
    persona: str  # executive | manager | practitioner
    facts: list[Fact] = field(default_factory=list)
    allowed_link_hosts: frozenset[str] = frozenset()
    disclosure: str | None = None  # the organization's AI-disclosure line, when it asks for one

    def first(self, prefix: str) -> Fact | None:
        return next((f for f in self.facts if f.key == prefix or f.key.startswith(prefix + ".")), None)

    def all(self, prefix: str) -> list[Fact]:
        return [f for f in self.facts if f.key == prefix or f.key.startswith(prefix + ".")]

    @property
    def corpus(self) -> str:
        """Every value a draft may repeat (facts, both parties), lower-cased, for the checker's grounding test."""
        parts = [f.value for f in self.facts if not f.suspect]
        parts += [p for party in (self.recipient, self.sender) for p in (party.email, party.name, party.first_name)
                  if p]
        if self.disclosure:
            parts.append(self.disclosure)
        return "\n".join(parts).lower()


def persona_of(title: str | None, seniority: str | None) -> str:
    level = (seniority or "").strip().lower()
    if level in _EXECUTIVE_SENIORITY or (title and _EXECUTIVE.search(title)):
        return "executive"
    if level in _MANAGER_SENIORITY or (title and _MANAGER.search(title)):
        return "manager"
    return "practitioner"


def _scalar(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, list):
        items = [str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip()]
        return ", ".join(items[:5]) or None
    if isinstance(value, dict):
        return None
    return str(value).strip() or None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    m = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?([^/:?#\s]+)", url.strip(), re.I)
    return m.group(1).lower().removeprefix("www.") if m else None


def build_context(*, db_session: Session, settings: Settings, organization_id: uuid.UUID, user_id: uuid.UUID | None,
                  prospect_id: uuid.UUID, mailbox_id: uuid.UUID | None = None, use_knowledge: bool = True
                  ) -> DraftContext:
    """The facts for writing to one prospect, as the calling user (row-level security applies to every read)."""
    prospect = prospects.get(db_session=db_session, prospect_id=prospect_id)
    if prospect is None:
        raise NotFound("prospect", prospect_id)
    pid = prospect.id
    facts: list[Fact] = []

    def add(key: str, value: Any, source: str, *, as_of: datetime | None = None, external: bool = False) -> None:
        text = _scalar(value)
        if text:
            facts.append(Fact(key, text, source, as_of, external))

    for column in ("first_name", "last_name", "title", "company", "department", "city", "country"):
        add(f"prospect.{column}", getattr(prospect, column), f"prospects#{pid}.{column}", as_of=prospect.updated_at)
    add("prospect.intent_tier", prospect.intent_tier, f"prospects#{pid}.intent_tier", as_of=prospect.updated_at)
    for key in _ENRICHMENT_KEYS:
        add(f"enrichment.{key}", (prospect.enrichment_data or {}).get(key), f"prospects#{pid}.enrichment_data.{key}",
            external=True)
    notes = (prospect.custom_fields or {}).get("notes")
    add("prospect.notes", notes, f"prospects#{pid}.custom_fields.notes", external=True)

    hosts: set[str] = set()
    account = accounts.get(db_session=db_session, account_id=prospect.account_id) if prospect.account_id else None
    profile_id = None
    if account is not None:
        aid = account.id
        add("account.name", account.name, f"accounts#{aid}.name", as_of=account.updated_at)
        add("account.industry", account.industry, f"accounts#{aid}.industry", as_of=account.updated_at)
        add("account.employee_count", account.employee_count, f"accounts#{aid}.employee_count",
            as_of=account.updated_at)
        add("account.city", account.city, f"accounts#{aid}.city", as_of=account.updated_at)
        for h in (_host(account.domain), _host(account.website)):
            if h:
                hosts.add(h)
        profile = db_session.scalar(select(CompanyProfile).where(CompanyProfile.account_id == aid))
        if profile is not None:
            profile_id = profile.id
            for i, signal in enumerate(profile.buying_signals or []):
                if i >= 5:
                    break
                date = _parse_date(signal.get("date"))
                add(f"signal.{signal.get('kind', 'news')}", signal.get("sentence"),
                    f"company_profiles#{profile.id}.buying_signals[{i}]", as_of=date, external=True)
                if h := _host(signal.get("url")):
                    hosts.add(h)

    for item in db_session.scalars(activities.timeline(prospect_id=pid).limit(MAX_ACTIVITIES)):
        summary = item.subject or item.description
        add(f"activity.{item.type}", summary, f"activities#{item.id}", as_of=item.occurred_at,
            external=item.user_id is None)  # logged by no user: it came in from outside (a reply, a webhook)

    if use_knowledge:
        # phrased like the answer we want ("how we help <role> teams…"): closer in meaning to value statements
        role = " ".join(v for v in (prospect.title, prospect.department) if v) or "your"
        industry = f" in {account.industry}" if account is not None and account.industry else ""
        query = f"how we help {role} teams{industry}: benefits, results and time saved"
        for doc in knowledge.match(db_session=db_session, query=query, threshold=KB_MIN_SIMILARITY, limit=10):
            if doc.get("company_profile_id") not in (None, profile_id):
                continue
            key = "value.knowledge" if doc.get("company_profile_id") is None else "research.knowledge"
            add(key, _first_sentences(doc.get("content") or ""), f"knowledge_documents#{doc['id']}",
                external=True)
            if sum(1 for f in facts if f.key in ("value.knowledge", "research.knowledge")) >= MAX_KB_FACTS:
                break

    mailbox = None
    if mailbox_id is not None:
        mailbox = mailboxes.get(db_session=db_session, mailbox_id=mailbox_id)
        if mailbox is None:
            raise ValidationFailed("mailboxId is not a mailbox you can send from", code="INVALID_REFERENCE",
                                   details={"field": "mailboxId"})
        if mailbox.user_id is not None and user_id is not None and mailbox.user_id != user_id:
            raise ValidationFailed("that mailbox belongs to another user", code="MAILBOX_NOT_YOURS",
                                   details={"field": "mailboxId"})
    user = db_session.get(User, user_id) if user_id else None
    from_email, from_name = sender_address(settings, mailbox)
    sender_name = from_name or (user.full_name if user is not None else None)
    organization = db_session.get(Organization, organization_id)
    ai_settings = ((organization.settings if organization is not None else None) or {}).get("ai") or {}
    for h in ai_settings.get("allowedLinkDomains") or []:
        hosts.add(str(h).lower())
    if settings.email_tracking_base_url and (h := _host(settings.email_tracking_base_url)):
        hosts.add(h)
    disclosure = ai_settings.get("disclosure") if ai_settings.get("requireDisclosure") else None

    recipient_name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p) or None
    return DraftContext(
        organization_id=organization_id, prospect_id=pid,
        recipient=Party(prospect.email, recipient_name, prospect.first_name),
        sender=Party(from_email, sender_name, (sender_name or "").split(" ")[0] or None),
        mailbox_id=mailbox.id if mailbox is not None else None,
        persona=persona_of(prospect.title, prospect.seniority), facts=facts,
        allowed_link_hosts=frozenset(hosts), disclosure=disclosure or None,
    )


def _first_sentences(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    out = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if out and len(out) + len(sentence) > limit:
            break
        out = f"{out} {sentence}".strip()
    return out[:limit]


def _parse_date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
