"""Billing and SSO (issue 18 §3–4): the organization's Stripe subscription, invoices and the Stripe events already
applied; identity providers, sign-ins in flight and consumed SAML assertions — tenant tables with row-level
security — and the definer functions the unauthenticated routes (Stripe's webhook, the SSO sign-in) use to find an
organization before a tenant is bound (they return ids only).

Revision ID: 0032
Revises: 0031
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("subscriptions", "invoices", "stripe_events", "sso_providers", "sso_login_states", "sso_assertions")

# Stripe's webhook has no tenant: the definer function returns only the organization id of a customer.
FUNCTIONS = """
create function app.billing_customer_organization(p_customer text)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.subscriptions where stripe_customer_id = p_customer
$$;
revoke all on function app.billing_customer_organization(text) from public;
grant execute on function app.billing_customer_organization(text) to revorc_app;

-- The daily usage report's sweep: organizations with a live subscription (ids only).
create function app.billing_metered_organizations()
returns setof uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.subscriptions where status in ('active', 'trialing', 'past_due')
$$;
revoke all on function app.billing_metered_organizations() from public;
grant execute on function app.billing_metered_organizations() to revorc_app;

-- SSO sign-in routes have no tenant: the organization of an enabled provider (id only).
create function app.sso_provider_organization(p_provider uuid)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.sso_providers where id = p_provider and enabled
$$;
revoke all on function app.sso_provider_organization(uuid) from public;
grant execute on function app.sso_provider_organization(uuid) to revorc_app;
"""


def upgrade() -> None:
    op.create_table('subscriptions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('stripe_customer_id', sa.Text(), nullable=False),
    sa.Column('stripe_subscription_id', sa.Text(), nullable=True),
    sa.Column('stripe_price_id', sa.Text(), nullable=True),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_payment_method', sa.Text(), nullable=True),
    sa.Column('card_brand', sa.Text(), nullable=True),
    sa.Column('card_last4', sa.Text(), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('usage_reported_through', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.CheckConstraint("status is null or status in ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')", name=op.f('ck_subscriptions_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_subscriptions_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_subscriptions_organization_id')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_subscriptions_stripe_customer_id')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_subscriptions_stripe_subscription_id')),
    schema='app'
    )
    op.create_table('invoices',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('stripe_invoice_id', sa.Text(), nullable=False),
    sa.Column('number', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('amount_due', sa.BigInteger(), nullable=False),
    sa.Column('amount_paid', sa.BigInteger(), nullable=False),
    sa.Column('amount_remaining', sa.BigInteger(), nullable=False),
    sa.Column('hosted_invoice_url', sa.Text(), nullable=True),
    sa.Column('invoice_pdf', sa.Text(), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_invoices_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('stripe_invoice_id', name=op.f('uq_invoices_stripe_invoice_id')),
    schema='app'
    )
    op.create_index(op.f('ix_invoices_organization_id'), 'invoices', ['organization_id'], unique=False, schema='app')
    op.create_table('stripe_events',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_stripe_events_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events')),
    schema='app'
    )
    op.create_index(op.f('ix_stripe_events_organization_id'), 'stripe_events', ['organization_id'], unique=False, schema='app')
    op.create_table('sso_providers',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('protocol', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('client_secret', sa.Text(), nullable=True),
    sa.Column('attribute_mapping', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('role_mapping', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('default_role', sa.Text(), server_default='user', nullable=False),
    sa.Column('jit_provisioning', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('allowed_domains', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.CheckConstraint("protocol in ('saml', 'oidc')", name=op.f('ck_sso_providers_protocol_valid')),
    sa.ForeignKeyConstraint(['created_by'], ['app.users.id'], name=op.f('fk_sso_providers_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_sso_providers_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_providers')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_sso_providers_organization_id_name')),
    schema='app'
    )
    op.create_index(op.f('ix_sso_providers_organization_id'), 'sso_providers', ['organization_id'], unique=False, schema='app')
    op.create_table('sso_login_states',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('provider_id', sa.UUID(), nullable=False),
    sa.Column('state_hash', sa.Text(), nullable=False),
    sa.Column('saml_request_id', sa.Text(), nullable=True),
    sa.Column('nonce', sa.Text(), nullable=True),
    sa.Column('code_verifier', sa.Text(), nullable=True),
    sa.Column('return_to', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('login_code_hash', sa.Text(), nullable=True),
    sa.Column('login_code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('login_code_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_sso_login_states_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['app.sso_providers.id'], name=op.f('fk_sso_login_states_provider_id_sso_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_sso_login_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_login_states')),
    sa.UniqueConstraint('login_code_hash', name=op.f('uq_sso_login_states_login_code_hash')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_sso_login_states_state_hash')),
    schema='app'
    )
    op.create_index(op.f('ix_sso_login_states_organization_id'), 'sso_login_states', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_sso_login_states_provider_id'), 'sso_login_states', ['provider_id'], unique=False, schema='app')
    op.create_table('sso_assertions',
    sa.Column('provider_id', sa.UUID(), nullable=False),
    sa.Column('assertion_id', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_sso_assertions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['app.sso_providers.id'], name=op.f('fk_sso_assertions_provider_id_sso_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'assertion_id', name=op.f('pk_sso_assertions')),
    schema='app'
    )
    op.create_index(op.f('ix_sso_assertions_organization_id'), 'sso_assertions', ['organization_id'], unique=False, schema='app')
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.sso_provider_organization(uuid)")
    op.execute("drop function app.billing_metered_organizations()")
    op.execute("drop function app.billing_customer_organization(text)")
    op.drop_index(op.f('ix_stripe_events_organization_id'), table_name='stripe_events', schema='app')
    op.drop_table('stripe_events', schema='app')
    op.drop_index(op.f('ix_invoices_organization_id'), table_name='invoices', schema='app')
    op.drop_table('invoices', schema='app')
    op.drop_table('subscriptions', schema='app')
    op.drop_index(op.f('ix_sso_assertions_organization_id'), table_name='sso_assertions', schema='app')
    op.drop_table('sso_assertions', schema='app')
    op.drop_index(op.f('ix_sso_login_states_provider_id'), table_name='sso_login_states', schema='app')
    op.drop_index(op.f('ix_sso_login_states_organization_id'), table_name='sso_login_states', schema='app')
    op.drop_table('sso_login_states', schema='app')
    op.drop_index(op.f('ix_sso_providers_organization_id'), table_name='sso_providers', schema='app')
    op.drop_table('sso_providers', schema='app')
