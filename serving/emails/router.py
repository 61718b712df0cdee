"""/email-templates, /emails (send, read, events, outbox, bulk, deliverability, suppressions) and
/mailboxes: the signed-in user's email endpoints (the unauthenticated ones are in `tracking_router`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.audit import service as audit
from serving.core.clock import utcnow
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import NotFound, ValidationFailed
from serving.core.idempotency import IdempotencyDep
from serving.core.listing import parse_choices
from serving.core.pagination import Page, Pagination, page_of, paginate, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.core.validation import Hostname
from serving.deals.models import Deal
from serving.emails import (
    bulk,
    deliverability,
    mailboxes,
    runner,
    sending,
    service,
    suppression,
    templates,
    templating,
)
from serving.emails.delivery.outbox import list_outbox
from serving.emails.models import Email, EmailStatus, EmailTemplate, Mailbox
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
    WarmupDay,
)
from serving.prospects.models import Prospect

templates_router = APIRouter()
router = APIRouter()
mailboxes_router = APIRouter()

Reader = Annotated[Principal, require(Scope.prospects_read)]
Sender = Annotated[Principal, require(Scope.emails_send)]


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
    items, meta = paginate(db, templates.filtered(q=q, category=category), pagination)
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
            template = templates.create(db_session=db, principal=principal, data=body)
        except templating.TemplateError as exc:
            raise _template_error(exc) from None
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
        used = templates.variables_used(template=template, subject=body.subject, html=body.html, text=body.text)
    except templating.TemplateError as exc:
        raise _template_error(exc) from None
    return PreviewOut(subject=rendered.subject, html=rendered.html, text=rendered.text, variables_used=used)


@templates_router.get("/{template_id}", response_model=TemplateOut, summary="Get a template")
def get_template(template_id: uuid.UUID, db: DbSession, principal: Reader):
    return TemplateOut.model_validate(_template_or_404(db, template_id))


@templates_router.put("/{template_id}", response_model=TemplateOut, summary="Update a template")
def update_template(template_id: uuid.UUID, body: TemplateUpdate, db: DbSession, principal: Sender):
    template = _template_or_404(db, template_id)
    try:
        values = templates.update(db_session=db, template=template, data=body)
    except templating.TemplateError as exc:
        raise _template_error(exc) from None
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
    templates.delete(db_session=db, template=template)
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
    stmt = service.filtered(
        statuses=parse_choices(status, EmailStatus, field="status"),
        prospect_id=prospect_id,
        cadence_id=cadence_id,
        bulk_job_id=bulk_job_id,
    )
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


def _email_or_404(db, email_id: uuid.UUID, *, lock: bool = False) -> Email:
    email = service.get(db_session=db, email_id=email_id, lock=lock)
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
    email = _email_or_404(db, email_id, lock=True)
    service.cancel(db_session=db, email=email)
    return EmailOut.model_validate(email)


@router.post(
    "/{email_id}/resolve",
    response_model=EmailOut,
    summary="Settle an email whose delivery could not be confirmed (status unknown): sent, or resend",
)
def resolve_email(email_id: uuid.UUID, body: ResolveEmailIn, db: DbSession, principal: Sender):
    email = _email_or_404(db, email_id, lock=True)
    runner.resolve_unknown(db_session=db, email=email, outcome=body.outcome, now=utcnow())
    return EmailOut.model_validate(email)


# -- mailboxes -------------------------------------------------------------------------------


def _mailbox_or_404(db, mailbox_id: uuid.UUID) -> Mailbox:
    mailbox = mailboxes.get(db_session=db, mailbox_id=mailbox_id)
    if mailbox is None:
        raise NotFound("mailbox", mailbox_id)
    return mailbox


def _mailboxes_out(db, items: list[Mailbox]) -> list[MailboxOut]:
    now = utcnow()
    sent = mailboxes.sent_today_counts(db_session=db, mailbox_ids=[m.id for m in items], now=now)
    out = []
    for mailbox in items:
        row = MailboxOut.model_validate(mailbox)
        row.todays_cap = mailboxes.effective_cap(mailbox, now)
        row.sent_today = sent.get(mailbox.id, 0)
        row.warmup_schedule = [WarmupDay(date=day.date(), cap=cap)
                               for day, cap in mailboxes.warmup_schedule(mailbox, now)]
        out.append(row)
    return out


@mailboxes_router.get("", response_model=Page[MailboxOut], summary="Sending mailboxes with today's cap")
def list_mailboxes(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, mailboxes.listed(), pagination)
    return page_of(_mailboxes_out(db, items), meta)


@mailboxes_router.post("", response_model=MailboxOut, status_code=201, summary="Add a sending mailbox")
def create_mailbox(body: MailboxIn, db: DbSession, principal: Sender, idem: IdempotencyDep):
    def create() -> MailboxOut:
        mailbox = mailboxes.create(db_session=db, principal=principal, data=body)
        return _mailboxes_out(db, [mailbox])[0]

    return idem.run(create, payload=body)


@mailboxes_router.put("/{mailbox_id}", response_model=MailboxOut, summary="Update a mailbox (caps, warm-up)")
def update_mailbox(mailbox_id: uuid.UUID, body: MailboxIn, db: DbSession, principal: Sender):
    mailbox = _mailbox_or_404(db, mailbox_id)
    mailboxes.update(db_session=db, mailbox=mailbox, data=body)
    return _mailboxes_out(db, [mailbox])[0]
