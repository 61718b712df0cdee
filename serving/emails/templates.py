"""Email templates: the stored templates, the check of their variables, and previews."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.core.errors import ValidationFailed
from serving.core.listing import contains_any
from serving.core.principal import Principal
from serving.emails import templating
from serving.emails.models import EmailTemplate
from serving.emails.schemas import TemplateIn, TemplateUpdate
from serving.prospects.models import Prospect

# Columns an update may set to null (the others keep their value when null is sent).
_NULLABLE = ("html", "text", "category")


def check_template(
    *, subject: str, html: str | None, text: str | None, variables: Iterable[str], defaults: dict[str, Any]
) -> set[str]:
    """Raises templating.TemplateError for syntax errors and unknown variables."""
    return templating.check_template(
        subject=subject, html=html, text=text, declared=set(variables) | set(defaults)
    )


def get_template(*, db_session: Session, template_id: uuid.UUID) -> EmailTemplate | None:
    return db_session.get(EmailTemplate, template_id)


def preview(
    *,
    template: EmailTemplate | None,
    subject: str | None = None,
    html: str | None = None,
    text: str | None = None,
    prospect: Prospect | None = None,
    variables: dict[str, Any] | None = None,
) -> templating.Rendered:
    context = templating.build_context(
        prospect=prospect,
        defaults=template.defaults if template else None,
        variables=variables,
        extra={"unsubscribeUrl": "#unsubscribe-preview"},
    )
    return templating.render(
        subject=subject if subject is not None else (template.subject if template else ""),
        html=html if html is not None else (template.html if template else None),
        text=text if text is not None else (template.text if template else None),
        context=context,
    )


def variables_used(
    *, template: EmailTemplate | None, subject: str | None, html: str | None, text: str | None
) -> list[str]:
    """The variables a preview reads, from the given parts or else the template's."""
    used: set[str] = set()
    for part in (
        subject or (template.subject if template else ""),
        html or (template.html if template else None),
        text or (template.text if template else None),
    ):
        used |= templating.referenced_variables(part)
    return sorted(used)


def filtered(*, q: str | None = None, category: str | None = None) -> Select:
    """Newest first; `q` is a case-insensitive substring of the name, LIKE wildcards taken literally."""
    stmt = select(EmailTemplate)
    if q:
        stmt = stmt.where(contains_any(q, EmailTemplate.name))
    if category:
        stmt = stmt.where(EmailTemplate.category == category)
    return stmt.order_by(EmailTemplate.created_at.desc(), EmailTemplate.id)


def create(*, db_session: Session, principal: Principal, data: TemplateIn) -> EmailTemplate:
    """Raises templating.TemplateError when the template reads a variable it neither declares nor defaults."""
    check_template(
        subject=data.subject, html=data.html, text=data.text, variables=data.variables, defaults=data.defaults
    )
    template = EmailTemplate(
        organization_id=principal.organization_id,
        team_id=principal.team_id,
        created_by=principal.user_id,
        **data.model_dump(),
    )
    db_session.add(template)
    db_session.flush()
    return template


def update(*, db_session: Session, template: EmailTemplate, data: TemplateUpdate) -> dict[str, Any]:
    """Apply the fields sent; returns them (for the audit trail). The merged template is checked as a
    whole, so an update cannot leave it without a body or reading an undeclared variable."""
    values = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k in _NULLABLE
    }
    merged = {
        c: values.get(c, getattr(template, c)) for c in ("subject", "html", "text", "variables", "defaults")
    }
    if not merged["html"] and not merged["text"]:
        raise ValidationFailed("a template needs an html or a text body", details={"field": "html"})
    check_template(**merged)
    for key, value in values.items():
        setattr(template, key, value)
    db_session.flush()
    return values


def delete(*, db_session: Session, template: EmailTemplate) -> None:
    db_session.delete(template)
