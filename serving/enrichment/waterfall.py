"""Per-field enrichment waterfall (issue 17 §4, step 3) — the pure part.

Providers answer in a common shape ({field: value}); this module decides, field by field, which
provider's value is kept. Providers are tried in priority order (overridable per field); a field stops
at the first value that validates and meets the confidence floor, so a higher-priority provider with an
invalid value (a phone that is not a number) falls through to the next one instead of winning.
No I/O here: MX lookups are injected (`mx_check`: True, False, or None for unknown) so the caller chooses
the resolver.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email

FIELDS = (
    "email", "phone", "title", "seniority", "company_name", "company_domain", "industry",
    "employee_count", "revenue", "technologies", "linkedin_url", "twitter_url", "location",
)


@dataclass(frozen=True)
class ProviderAnswer:
    provider: str
    fields: Mapping[str, object]
    confidence: float = 1.0


def normalise_email(value: object, *, mx_check: Callable[[str], bool | None] | None) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        # check_deliverability=False: the MX check goes through the injected resolver instead.
        email = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    # only a definite "no mail here" rejects; None (DNS did not answer) keeps the e-mail
    if mx_check is not None and mx_check(email.rsplit("@", 1)[1]) is False:
        return None
    return email


def normalise_phone(value: object, *, region: str = "US") -> str | None:
    if not isinstance(value, str):
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean(field: str, value: object, mx_check: Callable[[str], bool | None] | None) -> object | None:
    if value is None or value == "" or value == []:
        return None
    if field == "email":
        return normalise_email(value, mx_check=mx_check)
    if field == "phone":
        return normalise_phone(value)
    if field == "company_domain":
        return str(value).strip().lower().removeprefix("www.") or None
    return value


def merge(
    answers: Sequence[ProviderAnswer],
    *,
    priority: Sequence[str],
    now: datetime,
    field_priority: Mapping[str, Sequence[str]] | None = None,
    min_confidence: float = 0.5,
    mx_check: Callable[[str], bool | None] | None = None,
) -> dict[str, dict[str, object]]:
    """Return `{field: {value, source, confidence, fetched_at}}` — the shape of `enrichment_data`."""
    by_provider = {a.provider: a for a in answers}
    result: dict[str, dict[str, object]] = {}
    for field in FIELDS:
        order = (field_priority or {}).get(field, priority)
        for provider in order:
            answer = by_provider.get(provider)
            if answer is None or answer.confidence < min_confidence:
                continue
            value = _clean(field, answer.fields.get(field), mx_check)
            if value is None:
                continue
            result[field] = {"value": value, "source": provider, "confidence": answer.confidence,
                             "fetched_at": now.isoformat()}
            break
    email, domain = result.get("email"), result.get("company_domain")
    if email and domain:
        # A company domain that is not the e-mail's domain is kept but flagged, not silently trusted.
        email_domain = str(email["value"]).rsplit("@", 1)[1].lower()
        if email_domain != domain["value"] and not email_domain.endswith("." + str(domain["value"])):
            domain["domain_mismatch"] = True
    return result
