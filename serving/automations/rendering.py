"""Mappings of a flow (`{{deal.name}}`) rendered with Jinja2's sandbox: no attribute access to Python internals, a
missing variable is an error (StrictUndefined) rather than an empty string. A string that is one `{{ … }}` and
nothing else keeps the value's type (a number stays a number, a list a list); anything else renders to text."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_REPEAT = 100_000  # the longest string or list `*` may build
MAX_POWER = 1_000


class _Sandbox(SandboxedEnvironment):
    """The sandbox, plus a cap on `*` and `**`: `{{ 'x' * 10**10 }}` would otherwise fill the worker's memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_POWER:
            raise SecurityError(f"exponent {right} is larger than {MAX_POWER}")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(times, int)
                        and len(sequence) * times > MAX_REPEAT):
                    raise SecurityError(f"the result would be longer than {MAX_REPEAT}")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_WHOLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)+)\}\}\s*$", re.DOTALL)


class RenderError(ValueError):
    """A mapping could not be rendered; the message names the variable or the problem."""


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def template_error(source: str) -> str | None:
    """Why `source` does not parse as a template, or None."""
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        return f"template does not parse: {exc}"
    return None


def expression_error(source: str) -> str | None:
    try:
        _ENV.compile_expression(source)
    except TemplateError as exc:
        return f"expression does not parse: {exc}"
    return None


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    try:
        value = _ENV.compile_expression(expression, undefined_to_none=False)(**context)
        if isinstance(value, StrictUndefined):
            str(value)  # raises the UndefinedError naming the missing variable
        return value
    except Exception as exc:
        raise RenderError(f"{expression!r}: {_describe(exc)}") from exc


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string in `value` (dicts and lists walked; keys left as they are)."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole:
            return evaluate(whole.group("expr").strip(), context)
        try:
            return _ENV.from_string(value).render(**context)
        except Exception as exc:
            raise RenderError(f"{value!r}: {_describe(exc)}") from exc
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value
