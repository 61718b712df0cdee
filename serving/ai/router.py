"""/ai: the model layer — configured models and prices, usage and spend, routing per task, the monthly budget.

Readers (`ai:read`) see everything here; only admins change routes and the budget. Keys are never returned.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from serving.ai import llm
from serving.ai.llm import admin
from serving.ai.schemas import BudgetIn, BudgetOut, ModelOut, RoutingIn, RoutingOut, UsageOut
from serving.core.deps import AdminPrincipal, AppSettings, DbSession, require
from serving.core.pagination import Page, Pagination, page_of, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal

router = APIRouter()

Reader = Annotated[Principal, require(Scope.ai_read)]
Writer = Annotated[Principal, require(Scope.ai_write)]  # with AdminPrincipal: an admin's API key needs ai:write too


@router.get("/models", response_model=Page[ModelOut],
            summary="Every model the layer can route to: prices per 1M tokens, tasks, whether its key is set")
def list_models(settings: AppSettings, principal: Reader, pagination: Pagination):
    items, meta = paginate_list([ModelOut.model_validate(m) for m in llm.configured_models(settings)], pagination)
    return page_of(items, meta)


@router.get("/usage", response_model=UsageOut,
            summary="Calls, tokens and cost between two UTC dates (included; default this month), with the budget")
def usage(db: DbSession, settings: AppSettings, principal: Reader,
          date_from: Annotated[date | None, Query(alias="from")] = None,
          date_to: Annotated[date | None, Query(alias="to")] = None,
          group_by: Annotated[Literal["model", "task", "user", "day"], Query(alias="groupBy")] = "model"):
    return admin.usage(db_session=db, organization_id=principal.organization_id, settings=settings,
                       date_from=date_from, date_to=date_to, group_by=group_by)


@router.get("/routing", response_model=RoutingOut, summary="Each task's provider/model chain (fallback order)")
def get_routing(db: DbSession, settings: AppSettings, principal: Reader):
    return {"data": admin.routes(db_session=db, organization_id=principal.organization_id, settings=settings)}


@router.put("/routing", response_model=RoutingOut,
            summary="Set the chains of some tasks (admins); null resets a task to the default chain")
def put_routing(body: RoutingIn, db: DbSession, settings: AppSettings, principal: AdminPrincipal, _scope: Writer):
    changes = {task: [step.model_dump() for step in chain] if chain is not None else None
               for task, chain in body.routes.items()}
    return {"data": admin.set_routes(db_session=db, organization_id=principal.organization_id, changes=changes,
                                     settings=settings)}


@router.get("/budget", response_model=BudgetOut, summary="The monthly AI budget, what is spent and what is left")
def get_budget(db: DbSession, settings: AppSettings, principal: Reader):
    return admin.budget(db_session=db, organization_id=principal.organization_id, settings=settings)


@router.put("/budget", response_model=BudgetOut,
            summary="Set the organization's monthly cap in USD (admins); null falls back to the default")
def put_budget(body: BudgetIn, db: DbSession, settings: AppSettings, principal: AdminPrincipal, _scope: Writer):
    return admin.set_budget(db_session=db, organization_id=principal.organization_id,
                            monthly_cap_usd=body.monthly_cap_usd, settings=settings)
