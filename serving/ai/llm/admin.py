"""What the /ai API reads and changes about the model layer: usage and spend, routes, budgets."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Date, cast, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.ai.llm import routing, service
from serving.ai.llm.models import AiBudget, AiGeneration, AiRoute
from serving.ai.llm.types import TASKS
from serving.core.config import Settings
from serving.core.errors import ValidationFailed

MAX_USAGE_DAYS = 366
GROUPS = ("model", "task", "user", "day")


def budget(*, db_session: Session, organization_id: uuid.UUID, settings: Settings) -> dict:
    own = db_session.scalar(select(AiBudget.monthly_cap_usd).where(AiBudget.organization_id == organization_id))
    cap = own if own is not None else settings.ai_monthly_budget_usd
    start, end = service.month_window()
    spent = service.spent_between(db_session=db_session, organization_id=organization_id, start=start, end=end)
    return {"monthly_cap_usd": cap,
            "source": "organization" if own is not None else ("settings" if cap is not None else "none"),
            "spent_usd": spent, "remaining_usd": max(cap - spent, Decimal(0)) if cap is not None else None,
            "period": start.strftime("%Y-%m"), "resets_at": end}


def set_budget(*, db_session: Session, organization_id: uuid.UUID, monthly_cap_usd: Decimal | None,
               settings: Settings) -> dict:
    """A cap for the organization, or None to fall back to AI_MONTHLY_BUDGET_USD."""
    if monthly_cap_usd is None:
        db_session.execute(delete(AiBudget).where(AiBudget.organization_id == organization_id))
    else:
        db_session.execute(insert(AiBudget).values(id=uuid.uuid4(), organization_id=organization_id,
                                                   monthly_cap_usd=monthly_cap_usd)
                           .on_conflict_do_update(index_elements=[AiBudget.organization_id],
                                                  set_={"monthly_cap_usd": monthly_cap_usd,
                                                        "updated_at": func.now()}))
    return budget(db_session=db_session, organization_id=organization_id, settings=settings)


def routes(*, db_session: Session, organization_id: uuid.UUID, settings: Settings) -> list[dict]:
    """Every task's chain as stored (or the default), with the steps that would run now (keys configured)."""
    stored = routing.stored_routes(db_session, organization_id)
    available = set(routing.configured_providers(settings))
    result = []
    for task in TASKS:
        chain = stored.get(task) or routing.default_chain(settings, task)
        result.append({"task": task, "source": "organization" if task in stored else "default",
                       "chain": [step | {"available": step["provider"] in available} for step in chain]})
    return result


def set_routes(*, db_session: Session, organization_id: uuid.UUID, changes: dict[str, list[dict] | None],
               settings: Settings) -> list[dict]:
    """Replace the given tasks' chains (None: back to the default). All validated before anything is written."""
    valid = {task: routing.validate_chain(task, chain) if chain is not None else None
             for task, chain in changes.items()}
    for task, chain in valid.items():
        if chain is None:
            db_session.execute(delete(AiRoute).where(AiRoute.organization_id == organization_id,
                                                     AiRoute.task == task))
            continue
        db_session.execute(insert(AiRoute).values(id=uuid.uuid4(), organization_id=organization_id, task=task,
                                                  chain=chain)
                           .on_conflict_do_update(index_elements=[AiRoute.organization_id, AiRoute.task],
                                                  set_={"chain": chain, "updated_at": func.now()}))
    return routes(db_session=db_session, organization_id=organization_id, settings=settings)


def usage(*, db_session: Session, organization_id: uuid.UUID, settings: Settings, date_from: date | None,
          date_to: date | None, group_by: str) -> dict:
    """Calls, tokens and cost between two UTC dates (both included; default: this month so far), grouped."""
    month_start, _ = service.month_window()
    date_from = date_from or month_start.date()
    date_to = date_to or datetime.now(UTC).date()
    if date_to < date_from:
        raise ValidationFailed("'to' is before 'from'", details={"from": str(date_from), "to": str(date_to)})
    if (date_to - date_from).days >= MAX_USAGE_DAYS:
        raise ValidationFailed(f"at most {MAX_USAGE_DAYS} days at a time",
                               details={"from": str(date_from), "to": str(date_to)})
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    key = {"model": AiGeneration.model, "task": AiGeneration.task, "user": AiGeneration.user_id,
           "day": cast(func.timezone("UTC", AiGeneration.created_at), Date)}[group_by]
    rows = db_session.execute(
        select(key.label("key"), func.count().label("calls"),
               func.count().filter(AiGeneration.status == "error").label("errors"),
               func.count().filter(AiGeneration.status == "refused").label("refused"),
               func.coalesce(func.sum(AiGeneration.input_tokens), 0).label("input_tokens"),
               func.coalesce(func.sum(AiGeneration.output_tokens), 0).label("output_tokens"),
               func.coalesce(func.sum(AiGeneration.cost_usd), 0).label("cost_usd"))
        .where(AiGeneration.organization_id == organization_id, AiGeneration.created_at >= start,
               AiGeneration.created_at < end)
        .group_by(key).order_by(key)).all()
    groups = [{"key": str(row.key) if row.key is not None else None, "calls": row.calls, "errors": row.errors,
               "refused": row.refused, "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
               "cost_usd": Decimal(row.cost_usd)} for row in rows]
    totals = {name: sum((g[name] for g in groups), Decimal(0) if name == "cost_usd" else 0)
              for name in ("calls", "errors", "refused", "input_tokens", "output_tokens", "cost_usd")}
    return {"from": date_from, "to": date_to, "group_by": group_by, "groups": groups, "totals": totals,
            "budget": budget(db_session=db_session, organization_id=organization_id, settings=settings)}
