"""Plans (seed 6.3) and the limits they set, enforced here whether or not Stripe is configured.

The plan is an attribute of the organization (`organizations.plan`); the billing domain changes it from Stripe's
subscription state, an operator with `revorc set-plan`. A self-hosted install that wants no limits at all sets
`PLAN_LIMITS_ENABLED=false`: the API's and the worker's database sessions carry that setting in `Session.info`
(`serving.core.db.session_factory`), so every path that creates prospects — the API, CSV imports, the BDR agent's
referrals, CRM sync, flows — is checked by the one function below, inside the transaction that inserts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.core.errors import AppError
from serving.organizations.models import Organization, Plan


@dataclass(frozen=True)
class PlanSpec:
    plan: Plan
    name: str
    monthly_price_usd: Decimal | None  # None: custom pricing (Enterprise)
    max_prospects: int | None  # None: unlimited


PLANS: dict[Plan, PlanSpec] = {
    Plan.free: PlanSpec(Plan.free, "Free", Decimal("0"), 100),
    Plan.starter: PlanSpec(Plan.starter, "Starter", Decimal("49"), 1_000),
    Plan.pro: PlanSpec(Plan.pro, "Pro", Decimal("199"), 10_000),
    Plan.enterprise: PlanSpec(Plan.enterprise, "Enterprise", None, None),
}
ORDER = [Plan.free, Plan.starter, Plan.pro, Plan.enterprise]


class PlanLimitReached(AppError):
    """The organization's plan does not allow this many records; details: resource, limit, current, plan,
    upgradeTo (the smallest plan that would allow it) and upgradePath."""

    status_code = 402
    code = "PLAN_LIMIT_REACHED"


def limits_enforced(db_session: Session) -> bool:
    return db_session.info.get("plan_limits", True)


def upgrade_for(count: int) -> PlanSpec:
    return next(PLANS[p] for p in ORDER if PLANS[p].max_prospects is None or PLANS[p].max_prospects >= count)


def check_prospects(db_session: Session, organization_id: uuid.UUID, *, adding: int = 0) -> None:
    """Refuse when the organization would hold more prospects than its plan allows once `adding` more exist.

    Serialized per organization with a transaction-level advisory lock, so two imports at the boundary cannot both
    pass; call it before inserting (`adding` = how many) or after upserting in the same transaction (`adding=0`),
    and the refusal rolls the whole batch back."""
    spec = hold_prospect_limit(db_session, organization_id)
    if spec is None:
        return
    # Bounded count: at most limit + adding + 1 index entries are read, however large the organization grew.
    current = db_session.scalar(text(
        "select count(*) from (select 1 from app.prospects where organization_id = :id limit :cap) held"),
        {"id": organization_id, "cap": spec.max_prospects + adding + 1})
    if current + adding > spec.max_prospects:
        needed = upgrade_for(current + adding)
        raise PlanLimitReached(
            f"the {spec.name} plan allows {spec.max_prospects:,} prospects and this organization "
            f"{'has' if adding == 0 else 'would have'} {current + adding:,}; upgrade to {needed.name} "
            "(POST /api/v1/billing/subscription/upgrade) or remove prospects",
            details={"resource": "prospects", "limit": spec.max_prospects, "current": current, "adding": adding,
                     "plan": spec.plan.value, "upgradeTo": needed.plan.value,
                     "upgradePath": "/api/v1/billing/subscription/upgrade"})


def hold_prospect_limit(db_session: Session, organization_id: uuid.UUID) -> PlanSpec | None:
    """Take the organization's prospect-limit lock for the rest of the transaction (before a batch whose new rows
    are only known after it runs); None when no limit applies."""
    if not limits_enforced(db_session):
        return None
    spec = PLANS[get_plan(db_session, organization_id)]
    if spec.max_prospects is None:
        return None
    db_session.execute(text("select pg_advisory_xact_lock(hashtextextended('plan-limit:' || :id, 0))"),
                       {"id": str(organization_id)})
    return spec


def get_plan(db_session: Session, organization_id: uuid.UUID) -> Plan:
    return Plan(db_session.scalar(text("select plan from app.organizations where id = :id"),
                                  {"id": organization_id}))


def set_plan(db_session: Session, organization_id: uuid.UUID, plan: Plan) -> None:
    organization = db_session.get(Organization, organization_id)
    organization.plan = plan.value


def prospect_count(db_session: Session, organization_id: uuid.UUID) -> int:
    return db_session.scalar(text("select count(*) from app.prospects where organization_id = :id"),
                             {"id": organization_id})
