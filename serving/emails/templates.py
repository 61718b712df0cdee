"""Email templates: the stored templates, the check of their variables, and previews."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from serving.emails import templating
from serving.emails.models import EmailTemplate
from serving.prospects.models import Prospect


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
