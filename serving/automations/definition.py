"""What a flow is: its trigger and steps as pydantic models (discriminated on `type`), the checks pydantic cannot
make (unique step ids, template syntax — each reported with the bad step's path), and the versioned YAML document
(`apiVersion: revorc.dev/flows/v1`) that lets a flow live in git.

Mappings are Jinja2 templates (`{{deal.name}}`), rendered in a sandbox by `serving.automations.rendering`; a
condition's `if` and a loop's `over` are bare expressions (`deal.amount > 1000`, `trigger.items`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import Field, ValidationError, field_validator

from serving.automations import rendering
from serving.core.schemas import InputModel

API_VERSION = "revorc.dev/flows/v1"
KIND = "Flow"
MAX_STEPS = 100  # in the whole tree (branches and loop bodies included)
MAX_YAML_BYTES = 256 * 1024

# The domain events a record_change flow can start on: the records flows can also create and update.
RECORD_EVENTS = ("prospect.created", "prospect.updated", "prospect.qualified", "deal.created",
                 "deal.stage_changed", "deal.won", "deal.lost")
ENTITIES = ("prospects", "accounts", "deals")
StepId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                              description="unique in the flow; its output is `steps.<id>` for later steps")]
Scalar = (Annotated[str, Field(max_length=500)] | Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
          | Annotated[float, Field(ge=-1e15, le=1e15)] | bool | None)


class Retry(InputModel):
    max_attempts: int = Field(default=1, ge=1, le=5, description="attempts of a failing step, the first included")
    backoff_seconds: float = Field(default=0, ge=0, le=60,
                                   description="wait before the 2nd attempt, doubled for each further one")


# ---- triggers -------------------------------------------------------------------------------------------------

class WebhookTrigger(InputModel):
    type: Literal["webhook"]


class ScheduleTrigger(InputModel):
    type: Literal["schedule"]
    cron: str = Field(min_length=9, max_length=100, description="five-field cron, e.g. `0 9 * * 1-5`")
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone the cron is read in")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("not a five-field cron expression (minute hour day month weekday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ManualTrigger(InputModel):
    type: Literal["manual"]


class RecordChangeTrigger(InputModel):
    type: Literal["record_change"]
    event: Literal[RECORD_EVENTS] = Field(description="the domain event that starts the flow")  # type: ignore[valid-type]
    filter: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, max_length=20,
        description="payload field (camelCase, as in docs/events.md) → value, or a list of accepted values")


Trigger = Annotated[WebhookTrigger | ScheduleTrigger | ManualTrigger | RecordChangeTrigger,
                    Field(discriminator="type")]


# ---- steps ----------------------------------------------------------------------------------------------------

class StepBase(InputModel):
    id: StepId
    name: str | None = Field(default=None, max_length=200)
    retry: Retry = Field(default_factory=Retry)


class CreateRecord(StepBase):
    type: Literal["create_record"]
    entity: Literal[ENTITIES]  # type: ignore[valid-type]
    fields: dict[str, Any] = Field(min_length=1, max_length=100, description="the record's API fields (camelCase)")


class UpdateRecord(StepBase):
    type: Literal["update_record"]
    entity: Literal[ENTITIES]  # type: ignore[valid-type]
    record_id: str = Field(min_length=1, max_length=500, description="template of the record's id")
    fields: dict[str, Any] = Field(min_length=1, max_length=100)


class SendEmail(StepBase):
    type: Literal["send_email"]
    to: str = Field(min_length=1, max_length=500)
    subject: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1, max_length=100_000)


class SendNotification(StepBase):
    type: Literal["send_notification"]
    user_id: str = Field(min_length=1, max_length=500, description="template of the recipient user's id")
    title: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=5000)
    priority: Literal["low", "medium", "high", "urgent"] = "medium"


class HttpRequest(StepBase):
    type: Literal["http_request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1, max_length=2000, description="http(s); public addresses only (SSRF guard)")
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: Any = Field(default=None, description="sent as JSON (strings in it are templates)")
    timeout_seconds: float = Field(default=10, gt=0, le=30)


class Transform(StepBase):
    type: Literal["transform"]
    set: dict[str, Any] = Field(min_length=1, max_length=100, description="variables (`vars.<name>`) to set")


class Condition(StepBase):
    type: Literal["condition"]
    if_: str = Field(alias="if", min_length=1, max_length=2000, description="a Jinja expression")
    then: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)
    else_: list[Step] = Field(alias="else", default_factory=list, max_length=MAX_STEPS)


class Loop(StepBase):
    type: Literal["loop"]
    over: str = Field(min_length=1, max_length=2000, description="a Jinja expression giving a list")
    as_: StepId = Field(alias="as", default="item", description="the current element's name in the body")
    max_items: int = Field(default=100, ge=1, le=1000, description="a longer list fails the step")
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


Step = Annotated[CreateRecord | UpdateRecord | SendEmail | SendNotification | HttpRequest | Transform | Condition
                 | Loop, Field(discriminator="type")]
Condition.model_rebuild()
Loop.model_rebuild()


class FlowSpec(InputModel):
    """A flow as the API takes it (the YAML's `metadata` and `spec` in one object)."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool = False
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


# ---- checks beyond the schema ---------------------------------------------------------------------------------

def walk(steps: list[Any], path: str = "steps") -> Iterator[tuple[str, Any]]:
    """Every step of the tree with its path (`steps[1].then[0]`), parents first."""
    for index, step in enumerate(steps):
        here = f"{path}[{index}]"
        yield here, step
        if isinstance(step, Condition):
            yield from walk(step.then, f"{here}.then")
            yield from walk(step.else_, f"{here}.else")
        elif isinstance(step, Loop):
            yield from walk(step.steps, f"{here}.steps")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


TEMPLATED = {"fields", "record_id", "to", "subject", "text", "user_id", "title", "body", "url", "headers", "set"}
EXPRESSIONS = {"if_": "if", "over": "over"}


def templates(step: Any, path: str) -> Iterator[tuple[str, str]]:
    """A step's template strings with their paths (camelCase field names, as written)."""
    for field in TEMPLATED:
        if field in type(step).model_fields:
            alias = type(step).model_fields[field].alias or field
            yield from _strings(getattr(step, field), f"{path}.{alias}")


def problems(spec: FlowSpec) -> list[dict[str, str]]:
    """What is wrong beyond the schema: duplicate step ids, too many steps, templates or expressions that do not
    parse. Each is `{field, message}` with the bad step's path."""
    found: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    steps = list(walk(spec.steps))
    if len(steps) > MAX_STEPS:
        found.append({"field": "steps", "message": f"a flow has at most {MAX_STEPS} steps ({len(steps)} here)"})
    for path, step in steps:
        if step.id in seen:
            found.append({"field": f"{path}.id",
                          "message": f"step id {step.id!r} is already used by {seen[step.id]}"})
        seen.setdefault(step.id, path)
        for where, source in templates(step, path):
            error = rendering.template_error(source)
            if error:
                found.append({"field": where, "message": error})
        for field, alias in EXPRESSIONS.items():
            if field in type(step).model_fields:
                error = rendering.expression_error(getattr(step, field))
                if error:
                    found.append({"field": f"{path}.{alias}", "message": error})
    return found


def stored(spec: FlowSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The trigger and steps as stored and exported (camelCase, defaults included so a run never depends on the
    defaults of a later release)."""
    dumped = spec.model_dump(mode="json", by_alias=True, include={"trigger", "steps"})
    return dumped["trigger"], dumped["steps"]


# ---- YAML -----------------------------------------------------------------------------------------------------

class InvalidDocument(ValueError):
    """The YAML is not a flow document; `errors` are `{field, message}` (field paths as in the API)."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


def to_yaml(*, name: str, description: str | None, enabled: bool, version: int, trigger: dict[str, Any],
            steps: list[dict[str, Any]]) -> str:
    metadata: dict[str, Any] = {"name": name}
    if description:
        metadata["description"] = description
    metadata["version"] = version
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata,
                "spec": {"enabled": enabled, "trigger": trigger, "steps": steps}}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _pydantic_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [*prefix, *err.get("loc", ())]
        path = ""
        for part in loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        errors.append({"field": path, "message": err.get("msg", "invalid"), "type": err.get("type")})
    return errors


def from_yaml(source: str) -> FlowSpec:
    """The flow a YAML document describes; InvalidDocument (with paths) when it is not one. `metadata.version`
    is informational: the server numbers versions."""
    if len(source.encode()) > MAX_YAML_BYTES:
        raise InvalidDocument(f"a flow document is at most {MAX_YAML_BYTES // 1024} KiB", [])
    try:
        if any(isinstance(token, yaml.AliasToken) for token in yaml.scan(source)):
            # aliases can multiply a small document into a huge one (the "billion laughs")
            raise InvalidDocument("YAML anchors and aliases are not allowed in a flow document", [])
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InvalidDocument(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}", []) from exc
    if not isinstance(document, dict):
        raise InvalidDocument("a flow document is a mapping with apiVersion, kind, metadata and spec", [])
    if document.get("apiVersion") != API_VERSION:
        raise InvalidDocument(f"apiVersion must be {API_VERSION}",
                              [{"field": "apiVersion", "message": f"expected {API_VERSION}"}])
    if document.get("kind") != KIND:
        raise InvalidDocument(f"kind must be {KIND}", [{"field": "kind", "message": f"expected {KIND}"}])
    unknown = set(document) - {"apiVersion", "kind", "metadata", "spec"}
    if unknown:
        raise InvalidDocument(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}",
                              [{"field": str(k), "message": "not allowed"} for k in sorted(map(str, unknown))])
    metadata, spec = document.get("metadata"), document.get("spec")
    if not isinstance(metadata, dict) or not isinstance(spec, dict):
        raise InvalidDocument("metadata and spec must be mappings", [])
    metadata = {k: v for k, v in metadata.items() if k != "version"}
    extra = set(metadata) - {"name", "description"}
    if extra:
        raise InvalidDocument("metadata has name, description and version only",
                              [{"field": f"metadata.{k}", "message": "not allowed"} for k in sorted(map(str, extra))])
    if {"name", "description"} & set(spec):
        raise InvalidDocument("name and description belong in metadata", [])
    try:
        return FlowSpec.model_validate({**metadata, **spec})
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
        for error in errors:  # the document's own paths: metadata.name, spec.steps[0]…
            head = error["field"].split(".", 1)[0].split("[", 1)[0]
            error["field"] = f"{'metadata' if head in ('name', 'description') else 'spec'}.{error['field']}"
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        raise InvalidDocument(f"{first['field']}: {first['message']}", errors) from exc
