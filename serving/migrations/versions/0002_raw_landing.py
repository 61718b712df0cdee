"""The `raw` schema: append-only landed events and provider records, the file ledger and quarantine.

Every row keeps where it came from (`source`, `source_file` or `request_id`) and when it was
loaded. The API inserts real-time events here through `revorc_app`, which may insert but not read.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVENANCE = """
    source text not null,
    source_file text,
    request_id text,
    loaded_at timestamptz not null default now()
"""

TABLES = {
    "file_ledger": """
        source text not null,
        path text not null,
        checksum text not null,
        size_bytes bigint not null,
        rows_loaded integer not null default 0,
        rows_rejected integer not null default 0,
        status text not null check (status in ('loaded', 'rejected')),
        reason text,
        loaded_at timestamptz not null default now(),
        primary key (source, path, checksum)
    """,
    "rejected_records": """
        id bigint generated always as identity primary key,
        source text not null,
        source_file text,
        request_id text,
        line_number integer,
        byte_offset bigint,
        reason text not null,
        payload text,
        rejected_at timestamptz not null default now()
    """,
    "email_events": f"""
        id bigint generated always as identity primary key,
        organization_id uuid,
        sg_event_id text not null unique,
        sg_message_id text,
        event text not null check (event in ('processed', 'deferred', 'delivered', 'open', 'click', 'bounce',
            'dropped', 'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe', 'reply')),
        email text,
        occurred_at timestamptz not null,
        email_id uuid,
        prospect_id uuid,
        campaign_id uuid,
        cadence_id uuid,
        template_id uuid,
        url text,
        reason text,
        status text,
        bounce_type text,
        useragent text,
        ip text,
        payload jsonb not null,
        {PROVENANCE}
    """,
    "website_events": f"""
        id bigint generated always as identity primary key,
        organization_id uuid,
        message_id text not null,
        type text not null check (type in ('page', 'track', 'identify', 'group', 'alias', 'screen')),
        event text,
        anonymous_id text,
        user_id text,
        email text,
        url text,
        path text,
        title text,
        referrer text,
        properties jsonb not null default '{{}}',
        traits jsonb not null default '{{}}',
        context jsonb not null default '{{}}',
        occurred_at timestamptz not null,
        sent_at timestamptz,
        received_at timestamptz,
        {PROVENANCE},
        unique (organization_id, message_id)
    """,
    "enrichment_records": f"""
        id bigint generated always as identity primary key,
        organization_id uuid not null,
        entity_type text not null check (entity_type in ('person', 'company')),
        provider text not null,
        fetched_at timestamptz not null,
        email text,
        domain text,
        payload jsonb not null,
        {PROVENANCE}
    """,
    "intent_signals": f"""
        id bigint generated always as identity primary key,
        organization_id uuid not null,
        signal_type text not null check (signal_type in ('website_visit', 'linkedin_engagement', 'job_posting',
            'technographic_change', 'funding', 'news')),
        account_domain text,
        prospect_email text,
        topic text,
        strength numeric(6, 3) not null check (strength >= 0),
        occurred_at timestamptz not null,
        expires_at timestamptz,
        provider text,
        payload jsonb not null default '{{}}',
        {PROVENANCE},
        check (account_domain is not null or prospect_email is not null)
    """,
}

INDEXES = [
    "create index ix_email_events_org_time on raw.email_events (organization_id, occurred_at)",
    "create index ix_email_events_message on raw.email_events (sg_message_id)",
    "create index ix_email_events_loaded on raw.email_events (loaded_at)",
    "create index ix_website_events_org_time on raw.website_events (organization_id, occurred_at)",
    "create index ix_website_events_anonymous on raw.website_events (anonymous_id)",
    "create index ix_website_events_loaded on raw.website_events (loaded_at)",
    "create index ix_enrichment_records_email on raw.enrichment_records (organization_id, email)",
    "create index ix_enrichment_records_domain on raw.enrichment_records (organization_id, domain)",
    "create index ix_intent_signals_org_time on raw.intent_signals (organization_id, occurred_at)",
    "create index ix_rejected_records_source on raw.rejected_records (source, rejected_at)",
]

APPEND_ONLY_FOR_API = ["email_events", "website_events", "rejected_records"]


def upgrade() -> None:
    op.execute("create schema if not exists raw")
    for name, columns in TABLES.items():
        op.execute(f"create table raw.{name} ({columns})")
    for statement in INDEXES:
        op.execute(statement)
    op.execute("grant usage on schema raw to revorc_app")
    for name in APPEND_ONLY_FOR_API:
        op.execute(f"grant insert on raw.{name} to revorc_app")
    op.execute("grant select on all tables in schema raw to revorc_readonly")
    op.execute("grant usage on schema raw to revorc_readonly")


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.execute(f"drop table if exists raw.{name}")
    op.execute("drop schema if exists raw")
