"""Demo organization with realistic CRM records, deterministic for a given seed."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.accounts.models import Account
from serving.activities.models import Activity, ActivityType, CallDisposition, CallLog
from serving.bdr.models import BdrAgentConfig, BdrMessageVariant
from serving.bdr.schemas import AgentSettings
from serving.core.permissions import Role
from serving.deals.models import CLOSED_STAGES, Deal, DealContact, DealStage
from serving.deals.rules import forecast_category_for, probability_for_stage
from serving.organizations.models import Organization, Plan
from serving.organizations.service import create_organization, create_user
from serving.prospects.models import Prospect, ProspectStatus, RelationshipStage

DEMO_SLUG = "acme-demo"
DEMO_USERS = {
    Role.admin: ("admin@demo.revorc.dev", "demo-admin-pass", "Avery Admin"),
    Role.user: ("rep@demo.revorc.dev", "demo-rep-pass", "Riley Rep"),
    Role.viewer: ("viewer@demo.revorc.dev", "demo-viewer-pass", "Val Viewer"),
}
INDUSTRIES = ["software", "fintech", "healthcare", "manufacturing", "retail", "logistics", "education", "media"]
TITLES = [
    ("VP of Sales", "sales", "vp"), ("Head of Revenue Operations", "operations", "director"),
    ("Chief Technology Officer", "engineering", "c_level"), ("Sales Development Manager", "sales", "manager"),
    ("Director of Marketing", "marketing", "director"), ("Account Executive", "sales", "individual"),
    ("CFO", "finance", "c_level"), ("IT Manager", "engineering", "manager"),
    ("Growth Marketing Lead", "marketing", "manager"), ("Procurement Specialist", "operations", "individual"),
]
ENGAGED_STATUSES = {ProspectStatus.engaged, ProspectStatus.qualified, ProspectStatus.converted}
TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London",
             "Europe/Berlin", "Asia/Singapore", "Australia/Sydney"]


@dataclass
class DemoSummary:
    organization_id: uuid.UUID
    created: bool
    counts: dict[str, int]


def demo_exists(db_session: Session) -> Organization | None:
    return db_session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))


def seed_demo(db_session: Session, *, seed: int = 42, prospects: int = 500, today: date | None = None) -> DemoSummary:
    """Create the demo tenant once; a second call leaves existing data alone."""
    existing = demo_exists(db_session)
    if existing is not None:
        return DemoSummary(existing.id, False, {})
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    today = today or datetime.now(UTC).date()
    email, password, name = DEMO_USERS[Role.admin]
    org, team, admin = create_organization(db_session=db_session, name="Acme Demo", admin_email=email,
                                           admin_password=password, admin_name=name)
    org.slug = DEMO_SLUG
    # room to add prospects from the dashboards under the plan limits (docs/billing.md)
    org.plan = Plan.pro.value if prospects <= 9_000 else Plan.enterprise.value
    users = [admin]
    for role in (Role.user, Role.viewer):
        email, password, name = DEMO_USERS[role]
        users.append(create_user(db_session=db_session, organization_id=org.id, email=email, password=password,
                                 role=role, full_name=name, team_id=team.id))
    reps = users[:2]

    accounts = []
    for i in range(max(10, prospects // 12)):
        company = fake.unique.company()
        domain = fake.unique.domain_name()
        accounts.append(Account(
            id=uuid.uuid4(), organization_id=org.id, team_id=team.id, owner_id=rng.choice(reps).id,
            name=company, domain=domain, industry=rng.choice(INDUSTRIES),
            employee_count=rng.choice([25, 60, 150, 400, 900, 2500, 8000]),
            annual_revenue=Decimal(rng.choice([2, 8, 25, 60, 150, 600])) * 1_000_000,
            website=f"https://www.{domain}", country="United States", city=fake.city(),
            parent_account_id=accounts[rng.randrange(len(accounts))].id if accounts and i % 9 == 0 else None,
        ))
    db_session.add_all(accounts)
    db_session.flush()

    people = []
    now = datetime.now(UTC)
    for _ in range(prospects):
        account = rng.choice(accounts)
        first, last = fake.first_name(), fake.last_name()
        title, department, seniority = rng.choice(TITLES)
        people.append(Prospect(
            id=uuid.uuid4(), organization_id=org.id, team_id=team.id, account_id=account.id,
            owner_id=rng.choice(reps).id,
            email=f"{first}.{last}.{fake.unique.random_int(1, 10**6)}@{account.domain}".lower(),
            first_name=first, last_name=last, title=title, department=department, seniority=seniority,
            company=account.name, city=account.city, country="United States", timezone=rng.choice(TIMEZONES),
            phone=f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}",
            linkedin_url=f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{rng.randint(100, 999)}",
            status=rng.choices(list(ProspectStatus), weights=[30, 25, 15, 8, 6, 8, 5, 3])[0],
            relationship_stage=rng.choice(list(RelationshipStage)[:5]), source=rng.choice(
                ["website", "event", "referral", "outbound", "webinar"]),
            # a pipeline built up over the last year, a few leads from this month
            created_at=now - timedelta(days=rng.randint(0, 30) if rng.random() < 0.1 else rng.randint(31, 400),
                                       hours=rng.randint(0, 23)),
        ))
    db_session.add_all(people)
    db_session.flush()

    deals = []
    for account in accounts:
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            stage = rng.choices(list(DealStage), weights=[20, 18, 14, 10, 22, 16])[0]
            probability = probability_for_stage(stage)
            created = today - timedelta(days=rng.randint(10, 300))
            close = created + timedelta(days=rng.randint(20, 150))
            deals.append(Deal(
                id=uuid.uuid4(), organization_id=org.id, team_id=team.id, account_id=account.id,
                owner_id=rng.choice(reps).id,
                name=f"{account.name} – {rng.choice(['Platform', 'Expansion', 'Pilot', 'Renewal'])}",
                amount=Decimal(rng.choice([5, 12, 25, 40, 75, 120, 250])) * 1000, stage=stage,
                probability=probability, forecast_category=forecast_category_for(probability, stage),
                close_date=close,
                closed_at=datetime.combine(close, datetime.min.time(), UTC) if stage in CLOSED_STAGES else None,
                created_at=datetime.combine(created, datetime.min.time(), UTC) + timedelta(hours=rng.randint(8, 18)),
            ))
    db_session.add_all(deals)
    db_session.flush()
    for deal in deals:
        contacts = [p for p in people if p.account_id == deal.account_id][:2]
        for n, prospect in enumerate(contacts):
            db_session.add(DealContact(organization_id=org.id, deal_id=deal.id, prospect_id=prospect.id,
                                       role="champion" if n == 0 else "decision_maker", is_primary=n == 0))

    activity_count = call_count = 0
    account_size = {a.id: a.employee_count for a in accounts}
    for prospect in people:
        # Engaged prospects book meetings far more often: the history lead scoring learns from. The landing
        # files (pipelines/demo_data.py) draw intent and e-mail engagement from the same statuses.
        # Ideal-customer fit (revenue teams at senior level in larger companies) raises it too, so the
        # firmographic features carry signal from the first snapshot on.
        size = account_size[prospect.account_id]
        fit = sum((prospect.department in ("sales", "operations"), prospect.seniority in ("vp", "director", "c_level"),
                   size >= 400))
        meeting_weight = (20 if prospect.status in ENGAGED_STATUSES else 2) * (0.5 + 0.5 * fit)
        history_seconds = int(min(now - prospect.created_at, timedelta(days=180)).total_seconds())
        for _ in range(rng.randint(0, 6)):
            kind = rng.choices([ActivityType.email_sent, ActivityType.email_opened, ActivityType.call_made,
                                ActivityType.meeting_scheduled, ActivityType.linkedin_interaction,
                                ActivityType.note_added], weights=[40, 25, 15, meeting_weight, 10, 5])[0]
            occurred = now - timedelta(seconds=rng.randint(0, history_seconds))
            activity = Activity(id=uuid.uuid4(), organization_id=org.id, user_id=prospect.owner_id,
                                prospect_id=prospect.id, account_id=prospect.account_id, type=kind,
                                subject=kind.replace("_", " ").capitalize(), occurred_at=occurred)
            db_session.add(activity)
            activity_count += 1
            if kind == ActivityType.call_made:
                disposition = rng.choice(list(CallDisposition))
                db_session.add(CallLog(organization_id=org.id, user_id=prospect.owner_id, prospect_id=prospect.id,
                                       activity_id=activity.id, disposition=disposition, called_at=occurred,
                                       duration_seconds=rng.randint(60, 1200) if disposition == "answered" else 0))
                call_count += 1
    # The BDR agent, on and reviewing everything (so `revorc up` shows its approval queue after the first hourly
    # run), testing two messaging strategies; sending without review would need an accepted backtest first.
    db_session.add(BdrAgentConfig(organization_id=org.id, enabled=True, approval_mode="all", acting_user_id=admin.id,
                                  settings=AgentSettings().model_dump(mode="json", by_alias=True)))
    db_session.add_all([
        BdrMessageVariant(organization_id=org.id, name="Pain first", tone="direct",
                          instructions="Open with the cost of the problem the prospect's team most likely has."),
        BdrMessageVariant(organization_id=org.id, name="Customer proof", tone="friendly",
                          instructions="Open with what a similar customer achieved."),
    ])
    db_session.flush()
    return DemoSummary(org.id, True, {"users": len(users), "accounts": len(accounts), "prospects": len(people),
                                       "deals": len(deals), "activities": activity_count, "calls": call_count})
