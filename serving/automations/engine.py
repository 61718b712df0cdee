"""Running a flow: its steps in order under the flow's tenant, each attempt in a savepoint (a failed attempt leaves
no half-written rows), every attempt logged with its rendered input, output, error and duration. A failing step is
retried per its `retry`, then fails the execution; what earlier steps did stays done (as in any integration tool).

Records are created and updated through their domains' services, e-mail through the outreach pipeline
(`queue_email`: suppression list, tracking, delivery job), notifications through the notifications service; HTTP
requests go only to addresses the webhooks' SSRF guard approves, without redirects, with a timeout.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from serving.accounts import service as accounts
from serving.accounts.schemas import AccountCreate, AccountOut, AccountUpdate
from serving.automations import definition as d
from serving.automations.rendering import RenderError, evaluate, render
from serving.core.config import Settings
from serving.core.errors import AppError
from serving.core.principal import Principal
from serving.deals import service as deals
from serving.deals.schemas import DealCreate, DealOut, DealUpdate
from serving.emails.sending import EmailRequest, Recipient, RecipientSuppressed, queue_email
from serving.notifications import service as notifications
from serving.prospects import service as prospects
from serving.prospects.schemas import ProspectCreate, ProspectOut, ProspectUpdate
from serving.webhooks import targets

RESPONSE_CAP = 64 * 1024  # bytes of an HTTP response a step keeps (and reads)
USER_AGENT = "AIRevenueOrc-Flows/1"
NOTIFICATION_TYPE = "flow.notification"
# The longest wait between two attempts of a step: the worker waits inside the execution's transaction.
MAX_WAIT = 60.0
_STEPS = TypeAdapter(list[d.Step])


class StepError(Exception):
    """A step attempt failed; `retryable` False when another attempt cannot do better (a bad mapping)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ExecutionFailed(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def plain(value: Any) -> Any:
    """JSON-safe and storable in `jsonb` (ids, dates and decimals as JSON has them; NUL and lone surrogates, which
    Postgres refuses, dropped), so a log never fails the transaction that records it."""
    return json.loads(_UNSTORABLE.sub("", json.dumps(value, default=str, ensure_ascii=False)))


def _record(row: Any, schema: type) -> dict[str, Any]:
    """A record as templates see it: the API's fields, snake_case (`{{deal.close_date}}`)."""
    return schema.model_validate(row).model_dump(mode="json")


ENTITY = {
    "prospects": (ProspectCreate, ProspectUpdate, ProspectOut, "prospect"),
    "accounts": (AccountCreate, AccountUpdate, AccountOut, "account"),
    "deals": (DealCreate, DealUpdate, DealOut, "deal"),
}


def records_for(db_session: Session, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The records an event payload names (`dealId`, `prospectId`, `accountId`), read now, for the mappings."""
    found: dict[str, dict[str, Any]] = {}
    readers: list[tuple[str, str, Callable[[uuid.UUID], Any], type]] = [
        ("deal", "dealId", lambda i: deals.get(db_session=db_session, deal_id=i), DealOut),
        ("prospect", "prospectId", lambda i: prospects.get(db_session=db_session, prospect_id=i), ProspectOut),
        ("account", "accountId", lambda i: accounts.get(db_session=db_session, account_id=i), AccountOut),
    ]
    for name, key, read, schema in readers:
        try:
            record_id = uuid.UUID(str(payload.get(key)))
        except ValueError:
            continue
        row = read(record_id)
        if row is not None:
            found[name] = _record(row, schema)
    return found


@dataclass
class Runner:
    db_session: Session
    settings: Settings
    actor: Principal | None  # whom records and e-mails are attributed to: the flow's last editor
    organization_id: uuid.UUID
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    log: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    _iteration: list[int] = field(default_factory=list)

    # ---- the walk ----------------------------------------------------------------------------------------------

    def run(self, steps: list[dict[str, Any]]) -> None:
        """Run the stored steps; ExecutionFailed names the step that failed for good."""
        self.context.setdefault("vars", {})
        self.context.setdefault("steps", {})
        self._steps(_STEPS.validate_python(steps), "steps")

    def _steps(self, steps: list[Any], path: str) -> None:
        for index, step in enumerate(steps):
            self._step(step, f"{path}[{index}]")

    def _step(self, step: Any, path: str) -> None:
        if isinstance(step, d.Condition):
            branch = self._attempts(step, path, lambda: self._condition(step))["branch"]
            self._steps(step.then if branch == "then" else step.else_, f"{path}.{branch}")
        elif isinstance(step, d.Loop):
            items = self._attempts(step, path, lambda: self._loop_items(step))["items"]
            for index, item in enumerate(items):
                self.context[step.as_] = item
                self.context["loop"] = {"index": index, "first": index == 0, "last": index == len(items) - 1}
                self._iteration.append(index)
                try:
                    self._steps(step.steps, f"{path}.steps")
                finally:
                    self._iteration.pop()
            self.context.pop(step.as_, None)
            self.context.pop("loop", None)
            self.context["steps"][step.id] = {"count": len(items)}
        else:
            output = self._attempts(step, path, lambda: self._action(step))
            self.context["steps"][step.id] = output

    def _attempts(self, step: Any, path: str, body: Callable[[], tuple[Any, Any]]) -> Any:
        """Run `body` (→ input, output) up to the step's attempts, each in a savepoint and logged."""
        attempts = step.retry.max_attempts
        for attempt in range(1, attempts + 1):
            entry: dict[str, Any] = {"path": path, "stepId": step.id, "type": step.type, "attempt": attempt,
                                     "maxAttempts": attempts, "startedAt": self.now().isoformat()}
            if self._iteration:
                entry["iteration"] = self._iteration[-1]
            started = time.perf_counter()
            retryable = True
            try:
                with self.db_session.begin_nested():
                    step_input, output = body()
            except RenderError as exc:
                entry["error"], retryable = f"mapping failed: {exc}", False
            except StepError as exc:
                entry["error"], retryable = str(exc), exc.retryable
                entry["input"] = plain(getattr(exc, "step_input", None))
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                entry.update(input=plain(step_input), output=plain(output),
                             durationMs=int((time.perf_counter() - started) * 1000))
                self.log.append(entry)
                return entry["output"]
            entry["durationMs"] = int((time.perf_counter() - started) * 1000)
            self.log.append(entry)
            if not retryable or attempt == attempts:
                raise ExecutionFailed(path, entry["error"])
            self.sleep(min(MAX_WAIT, step.retry.backoff_seconds * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")

    # ---- control steps ------------------------------------------------------------------------------------------

    def _condition(self, step: d.Condition) -> tuple[Any, Any]:
        value = evaluate(step.if_, self.context)
        return {"if": step.if_, "value": value}, {"branch": "then" if value else "else"}

    def _loop_items(self, step: d.Loop) -> tuple[Any, Any]:
        items = evaluate(step.over, self.context)
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, list | tuple):
            raise StepError(f"{step.over!r} is a {type(items).__name__}, not a list", retryable=False)
        if len(items) > step.max_items:
            raise StepError(f"{step.over!r} has {len(items)} items, more than maxItems ({step.max_items})",
                            retryable=False)
        return {"over": step.over, "count": len(items)}, {"items": plain(list(items))}

    # ---- actions ------------------------------------------------------------------------------------------------

    def _action(self, step: Any) -> tuple[Any, Any]:
        if isinstance(step, d.Transform):
            values = render(step.set, self.context)
            self.context["vars"].update(values)
            return {"set": values}, values
        handlers = {d.CreateRecord: self._create, d.UpdateRecord: self._update, d.SendEmail: self._email,
                    d.SendNotification: self._notify, d.HttpRequest: self._http}
        step_input = render(step.model_dump(mode="json", by_alias=True, include=d.TEMPLATED), self.context)
        try:
            return step_input, handlers[type(step)](step, step_input)
        except StepError as exc:
            exc.step_input = step_input  # type: ignore[attr-defined]
            raise

    def _principal(self) -> Principal:
        if self.actor is None:
            raise StepError("the flow has no owner any more (its editor was removed): save it again",
                            retryable=False)
        return self.actor

    def _validate(self, schema: type, fields: dict[str, Any]) -> Any:
        try:
            return schema.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'fields'}: {e['msg']}" for e in exc.errors())
            raise StepError(f"invalid fields: {problems}", retryable=False) from exc

    def _create(self, step: d.CreateRecord, given: dict[str, Any]) -> dict[str, Any]:
        create_schema, _, out, _ = ENTITY[step.entity]
        data = self._validate(create_schema, given["fields"])
        principal = self._principal()
        try:
            if step.entity == "prospects":
                row = prospects.create(db_session=self.db_session, principal=principal, data=data)
            elif step.entity == "accounts":
                row = accounts.create(db_session=self.db_session, principal=principal, data=data)
            else:
                row = deals.create(db_session=self.db_session, principal=principal, data=data)
        except AppError as exc:
            raise StepError(f"{exc.code}: {exc.message}", retryable=False) from exc
        return _record(row, out)

    def _update(self, step: d.UpdateRecord, given: dict[str, Any]) -> dict[str, Any]:
        _, update_schema, out, noun = ENTITY[step.entity]
        try:
            record_id = uuid.UUID(str(given["recordId"]))
        except ValueError as exc:
            raise StepError(f"recordId {given['recordId']!r} is not an id", retryable=False) from exc
        data = self._validate(update_schema, given["fields"])
        principal = self._principal()
        db = self.db_session
        try:
            if step.entity == "prospects":
                row = prospects.get(db_session=db, prospect_id=record_id)
                if row is not None:
                    changes = prospects.update(db_session=db, prospect=row, data=data, principal=principal)
            elif step.entity == "accounts":
                row = accounts.get(db_session=db, account_id=record_id)
                if row is not None:
                    changes = accounts.update(db_session=db, account=row, data=data)
            else:
                row = deals.get(db_session=db, deal_id=record_id)
                if row is not None:
                    changes = deals.update(db_session=db, principal=principal, deal=row, data=data)
        except AppError as exc:
            raise StepError(f"{exc.code}: {exc.message}", retryable=False) from exc
        if row is None:
            raise StepError(f"no {noun} {record_id} in this organization", retryable=False)
        return {"record": _record(row, out), "changed": sorted(changes)}

    def _email(self, step: d.SendEmail, given: dict[str, Any]) -> dict[str, Any]:
        principal = self._principal()
        request = EmailRequest(to=[Recipient(email=str(given["to"]))], subject=str(given["subject"]),
                               text=str(given["text"]))
        try:
            email = queue_email(db_session=self.db_session, settings=self.settings,
                                organization_id=self.organization_id, user_id=principal.user_id,
                                team_id=principal.team_id, request=request, now=self.now())
        except RecipientSuppressed as exc:
            raise StepError(f"the recipient is suppressed: {exc.reasons}", retryable=False) from exc
        return {"emailId": str(email.id), "status": email.status}

    def _notify(self, step: d.SendNotification, given: dict[str, Any]) -> dict[str, Any]:
        try:
            user_id = uuid.UUID(str(given["userId"]))
        except ValueError as exc:
            raise StepError(f"userId {given['userId']!r} is not an id", retryable=False) from exc
        try:
            notification = notifications.notify_user(
                db_session=self.db_session, organization_id=self.organization_id, user_id=user_id,
                type=NOTIFICATION_TYPE, title=str(given["title"]),
                body=None if given.get("body") is None else str(given["body"]), priority=step.priority,
                data={"flowStep": step.id}, now=self.now())
        except ValueError as exc:
            raise StepError(str(exc), retryable=False) from exc
        return {"notificationId": str(notification.id), "userId": str(user_id)}

    def _http(self, step: d.HttpRequest, given: dict[str, Any]) -> dict[str, Any]:
        try:
            target = targets.check(str(given["url"]), allow_private=self.settings.flows_allow_private_targets)
        except targets.UnsafeTarget as exc:
            raise StepError(f"refused: {exc}", retryable=False) from exc
        headers = {str(k): str(v) for k, v in (given.get("headers") or {}).items()}
        return request(target, method=step.method, headers=headers, body=given.get("body"),
                       timeout=step.timeout_seconds)


def request(target: targets.Target, *, method: str, headers: dict[str, str], body: Any,
            timeout: float) -> dict[str, Any]:
    """One request to the checked address itself (no second lookup: DNS rebinding), the URL's host in `Host` and
    TLS; no redirects (a 3xx is a failure); the response read up to RESPONSE_CAP. A non-2xx is a StepError."""
    url = httpx.URL(target.url)
    pinned = url.copy_with(host=str(target.address))
    host_header = target.host if url.port is None else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    sent = {"user-agent": USER_AGENT, **{k.lower(): v for k, v in headers.items()}, "host": host_header}
    content = None
    if body is not None and method != "GET":
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        sent.setdefault("content-type", "application/json")
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
            built = client.build_request(method, pinned, content=content, headers=sent, extensions=extensions)
            response = client.send(built, stream=True)
            raw = targets.read_capped(response, RESPONSE_CAP)
    except httpx.HTTPError as exc:
        raise StepError(f"{type(exc).__name__}: {exc}"[:1000]) from exc
    try:
        parsed: Any = json.loads(raw) if "json" in response.headers.get("content-type", "") else raw
    except ValueError:
        parsed = raw
    result = {"status": response.status_code, "headers": dict(response.headers), "body": parsed,
              "latencyMs": int((time.perf_counter() - started) * 1000)}
    if not 200 <= response.status_code < 300:
        raise StepError(f"HTTP {response.status_code} from {target.host}: {raw[:300]}",
                        retryable=response.status_code >= 500 or response.status_code == 429)
    return result
