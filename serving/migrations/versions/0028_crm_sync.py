"""Two-way CRM sync (issue 17 §3): HubSpot and Salesforce record links — which local prospect, account or deal is
which remote record per installed integration, and the hash both sides last agreed on. A tenant table with
row-level security like the rest.

Revision ID: 0028
Revises: 0027
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.core.rls import tenant_policy_sql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crm_sync_links',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('integration_id', sa.UUID(), nullable=False),
    sa.Column('entity_type', sa.Text(), nullable=False),
    sa.Column('local_id', sa.UUID(), nullable=False),
    sa.Column('remote_object', sa.Text(), nullable=False),
    sa.Column('remote_id', sa.Text(), nullable=False),
    sa.Column('local_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remote_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synced_hash', sa.Text(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("entity_type in ('prospect', 'account', 'deal')", name=op.f('ck_crm_sync_links_entity_type_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_crm_sync_links_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_sync_links')),
    sa.UniqueConstraint('integration_id', 'entity_type', 'local_id', name=op.f('uq_crm_sync_links_integration_id_entity_type_local_id')),
    sa.UniqueConstraint('integration_id', 'remote_object', 'remote_id', name=op.f('uq_crm_sync_links_integration_id_remote_object_remote_id')),
    schema='app'
    )
    op.create_index(op.f('ix_crm_sync_links_organization_id'), 'crm_sync_links', ['organization_id'], unique=False, schema='app')
    for statement in tenant_policy_sql('crm_sync_links'):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f('ix_crm_sync_links_organization_id'), table_name='crm_sync_links', schema='app')
    op.drop_table('crm_sync_links', schema='app')
