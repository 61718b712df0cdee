"""The AI e-mail writer: drafts with the facts they used and the checker's verdict (issue 14), with row-level
security like every tenant table.

Revision ID: 0020
Revises: 0019
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ai_email_drafts',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('mailbox_id', sa.UUID(), nullable=True),
    sa.Column('generation_id', sa.UUID(), nullable=True),
    sa.Column('variant_group_id', sa.UUID(), nullable=True),
    sa.Column('variant', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('to_email', sa.Text(), nullable=False),
    sa.Column('from_email', sa.Text(), nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('facts', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('prompt_version', sa.Text(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=14, scale=6), server_default='0', nullable=False),
    sa.Column('check_passed', sa.Boolean(), nullable=False),
    sa.Column('check_result', postgresql.JSONB(astext_type=Text()), nullable=False),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('approved_by', sa.UUID(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('draft', 'approved', 'sent', 'rejected')", name=op.f('ck_ai_email_drafts_status_valid')),
    sa.ForeignKeyConstraint(['approved_by'], ['app.users.id'], name=op.f('fk_ai_email_drafts_approved_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_ai_email_drafts_email_id_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['generation_id'], ['app.ai_generations.id'], name=op.f('fk_ai_email_drafts_generation_id_ai_generations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['app.mailboxes.id'], name=op.f('fk_ai_email_drafts_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_ai_email_drafts_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_ai_email_drafts_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_ai_email_drafts_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_email_drafts')),
    schema='app'
    )
    op.create_index('ix_ai_email_drafts_org_created', 'ai_email_drafts', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_ai_email_drafts_prospect', 'ai_email_drafts', ['prospect_id'], unique=False, schema='app')
    op.create_index('ix_ai_email_drafts_variant_group', 'ai_email_drafts', ['variant_group_id'], unique=False, schema='app')
    for statement in tenant_policy_sql("ai_email_drafts"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("ai_email_drafts", schema="app")
