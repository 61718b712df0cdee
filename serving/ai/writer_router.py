"""/ai/emails: generate grounded drafts (one, streamed, or A/B variants), check any text, and edit, approve or
send drafts. Every draft carries the checker's verdict; approve and send refuse a failing one (422
DRAFT_CHECK_FAILED with the failures). Scopes: ai:write to generate and edit, ai:read to read, emails:send to send.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from serving.ai import drafts, writer
from serving.ai.draft_models import AiEmailDraft, DraftStatus
from serving.ai.writer_schemas import CheckIn, CheckOut, DraftOut, DraftPatch, GenerateIn, VariantsIn, VariantsOut
from serving.core.db import tenant_session
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import AppError, NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.emails.models import Mailbox
from serving.prospects.models import Prospect

router = APIRouter()

Reader = Annotated[Principal, require(Scope.ai_read)]
Writer = Annotated[Principal, require(Scope.ai_write)]
Sender = Annotated[Principal, require(Scope.emails_send)]


def _ws(body: GenerateIn) -> writer.WriterSettings:
    return writer.WriterSettings(tone=body.tone, length=body.length, persona=body.persona, language=body.language,
                                 instructions=body.instructions, seed=body.seed, model=body.model)


def _draft_or_404(db, draft_id: uuid.UUID) -> AiEmailDraft:
    row = drafts.get(db_session=db, draft_id=draft_id)
    if row is None:
        raise NotFound("draft", draft_id)
    return row


@router.post("/emails/generate", response_model=DraftOut, status_code=201,
             summary="Write a grounded e-mail to a prospect; the stored draft carries the checker's verdict")
def generate(body: GenerateIn, db: DbSession, principal: Writer, settings: AppSettings, idem: IdempotencyDep):
    def create() -> DraftOut:
        require_visible(db, Prospect, body.prospect_id, "prospectId")
        require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
        row = drafts.generate(db_session=db, settings=settings, principal=principal, prospect_id=body.prospect_id,
                              mailbox_id=body.mailbox_id, ws=_ws(body))
        return DraftOut.of(row)

    return idem.run(create, payload=body, status_code=201)


@router.post("/emails/generate/stream", summary="The same, as a live preview: Server-Sent Events",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "`delta` events ({text}) then one `draft` event (the stored draft), "
                                             "or one `error` event (the error envelope)"}})
def generate_stream(body: GenerateIn, request: Request, db: DbSession, principal: Writer, settings: AppSettings):
    # the references are checked now, so a bad id is a plain 422, not an event in a 200 stream
    require_visible(db, Prospect, body.prospect_id, "prospectId")
    require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
    factory = request.app.state.session_factory

    def events() -> Iterator[str]:
        # the stream outlives the request's transaction: it writes the log and the draft in its own
        try:
            with tenant_session(factory, principal.organization_id) as session:
                for item in drafts.generate_stream(db_session=session, settings=settings, principal=principal,
                                                   prospect_id=body.prospect_id, mailbox_id=body.mailbox_id,
                                                   ws=_ws(body)):
                    if isinstance(item, str):
                        yield _event("delta", {"text": item})
                    else:
                        final = DraftOut.of(item).model_dump(mode="json", by_alias=True)
            yield _event("draft", final)
        except AppError as exc:
            yield _event("error", {"success": False, "error": {"code": exc.code, "message": exc.message,
                                                              "details": exc.details}})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.post("/emails/variants", response_model=VariantsOut, status_code=201,
             summary="A/B variants that differ on purpose (subject, opener, call to action), each checked")
def variants(body: VariantsIn, db: DbSession, principal: Writer, settings: AppSettings, idem: IdempotencyDep):
    def create() -> VariantsOut:
        require_visible(db, Prospect, body.prospect_id, "prospectId")
        require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
        rows = drafts.variants(db_session=db, settings=settings, principal=principal, prospect_id=body.prospect_id,
                               mailbox_id=body.mailbox_id, ws=_ws(body), n=body.n, vary=frozenset(body.vary))
        return VariantsOut(variant_group_id=rows[0].variant_group_id, drafts=[DraftOut.of(r) for r in rows])

    return idem.run(create, payload=body, status_code=201)


@router.post("/emails/check", response_model=CheckOut, summary="Check any subject and body against a prospect")
def check(body: CheckIn, db: DbSession, principal: Writer, settings: AppSettings):
    require_visible(db, Prospect, body.prospect_id, "prospectId")
    require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
    result = drafts.check_text(db_session=db, settings=settings, principal=principal, prospect_id=body.prospect_id,
                               mailbox_id=body.mailbox_id, subject=body.subject, body=body.body, length=body.length,
                               to_email=body.to_email)
    return CheckOut(**result.as_dict())


@router.get("/emails/drafts", response_model=Page[DraftOut], summary="Drafts, newest first")
def list_drafts(db: DbSession, principal: Reader, pagination: Pagination,
                prospect_id: Annotated[uuid.UUID | None, Query(alias="prospectId")] = None,
                status: DraftStatus | None = None,
                variant_group_id: Annotated[uuid.UUID | None, Query(alias="variantGroupId")] = None):
    items, meta = paginate(db, drafts.listed(prospect_id=prospect_id, status=status,
                                             variant_group_id=variant_group_id), pagination)
    return page_of([DraftOut.of(r) for r in items], meta)


@router.get("/emails/drafts/{draft_id}", response_model=DraftOut, summary="One draft with its facts and check")
def get_draft(draft_id: uuid.UUID, db: DbSession, principal: Reader):
    return DraftOut.of(_draft_or_404(db, draft_id))


@router.patch("/emails/drafts/{draft_id}", response_model=DraftOut,
              summary="Edit a draft's subject or body; it is checked again and needs approving again")
def edit_draft(draft_id: uuid.UUID, body: DraftPatch, db: DbSession, principal: Writer, settings: AppSettings):
    row = drafts.edit(db_session=db, settings=settings, principal=principal, row=_draft_or_404(db, draft_id),
                      subject=body.subject, body=body.body)
    return DraftOut.of(row)


@router.post("/emails/drafts/{draft_id}/approve", response_model=DraftOut,
             summary="Approve a draft that passes the checker")
def approve_draft(draft_id: uuid.UUID, db: DbSession, principal: Writer, settings: AppSettings):
    return DraftOut.of(drafts.approve(db_session=db, settings=settings, principal=principal,
                                      row=_draft_or_404(db, draft_id)))


@router.post("/emails/drafts/{draft_id}/reject", response_model=DraftOut, summary="Reject a draft")
def reject_draft(draft_id: uuid.UUID, db: DbSession, principal: Writer):
    return DraftOut.of(drafts.reject(db_session=db, row=_draft_or_404(db, draft_id)))


@router.post("/emails/drafts/{draft_id}/send", response_model=DraftOut, status_code=202,
             summary="Send a draft that passes the checker (queued like any e-mail: suppression and tracking apply)")
def send_draft(draft_id: uuid.UUID, db: DbSession, principal: Sender, writer_: Writer, settings: AppSettings,
               idem: IdempotencyDep):
    def create() -> DraftOut:
        row = _draft_or_404(db, draft_id)
        drafts.send(db_session=db, settings=settings, principal=principal, row=row)
        return DraftOut.of(row)

    return idem.run(create, payload={"draftId": str(draft_id)}, status_code=202)
