"""/email-templates, /emails (send, read, events, outbox, bulk, deliverability, suppressions),
/mailboxes, and the unauthenticated tracking and unsubscribe endpoints (signed tokens)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from serving.audit import service as audit
from serving.core.clock import utcnow
from serving.core.db import set_tenant
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import AppError, NotFound, ValidationFailed
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.core.schemas import HTML_ROUTE_ERRORS
from serving.core.validation import Hostname
from serving.deals.models import Deal
from serving.emails import (
    bulk,
    deliverability,
    engagement,
    mailboxes,
    runner,
    sending,
    service,
    suppression,
    templates,
    templating,
    tracking,
)
from serving.emails.delivery.outbox import list_outbox
from serving.emails.models import Email, EmailTemplate, Mailbox
from serving.emails.schemas import (
    BulkJobIn,
    BulkJobOut,
    BulkRecipientOut,
    DeliverabilityOut,
    EmailEventOut,
    EmailOut,
    MailboxIn,
    MailboxOut,
    OutboxEntryOut,
    PreviewIn,
    PreviewOut,
    ResolveEmailIn,
    SendEmailIn,
    SuppressionIn,
    SuppressionOut,
    TemplateIn,
    TemplateOut,
    TemplateUpdate,
)
from serving.prospects.models import Prospect

templates_router = APIRouter()
router = APIRouter()
mailboxes_router = APIRouter()
tracking_router = APIRouter()

Reader = Annotated[Principal, require(Scope.prospects_read)]
Sender = Annotated[Principal, require(Scope.emails_send)]


class InvalidLink(AppError):
    status_code = 404
    code = "INVALID_LINK"


def _template_error(exc: templating.TemplateError) -> ValidationFailed:
    code = "UNKNOWN_TEMPLATE_VARIABLES" if exc.unknown else "INVALID_TEMPLATE"
    return ValidationFailed(str(exc), code=code, details={"field": exc.field, "unknown": exc.unknown})


# -- templates -------------------------------------------------------------------------------


def _template_or_404(db, template_id: uuid.UUID) -> EmailTemplate:
    template = templates.get_template(db_session=db, template_id=template_id)
    if template is None:
        raise NotFound("email template", template_id)
    return template


@templates_router.get("", response_model=Page[TemplateOut], summary="List email templates")
def list_templates(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
):
    stmt = select(EmailTemplate).order_by(EmailTemplate.created_at.desc(), EmailTemplate.id)
    if q:
        stmt = stmt.where(EmailTemplate.name.ilike(f"%{q}%"))
    if category:
        stmt = stmt.where(EmailTemplate.category == category)
    items, meta = paginate(db, stmt, pagination)
    return page_of([TemplateOut.model_validate(t) for t in items], meta)


@templates_router.post(
    "",
    response_model=TemplateOut,
    status_code=201,
    summary="Create a template (unknown variables are reported here)",
)
def create_template(body: TemplateIn, db: DbSession, principal: Sender, idem: IdempotencyDep):
    def create() -> TemplateOut:
        try:
            templates.check_template(
                subject=body.subject,
                html=body.html,
                text=body.text,
                variables=body.variables,
                defaults=body.defaults,
            )
        except templating.TemplateError as exc:
            raise _template_error(exc) from None
        template = EmailTemplate(
            organization_id=principal.organization_id,
            team_id=principal.team_id,
            created_by=principal.user_id,
            **body.model_dump(),
        )
        db.add(template)
        db.flush()
        audit.record(
            db_session=db,
            principal=principal,
            action="create",
            entity_type="email_template",
            entity_id=template.id,
        )
        return TemplateOut.model_validate(template)

    return idem.run(create, payload=body)


@templates_router.post("/preview", response_model=PreviewOut, summary="Render ad-hoc content as a preview")
def preview_adhoc(body: PreviewIn, db: DbSession, principal: Reader):
    prospect = require_visible(db, Prospect, body.prospect_id, "prospectId")
    return _preview(None, body, prospect)


def _preview(template: EmailTemplate | None, body: PreviewIn, prospect) -> PreviewOut:
    try:
        rendered = templates.preview(
            template=template,
            subject=body.subject,
            html=body.html,
            text=body.text,
            prospect=prospect,
            variables=body.variables,
        )
        used = set()
        for part in (
            body.subject or (template.subject if template else ""),
            body.html or (template.html if template else None),
            body.text or (template.text if template else None),
        ):
            used |= templating.referenced_variables(part)
    except templating.TemplateError as exc:
        raise _template_error(exc) from None
    return PreviewOut(
        subject=rendered.subject, html=rendered.html, text=rendered.text, variables_used=sorted(used)
    )


@templates_router.get("/{template_id}", response_model=TemplateOut, summary="Get a template")
def get_template(template_id: uuid.UUID, db: DbSession, principal: Reader):
    return TemplateOut.model_validate(_template_or_404(db, template_id))


@templates_router.put("/{template_id}", response_model=TemplateOut, summary="Update a template")
def update_template(template_id: uuid.UUID, body: TemplateUpdate, db: DbSession, principal: Sender):
    template = _template_or_404(db, template_id)
    values = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in ("html", "text", "category")
    }
    merged = {
        c: values.get(c, getattr(template, c)) for c in ("subject", "html", "text", "variables", "defaults")
    }
    if not merged["html"] and not merged["text"]:
        raise ValidationFailed("a template needs an html or a text body", details={"field": "html"})
    try:
        templates.check_template(**merged)
    except templating.TemplateError as exc:
        raise _template_error(exc) from None
    for key, value in values.items():
        setattr(template, key, value)
    db.flush()
    audit.record(
        db_session=db,
        principal=principal,
        action="update",
        entity_type="email_template",
        entity_id=template.id,
        changes=values,
    )
    return TemplateOut.model_validate(template)


@templates_router.delete("/{template_id}", status_code=204, summary="Delete a template")
def delete_template(template_id: uuid.UUID, db: DbSession, principal: Sender) -> None:
    template = _template_or_404(db, template_id)
    db.delete(template)
    audit.record(
        db_session=db,
        principal=principal,
        action="delete",
        entity_type="email_template",
        entity_id=template_id,
    )


@templates_router.post(
    "/{template_id}/preview",
    response_model=PreviewOut,
    summary="Render a template for a prospect and/or variables",
)
def preview_template(template_id: uuid.UUID, body: PreviewIn, db: DbSession, principal: Reader):
    template = _template_or_404(db, template_id)
    prospect = require_visible(db, Prospect, body.prospect_id, "prospectId")
    return _preview(template, body, prospect)


# -- emails ----------------------------------------------------------------------------------


@router.post(
    "/send",
    response_model=EmailOut,
    status_code=202,
    summary="Queue an email (delivered by the worker; suppression checked again at send time)",
)
def send_email(
    body: SendEmailIn, db: DbSession, principal: Sender, settings: AppSettings, idem: IdempotencyDep
):
    def create() -> EmailOut:
        template = require_visible(db, EmailTemplate, body.template_id, "templateId")
        prospect = require_visible(db, Prospect, body.prospect_id, "prospectId")
        require_visible(db, Deal, body.deal_id, "dealId")
        mailbox = require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
        request = sending.EmailRequest(
            to=[sending.Recipient(r.email, r.name) for r in body.to],
            cc=[sending.Recipient(r.email, r.name) for r in body.cc],
            bcc=[sending.Recipient(r.email, r.name) for r in body.bcc],
            subject=body.subject,
            html=body.html,
            text=body.text,
            template=template,
            variables=body.variables,
            prospect=prospect,
            deal_id=body.deal_id,
            campaign_id=body.campaign_id,
            track_opens=body.track_opens,
            track_clicks=body.track_clicks,
            send_at=body.send_at,
            mailbox=mailbox,
            reply_to=body.reply_to,
        )
        try:
            email = sending.queue_email(
                db_session=db,
                settings=settings,
                organization_id=principal.organization_id,
                user_id=principal.user_id,
                team_id=principal.team_id,
                request=request,
            )
        except sending.RecipientSuppressed as exc:
            raise ValidationFailed(
                "every recipient is unsubscribed or blacklisted",
                code="RECIPIENT_SUPPRESSED",
                details={"suppressed": exc.reasons},
            ) from None
        except templating.TemplateError as exc:
            raise _template_error(exc) from None
        audit.record(
            db_session=db,
            principal=principal,
            action="send",
            entity_type="email",
            entity_id=email.id,
        )
        return EmailOut.model_validate(email)

    return idem.run(create, payload=body, status_code=202)


@router.get("", response_model=Page[EmailOut], summary="List emails")
def list_emails(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    status: Annotated[str | None, Query()] = None,
    prospect_id: Annotated[uuid.UUID | None, Query(alias="prospectId")] = None,
    cadence_id: Annotated[uuid.UUID | None, Query(alias="cadenceId")] = None,
    bulk_job_id: Annotated[uuid.UUID | None, Query(alias="bulkJobId")] = None,
):
    stmt = select(Email).order_by(Email.created_at.desc(), Email.id)
    if status:
        stmt = stmt.where(Email.status.in_([s.strip() for s in status.split(",")]))
    if prospect_id:
        stmt = stmt.where(Email.prospect_id == prospect_id)
    if cadence_id:
        stmt = stmt.where(Email.cadence_id == cadence_id)
    if bulk_job_id:
        stmt = stmt.where(Email.bulk_job_id == bulk_job_id)
    items, meta = paginate(db, stmt, pagination)
    return page_of([EmailOut.model_validate(e) for e in items], meta)


@router.get(
    "/outbox", response_model=Page[OutboxEntryOut], summary="The local outbox (.eml files) of this org, newest first"
)
def outbox(principal: Reader, settings: AppSettings, pagination: Pagination):
    entries, meta = paginate_list(list_outbox(settings.outbox_dir, principal.organization_id), pagination)
    return page_of([
        OutboxEntryOut(
            email_id=e.email_id,
            file=e.path.name,
            size=e.size,
            written_at=e.written_at,
            subject=e.subject,
            to=e.to,
        )
        for e in entries
    ], meta)


@router.get(
    "/deliverability",
    response_model=DeliverabilityOut,
    summary="SPF / DKIM / DMARC readiness of a sending domain",
)
def check_deliverability(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    domain: Annotated[Hostname, Query(min_length=3, max_length=253)],
    selector: Annotated[Hostname | None, Query(max_length=63)] = None,
):
    return deliverability.check_domain(
        domain,
        selector=selector or settings.dkim_selector,
        resolver=getattr(request.app.state, "dns_resolver", None) or deliverability.resolver_for(settings),
    )


@router.get("/suppressions/{address}", response_model=SuppressionOut, summary="Is this address suppressed?")
def get_suppression(address: str, db: DbSession, principal: Reader):
    reason = suppression.is_suppressed(db_session=db, address=address)
    return SuppressionOut(email=address.lower(), suppressed=reason is not None, reason=reason)


@router.post(
    "/suppressions",
    response_model=SuppressionOut,
    status_code=201,
    summary="Add an address to the blacklist by hand",
)
def add_suppression(body: SuppressionIn, db: DbSession, principal: Sender):
    suppression.blacklist(
        db_session=db,
        organization_id=principal.organization_id,
        address=body.email,
        reason=body.reason,
        details=body.details,
    )
    audit.record(
        db_session=db,
        principal=principal,
        action="suppress",
        entity_type="email_address",
        entity_id=body.email,
    )
    return SuppressionOut(email=body.email, suppressed=True, reason=body.reason)


@router.post("/bulk", response_model=BulkJobOut, status_code=202, summary="Create a bulk send job")
def create_bulk_job(
    body: BulkJobIn, db: DbSession, principal: Sender, settings: AppSettings, idem: IdempotencyDep
):
    def create() -> BulkJobOut:
        require_visible(db, EmailTemplate, body.template_id, "templateId")
        require_visible(db, Mailbox, body.mailbox_id, "mailboxId")
        job = bulk.create_job(db_session=db, principal=principal, data=body)
        audit.record(
            db_session=db,
            principal=principal,
            action="create",
            entity_type="bulk_email_job",
            entity_id=job.id,
            changes={"total": job.total},
        )
        return bulk.job_out(db_session=db, job=job)

    return idem.run(create, payload=body, status_code=202)


@router.get("/bulk/{job_id}", response_model=BulkJobOut, summary="A bulk job with its progress")
def get_bulk_job(job_id: uuid.UUID, db: DbSession, principal: Reader):
    job = bulk.get(db_session=db, job_id=job_id)
    if job is None:
        raise NotFound("bulk email job", job_id)
    return bulk.job_out(db_session=db, job=job)


@router.post("/bulk/{job_id}/cancel", response_model=BulkJobOut, summary="Cancel a bulk job's unsent emails")
def cancel_bulk_job(job_id: uuid.UUID, db: DbSession, principal: Sender):
    job = bulk.get(db_session=db, job_id=job_id)
    if job is None:
        raise NotFound("bulk email job", job_id)
    bulk.cancel(db_session=db, job=job)
    return bulk.job_out(db_session=db, job=job)


@router.get(
    "/bulk/{job_id}/recipients",
    response_model=Page[BulkRecipientOut],
    summary="Per-recipient status of a bulk job",
)
def bulk_recipients(job_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    if bulk.get(db_session=db, job_id=job_id) is None:
        raise NotFound("bulk email job", job_id)
    items, meta = paginate(db, bulk.recipients_of(job_id), pagination)
    statuses = bulk.email_statuses(db_session=db, email_ids=[r.email_id for r in items if r.email_id])
    out = []
    for r in items:
        row = BulkRecipientOut.model_validate(r)
        row.email_status = statuses.get(r.email_id)
        out.append(row)
    return page_of(out, meta)


def _email_or_404(db, email_id: uuid.UUID) -> Email:
    email = service.get(db_session=db, email_id=email_id)
    if email is None:
        raise NotFound("email", email_id)
    return email


@router.get("/{email_id}", response_model=EmailOut, summary="Get an email with its tracking roll-up")
def get_email(email_id: uuid.UUID, db: DbSession, principal: Reader):
    return EmailOut.model_validate(_email_or_404(db, email_id))


@router.get("/{email_id}/events", response_model=Page[EmailEventOut], summary="An email's events")
def email_events(email_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    _email_or_404(db, email_id)
    items, meta = paginate(db, service.events_of(email_id), pagination)
    return page_of([EmailEventOut.model_validate(e) for e in items], meta)


@router.post("/{email_id}/cancel", response_model=EmailOut, summary="Cancel a queued (scheduled) email")
def cancel_email(email_id: uuid.UUID, db: DbSession, principal: Sender):
    email = db.get(Email, email_id, with_for_update=True)
    if email is None:
        raise NotFound("email", email_id)
    if email.status != "queued":
        raise ValidationFailed(
            f"only queued emails can be cancelled (this one is {email.status})",
            code="INVALID_STATE",
            details={"status": email.status},
        )
    email.status = "cancelled"
    db.flush()
    return EmailOut.model_validate(email)


@router.post(
    "/{email_id}/resolve",
    response_model=EmailOut,
    summary="Settle an email whose delivery could not be confirmed (status unknown): sent, or resend",
)
def resolve_email(email_id: uuid.UUID, body: ResolveEmailIn, db: DbSession, principal: Sender):
    email = db.get(Email, email_id, with_for_update=True)
    if email is None:
        raise NotFound("email", email_id)
    if not runner.resolve_unknown(db_session=db, email=email, outcome=body.outcome, now=utcnow()):
        raise ValidationFailed(
            f"only emails whose delivery is unknown can be resolved (this one is {email.status})",
            code="INVALID_STATE",
            details={"status": email.status},
        )
    db.flush()
    return EmailOut.model_validate(email)


# -- mailboxes -------------------------------------------------------------------------------


def _mailbox_out(db, mailbox: Mailbox) -> MailboxOut:
    now = datetime.now(UTC)
    out = MailboxOut.model_validate(mailbox)
    out.todays_cap = mailboxes.effective_cap(mailbox, now)
    out.sent_today = mailboxes.sent_today(db_session=db, mailbox_id=mailbox.id, now=now)
    return out


@mailboxes_router.get("", response_model=Page[MailboxOut], summary="Sending mailboxes with today's cap")
def list_mailboxes(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, select(Mailbox).order_by(Mailbox.email, Mailbox.id), pagination)
    return page_of([_mailbox_out(db, m) for m in items], meta)


@mailboxes_router.post("", response_model=MailboxOut, status_code=201, summary="Add a sending mailbox")
def create_mailbox(body: MailboxIn, db: DbSession, principal: Sender, idem: IdempotencyDep):
    def create() -> MailboxOut:
        from serving.users.models import User

        require_visible(db, User, body.user_id, "userId")
        mailbox = Mailbox(organization_id=principal.organization_id, **body.model_dump())
        db.add(mailbox)
        db.flush()
        return _mailbox_out(db, mailbox)

    return idem.run(create, payload=body)


@mailboxes_router.put("/{mailbox_id}", response_model=MailboxOut, summary="Update a mailbox (caps, warm-up)")
def update_mailbox(mailbox_id: uuid.UUID, body: MailboxIn, db: DbSession, principal: Sender):
    mailbox = db.get(Mailbox, mailbox_id)
    if mailbox is None:
        raise NotFound("mailbox", mailbox_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(mailbox, key, value)
    db.flush()
    return _mailbox_out(db, mailbox)


# -- tracking and unsubscribe (no authentication: the signed token is the credential) --------

NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


def _verified(settings, token: str, kind: str) -> dict:
    try:
        return tracking.verify(token, settings.tracking_secret, kind=kind)
    except tracking.InvalidToken:
        raise InvalidLink("this link is invalid or has been tampered with") from None


def _tracked_email(db, payload: dict) -> Email:
    try:
        organization_id, email_id = uuid.UUID(payload["o"]), uuid.UUID(payload["e"])
    except (KeyError, ValueError):
        raise InvalidLink("this link is invalid") from None
    set_tenant(db, organization_id)
    email = db.get(Email, email_id, with_for_update=True)
    if email is None:
        raise InvalidLink("this link no longer points at an email")
    return email


@tracking_router.get(
    "/t/o/{token}.gif",
    include_in_schema=True,
    summary="Open-tracking pixel",
    tags=["tracking"],
    responses={200: {"content": {"image/gif": {}}}},
)
def open_pixel(token: str, request: Request, db: DbSession, settings: AppSettings):
    email = _tracked_email(db, _verified(settings, token, "o"))
    engagement.track_open(
        db_session=db,
        email=email,
        occurred_at=datetime.now(UTC),
        useragent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)


@tracking_router.get(
    "/t/c/{token}", summary="Click-tracking redirect (signed target only)", tags=["tracking"], status_code=302
)
def click_redirect(token: str, request: Request, db: DbSession, settings: AppSettings):
    payload = _verified(settings, token, "c")
    url = str(payload.get("u") or "")
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidLink("this link is invalid")
    email = _tracked_email(db, payload)
    engagement.track_click(
        db_session=db,
        email=email,
        url=url,
        occurred_at=datetime.now(UTC),
        useragent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">{body}</body></html>"""


@tracking_router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=HTML_ROUTE_ERRORS,
    tags=["tracking"],
    summary="Unsubscribe landing page (confirms with a POST; GET changes nothing)",
)
def unsubscribe_page(token: str, settings: AppSettings):
    payload = _verified(settings, token, "u")
    body = (
        f"<h1>Unsubscribe</h1><p>Stop all emails to <b>{escape(payload['a'])}</b>?</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body))


@tracking_router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=HTML_ROUTE_ERRORS,
    tags=["tracking"],
    summary="RFC 8058 one-click unsubscribe (List-Unsubscribe-Post)",
)
def unsubscribe_one_click(token: str, db: DbSession, settings: AppSettings):
    payload = _verified(settings, token, "u")
    try:
        organization_id = uuid.UUID(payload["o"])
        email_id = uuid.UUID(payload["e"]) if payload.get("e") else None
    except (KeyError, ValueError):
        raise InvalidLink("this link is invalid") from None
    set_tenant(db, organization_id)
    email = db.get(Email, email_id) if email_id else None
    engagement.unsubscribe(
        db_session=db,
        organization_id=organization_id,
        address=payload["a"],
        email=email,
        source="one_click",
        occurred_at=datetime.now(UTC),
    )
    body = f"<h1>You are unsubscribed</h1><p>{escape(payload['a'])} will not receive further emails.</p>"
    return HTMLResponse(_PAGE.format(title="Unsubscribed", body=body))
