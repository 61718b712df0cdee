"""Drafts: generate (one or A/B variants), edit, approve and send — the checker gates every step.

A draft's stored verdict is the checker's on its current text; editing re-checks. Approving and sending check
again against a freshly built context (the prospect may have changed since), so nothing that fails the checker
reaches the outbox. Sending goes through the emails domain's `queue_email`: suppression, the mailbox, tracking and
the delivery job apply as for any e-mail. Services do not commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.ai import checker, writer
from serving.ai.context import DraftContext, build_context
from serving.ai.draft_models import AiEmailDraft, DraftStatus
from serving.ai.llm.models import AiGeneration
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.errors import Conflict, ValidationFailed
from serving.core.principal import Principal
from serving.emails import sending
from serving.emails.models import Email, Mailbox
from serving.prospects.models import Prospect


class DraftCheckFailed(ValidationFailed):
    def __init__(self, result: checker.CheckResult) -> None:
        super().__init__("the draft fails the checker: " + "; ".join(f.message for f in result.failures),
                         code="DRAFT_CHECK_FAILED", details={"failures": [f.as_dict() for f in result.failures]})


def context_for(*, db_session: Session, settings: Settings, principal: Principal, prospect_id: uuid.UUID,
                mailbox_id: uuid.UUID | None) -> DraftContext:
    return build_context(db_session=db_session, settings=settings, organization_id=principal.organization_id,
                         user_id=principal.user_id, prospect_id=prospect_id, mailbox_id=mailbox_id)


def _settings_json(ws: writer.WriterSettings) -> dict[str, Any]:
    return {"tone": ws.tone, "length": ws.length, "persona": ws.persona, "language": ws.language,
            "instructions": ws.instructions, "seed": ws.seed, "model": ws.model}


def _store(db_session: Session, principal: Principal, context: DraftContext, draft: writer.Draft,
           ws: writer.WriterSettings, *, variant_group_id: uuid.UUID | None = None,
           variant: dict[str, Any] | None = None) -> AiEmailDraft:
    result = checker.check(subject=draft.subject, body=draft.body, context=context, length=ws.length)
    row = AiEmailDraft(
        organization_id=principal.organization_id, user_id=principal.user_id, prospect_id=context.prospect_id,
        mailbox_id=context.mailbox_id, generation_id=draft.generation_id, variant_group_id=variant_group_id,
        variant=variant or draft.variant, subject=draft.subject, body=draft.body, to_email=context.recipient.email,
        from_email=context.sender.email, settings=_settings_json(ws), facts=[f.as_dict() for f in draft.facts_used],
        provider=draft.provider, model=draft.model, prompt_version=draft.prompt_version, cost_usd=draft.cost_usd,
        check_passed=result.passed, check_result=result.as_dict(), status=DraftStatus.draft,
    )
    db_session.add(row)
    _record_check(db_session, draft.generation_id, result)
    db_session.flush()
    return row


def _record_check(db_session: Session, generation_id: Any, result: checker.CheckResult) -> None:
    """The generation log carries the verdict too: quality per model and prompt version is measured there."""
    if generation_id is None:
        return
    generation = db_session.get(AiGeneration, generation_id)
    if generation is not None:
        generation.check_passed = result.passed
        generation.check_result = result.as_dict()


def generate(*, db_session: Session, settings: Settings, principal: Principal, prospect_id: uuid.UUID,
             mailbox_id: uuid.UUID | None, ws: writer.WriterSettings) -> AiEmailDraft:
    context = context_for(db_session=db_session, settings=settings, principal=principal, prospect_id=prospect_id,
                          mailbox_id=mailbox_id)
    draft = writer.write(db_session=db_session, settings=settings, context=context, ws=ws,
                         user_id=principal.user_id)
    return _store(db_session, principal, context, draft, ws)


def generate_stream(*, db_session: Session, settings: Settings, principal: Principal, prospect_id: uuid.UUID,
                    mailbox_id: uuid.UUID | None, ws: writer.WriterSettings) -> Iterator[str | AiEmailDraft]:
    """Text deltas, then the stored draft (the caller commits after the last item)."""
    context = context_for(db_session=db_session, settings=settings, principal=principal, prospect_id=prospect_id,
                          mailbox_id=mailbox_id)
    for item in writer.stream(db_session=db_session, settings=settings, context=context, ws=ws,
                              user_id=principal.user_id):
        if isinstance(item, writer.Draft):
            yield _store(db_session, principal, context, item, ws)
        else:
            yield item


def variants(*, db_session: Session, settings: Settings, principal: Principal, prospect_id: uuid.UUID,
             mailbox_id: uuid.UUID | None, ws: writer.WriterSettings, n: int, vary: frozenset[str]
             ) -> list[AiEmailDraft]:
    """n drafts that differ on purpose: only the parts in `vary` change between them (each records its choices).

    Offline, a variant whose varied parts came out the same as an earlier one's is re-drawn with the next seed,
    so the n are really different."""
    context = context_for(db_session=db_session, settings=settings, principal=principal, prospect_id=prospect_id,
                          mailbox_id=mailbox_id)
    group = uuid.uuid4()
    rows: list[AiEmailDraft] = []
    seen: set[tuple[str, ...]] = set()
    seed = ws.seed
    attempts = 0
    while len(rows) < n and attempts < n * 6:
        attempts += 1
        current = writer.WriterSettings(ws.tone, ws.length, ws.persona, ws.language, ws.instructions, seed, ws.model)
        seed += 1
        draft = writer.write(db_session=db_session, settings=settings, context=context, ws=current,
                             user_id=principal.user_id, vary=vary)
        key = _varied_parts(draft, vary)
        if key in seen and draft.provider == "offline":
            continue
        seen.add(key)
        rows.append(_store(db_session, principal, context, draft, current, variant_group_id=group,
                           variant={"index": len(rows), "varies": sorted(vary), **draft.variant}))
    return rows


def _varied_parts(draft: writer.Draft, vary: frozenset[str]) -> tuple[str, ...]:
    paragraphs = [p for p in draft.body.split("\n\n") if p.strip()]
    parts = {"subject": draft.subject, "opener": paragraphs[1] if len(paragraphs) > 1 else "",
             "cta": paragraphs[-2] if len(paragraphs) > 2 else ""}
    return tuple(parts[v] for v in sorted(vary))


def check_text(*, db_session: Session, settings: Settings, principal: Principal, prospect_id: uuid.UUID,
               mailbox_id: uuid.UUID | None, subject: str, body: str, length: str,
               to_email: str | None = None) -> checker.CheckResult:
    context = context_for(db_session=db_session, settings=settings, principal=principal, prospect_id=prospect_id,
                          mailbox_id=mailbox_id)
    return checker.check(subject=subject, body=body, context=context, length=length, to_email=to_email)


def get(*, db_session: Session, draft_id: uuid.UUID) -> AiEmailDraft | None:
    return db_session.get(AiEmailDraft, draft_id)


def listed(*, prospect_id: uuid.UUID | None = None, status: str | None = None,
           variant_group_id: uuid.UUID | None = None) -> Select:
    stmt = select(AiEmailDraft)
    if prospect_id is not None:
        stmt = stmt.where(AiEmailDraft.prospect_id == prospect_id)
    if status is not None:
        stmt = stmt.where(AiEmailDraft.status == status)
    if variant_group_id is not None:
        stmt = stmt.where(AiEmailDraft.variant_group_id == variant_group_id)
    return stmt.order_by(AiEmailDraft.created_at.desc(), AiEmailDraft.id)


def _recheck(db_session: Session, settings: Settings, principal: Principal, row: AiEmailDraft
             ) -> checker.CheckResult:
    context = context_for(db_session=db_session, settings=settings, principal=principal,
                          prospect_id=row.prospect_id, mailbox_id=row.mailbox_id)
    result = checker.check(subject=row.subject, body=row.body, context=context,
                           length=(row.settings or {}).get("length", "medium"), to_email=row.to_email,
                           from_email=row.from_email)
    row.check_passed, row.check_result = result.passed, result.as_dict()
    return result


def _refuse_unless(row: AiEmailDraft, *statuses: str) -> None:
    if row.status not in statuses:
        raise Conflict(f"the draft is {row.status}", code="DRAFT_NOT_EDITABLE" if "draft" in statuses
                       else "DRAFT_STATE", details={"status": row.status})


def edit(*, db_session: Session, settings: Settings, principal: Principal, row: AiEmailDraft,
         subject: str | None, body: str | None) -> AiEmailDraft:
    _refuse_unless(row, DraftStatus.draft, DraftStatus.approved)
    if subject is not None:
        row.subject = subject
    if body is not None:
        row.body = body
    row.status = DraftStatus.draft  # an edited draft needs approving again
    row.approved_by = row.approved_at = None
    _recheck(db_session, settings, principal, row)
    db_session.flush()
    return row


def approve(*, db_session: Session, settings: Settings, principal: Principal, row: AiEmailDraft) -> AiEmailDraft:
    _refuse_unless(row, DraftStatus.draft)
    result = _recheck(db_session, settings, principal, row)
    if not result.passed:
        raise DraftCheckFailed(result)
    row.status, row.approved_by, row.approved_at = DraftStatus.approved, principal.user_id, utcnow()
    db_session.flush()
    return row


def reject(*, db_session: Session, row: AiEmailDraft) -> AiEmailDraft:
    _refuse_unless(row, DraftStatus.draft, DraftStatus.approved)
    row.status = DraftStatus.rejected
    db_session.flush()
    return row


def send(*, db_session: Session, settings: Settings, principal: Principal, row: AiEmailDraft) -> Email:
    """Queue the draft as an e-mail; a draft must pass the checker now (approval is implied by sending it)."""
    _refuse_unless(row, DraftStatus.draft, DraftStatus.approved)
    result = _recheck(db_session, settings, principal, row)
    if not result.passed:
        raise DraftCheckFailed(result)
    prospect = db_session.get(Prospect, row.prospect_id)
    mailbox = db_session.get(Mailbox, row.mailbox_id) if row.mailbox_id else None
    request = sending.EmailRequest(
        to=[sending.Recipient(row.to_email, " ".join(p for p in (prospect.first_name, prospect.last_name) if p)
                              or None)],
        subject=row.subject, text=row.body, prospect=prospect, mailbox=mailbox)
    try:
        email = sending.queue_email(db_session=db_session, settings=settings,
                                    organization_id=principal.organization_id, user_id=principal.user_id,
                                    team_id=principal.team_id, request=request)
    except sending.RecipientSuppressed as exc:
        raise ValidationFailed("the prospect is unsubscribed or blacklisted", code="RECIPIENT_SUPPRESSED",
                               details={"suppressed": exc.reasons}) from None
    now = utcnow()
    if row.status == DraftStatus.draft:
        row.approved_by, row.approved_at = principal.user_id, now
    row.status, row.email_id, row.sent_at = DraftStatus.sent, email.id, now
    db_session.flush()
    return email
