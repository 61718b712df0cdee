"""Mustache templates for email: HTML-escaped in HTML bodies, verbatim in subjects and text bodies.

Variables come from the prospect (firstName, company, …), the sender, the template's own defaults
and the send request, in that order of precedence (the request wins). A variable with no value
falls back to the template default, then to a built-in default ("there" for firstName), so a
greeting never renders as "Hi ,". Unknown variables are found at save time from the token stream.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chevron.tokenizer import ChevronError, tokenize

PROSPECT_VARIABLES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "company": "company",
    "title": "title",
    "phone": "phone",
    "city": "city",
    "country": "country",
    "department": "department",
    "seniority": "seniority",
    "linkedinUrl": "linkedin_url",
}
SYSTEM_VARIABLES = {"fullName", "senderName", "senderEmail", "unsubscribeUrl", "today"}
KNOWN_VARIABLES = frozenset(PROSPECT_VARIABLES) | SYSTEM_VARIABLES
BUILTIN_DEFAULTS = {"firstName": "there", "company": "your company", "fullName": "there"}


class TemplateError(ValueError):
    def __init__(self, message: str, *, field: str | None = None, unknown: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.unknown = unknown or []


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None


@lru_cache(maxsize=1024)
def _tokens(template: str, field: str) -> tuple[tuple[str, str], ...]:
    try:
        tokens = tuple(tokenize(template))
    except ChevronError as exc:
        raise TemplateError(f"{field}: {exc}", field=field) from None
    for tag, _key in tokens:
        if tag == "partial":
            raise TemplateError(f"{field}: partials ({{{{> name}}}}) are not supported", field=field)
        if tag == "set delimiter":
            raise TemplateError(f"{field}: changing delimiters is not supported", field=field)
    return tokens


def referenced_variables(template: str | None, field: str = "template") -> set[str]:
    """Top-level names a template reads (`{{a.b}}` reads `a`; `{{.}}` inside a section reads nothing)."""
    if not template:
        return set()
    names = set()
    depth = 0
    for tag, key in _tokens(template, field):
        if tag in ("variable", "no escape", "section", "inverted section"):
            if key != "." and depth == 0:
                names.add(key.split(".")[0])
            if tag in ("section", "inverted section"):
                depth += 1
        elif tag == "end":
            depth = max(0, depth - 1)
    return names


def check_template(*, subject: str, html: str | None, text: str | None, declared: set[str]) -> set[str]:
    """Raise TemplateError on syntax errors or unknown variables; returns the variables used."""
    used: set[str] = set()
    for field, body in (("subject", subject), ("html", html), ("text", text)):
        used |= referenced_variables(body, field)
    unknown = sorted(used - KNOWN_VARIABLES - declared)
    if unknown:
        raise TemplateError(
            f"unknown template variables: {', '.join(unknown)}; declare them in `variables` or `defaults`",
            field="variables",
            unknown=unknown,
        )
    return used


def _lookup(key: str, scopes: list[Any]) -> Any:
    if key == ".":
        return scopes[0]
    for scope in scopes:
        value: Any = scope
        found = True
        for part in key.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                found = False
                break
        if found:
            return value
    return None


def _render_tokens(
    tokens: tuple[tuple[str, str], ...] | list[tuple[str, str]], scopes: list[Any], escape: bool
) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tag, key = tokens[i]
        if tag == "literal":
            out.append(key)
        elif tag in ("variable", "no escape"):
            value = _lookup(key, scopes)
            rendered = "" if value is None else str(value)
            out.append(html_lib.escape(rendered, quote=True) if escape and tag == "variable" else rendered)
        elif tag in ("section", "inverted section"):
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                if tokens[j][0] in ("section", "inverted section"):
                    depth += 1
                elif tokens[j][0] == "end":
                    depth -= 1
                j += 1
            inner = tokens[i + 1 : j - 1]
            value = _lookup(key, scopes)
            if tag == "inverted section":
                if not value:
                    out.append(_render_tokens(inner, scopes, escape))
            elif isinstance(value, list | tuple):
                for item in value:
                    out.append(_render_tokens(inner, [item, *scopes], escape))
            elif value:
                out.append(
                    _render_tokens(inner, [value, *scopes] if isinstance(value, Mapping) else scopes, escape)
                )
            i = j
            continue
        i += 1
    return "".join(out)


def render_string(template: str | None, data: Mapping[str, Any], *, escape: bool) -> str | None:
    if template is None:
        return None
    return _render_tokens(_tokens(template, "template"), [data], escape)


def build_context(
    *,
    prospect: Any = None,
    sender: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the sources; empty values do not override defaults."""
    data: dict[str, Any] = dict(BUILTIN_DEFAULTS)

    def merge(values: Mapping[str, Any] | None) -> None:
        for key, value in (values or {}).items():
            if value is not None and value != "":
                data[key] = value

    merge(defaults)
    if prospect is not None:
        merge({name: getattr(prospect, attr, None) for name, attr in PROSPECT_VARIABLES.items()})
        full = " ".join(
            p for p in (getattr(prospect, "first_name", None), getattr(prospect, "last_name", None)) if p
        )
        merge({"fullName": full})
    merge(sender)
    merge(extra)
    merge(variables)
    return data


def render(*, subject: str, html: str | None, text: str | None, context: Mapping[str, Any]) -> Rendered:
    return Rendered(
        subject=(render_string(subject, context, escape=False) or "")
        .replace("\r", " ")
        .replace("\n", " ")
        .strip(),
        html=render_string(html, context, escape=True),
        text=render_string(text, context, escape=False),
    )
