"""Base Pydantic models: camelCase on the wire (the seed's style), snake_case accepted too."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    TypeAdapter,
    model_validator,
)
from pydantic.alias_generators import to_camel

from serving.core.validation import reject_unstorable

# JSON numbers, as in the seed's examples; exact to the cent below about 90 trillion.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class ApiModel(BaseModel):
    """Response models (read from ORM objects)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        from_attributes=True,
    )


class InputModel(ApiModel):
    """Request bodies: unknown fields are refused so typos are reported, not silently ignored.

    Every string in a body (nested dicts included) must be storable by Postgres, and no float may be
    infinite or NaN: checked here once for all bodies (see `core/validation.py`).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return reject_unstorable(value)


class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable, e.g. VALIDATION_ERROR, NOT_FOUND")
    message: str
    details: Any = Field(description="what went wrong where (for validation errors: field, value, errors)")


class ErrorEnvelope(BaseModel):
    """The body of every 4xx and 5xx response."""

    success: Literal[False]
    error: ErrorInfo


# Declared on every API operation, so the OpenAPI document says what a client gets back when it errs
# (instead of FastAPI's default 422 schema, which this API never sends).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorEnvelope, "description": "The request was refused: see error.code and error.details"},
}
# A page (response_class=HTMLResponse) still answers errors in JSON; `model` would document them as HTML.
HTML_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": ERROR_RESPONSES["4XX"]["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}},
}


def _normalize_email(value: str) -> str:
    return value.strip().lower()


def _normalize_phone(value: str) -> str:
    """E.164; numbers without a country code are read as US numbers."""
    try:
        parsed = phonenumbers.parse(value, None if value.strip().startswith("+") else "US")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_url = TypeAdapter(AnyHttpUrl)


def _normalize_url(value: str) -> str:
    return str(_url.validate_python(value))


Email = Annotated[EmailStr, AfterValidator(_normalize_email)]
Phone = Annotated[str, Field(max_length=40), AfterValidator(_normalize_phone)]
Url = Annotated[str, Field(max_length=2048), AfterValidator(_normalize_url)]
Score = Annotated[int, Field(ge=0, le=100)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=20000)]
