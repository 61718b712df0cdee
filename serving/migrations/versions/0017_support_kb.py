"""The support knowledge base (seed 4.3): hierarchical categories, Markdown articles with sanitized HTML and an
embedding for related articles, every saved version, helpfulness votes and views; row-level security on all five;
`kb_public_organization` for the unauthenticated portal; articles queued for the search index like the CRM records
(migration 0015).

Revision ID: 0017
Revises: 0016
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

from serving.core.config import APP_ROLE
from serving.core.rls import tenant_policy_sql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("knowledge_base_categories", "knowledge_base_articles", "knowledge_base_article_versions",
          "knowledge_base_article_views", "knowledge_base_article_votes")

# The public portal has no principal: the organization named in its URL (slug or id) must be found before a tenant
# can be bound. A definer function returning only the id, and only for an organization that publishes at least one
# public article, so the portal cannot be used to enumerate organizations.
PUBLIC_ORGANIZATION = f"""
create function app.kb_public_organization(p_ref text) returns uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select o.id from app.organizations o
  where (o.slug = p_ref or o.id::text = lower(p_ref))
    and exists (select 1 from app.knowledge_base_articles a
                where a.organization_id = o.id and a.visibility = 'public' and a.status = 'published')
  limit 1
$$;
revoke all on function app.kb_public_organization(text) from public;
grant execute on function app.kb_public_organization(text) to {APP_ROLE};
"""


def upgrade() -> None:
    op.create_table('knowledge_base_categories',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('parent_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('slug', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('parent_id is null or parent_id <> id', name=op.f('ck_knowledge_base_categories_not_own_parent')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name='fk_knowledge_base_categories_organization', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['app.knowledge_base_categories.id'], name='fk_knowledge_base_categories_parent', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_categories')),
    sa.UniqueConstraint('organization_id', 'slug', name=op.f('uq_knowledge_base_categories_organization_id_slug')),
    schema='app'
    )
    op.create_index(op.f('ix_knowledge_base_categories_organization_id'), 'knowledge_base_categories', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_knowledge_base_categories_parent_id'), 'knowledge_base_categories', ['parent_id'], unique=False, schema='app')
    op.create_table('knowledge_base_articles',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('category_id', sa.UUID(), nullable=True),
    sa.Column('author_id', sa.UUID(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('slug', sa.Text(), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=True),
    sa.Column('meta_description', sa.Text(), nullable=True),
    sa.Column('visibility', sa.Text(), server_default='internal', nullable=False),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('view_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('helpful_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unhelpful_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('embedding', Vector(384), nullable=True),
    sa.Column('embedding_model', sa.Text(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('draft', 'published', 'archived')", name=op.f('ck_knowledge_base_articles_status_valid')),
    sa.CheckConstraint("visibility in ('public', 'internal', 'portal')", name=op.f('ck_knowledge_base_articles_visibility_valid')),
    sa.ForeignKeyConstraint(['author_id'], ['app.users.id'], name=op.f('fk_knowledge_base_articles_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['app.knowledge_base_categories.id'], name='fk_knowledge_base_articles_category', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name='fk_knowledge_base_articles_organization', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_articles')),
    sa.UniqueConstraint('organization_id', 'slug', name=op.f('uq_knowledge_base_articles_organization_id_slug')),
    schema='app'
    )
    op.create_index(op.f('ix_knowledge_base_articles_category_id'), 'knowledge_base_articles', ['category_id'], unique=False, schema='app')
    op.create_index('ix_knowledge_base_articles_embedding', 'knowledge_base_articles', ['embedding'], unique=False, schema='app', postgresql_using='hnsw', postgresql_with={'m': 16, 'ef_construction': 64}, postgresql_ops={'embedding': 'vector_cosine_ops'})
    op.create_index('ix_knowledge_base_articles_org_status', 'knowledge_base_articles', ['organization_id', 'status'], unique=False, schema='app')
    op.create_index(op.f('ix_knowledge_base_articles_organization_id'), 'knowledge_base_articles', ['organization_id'], unique=False, schema='app')
    op.create_table('knowledge_base_article_versions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('author_id', sa.UUID(), nullable=True),
    sa.Column('restored_from', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['app.knowledge_base_articles.id'], name='fk_knowledge_base_article_versions_article', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['app.users.id'], name='fk_knowledge_base_article_versions_author', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name='fk_knowledge_base_article_versions_organization', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_article_versions')),
    sa.UniqueConstraint('article_id', 'version', name=op.f('uq_knowledge_base_article_versions_article_id_version')),
    schema='app'
    )
    op.create_index(op.f('ix_knowledge_base_article_versions_organization_id'), 'knowledge_base_article_versions', ['organization_id'], unique=False, schema='app')
    op.create_table('knowledge_base_article_views',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('visitor_id', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('viewed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("source in ('app', 'public')", name=op.f('ck_knowledge_base_article_views_source_valid')),
    sa.ForeignKeyConstraint(['article_id'], ['app.knowledge_base_articles.id'], name='fk_knowledge_base_article_views_article', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name='fk_knowledge_base_article_views_organization', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name='fk_knowledge_base_article_views_user', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_article_views')),
    schema='app'
    )
    op.create_index('ix_knowledge_base_article_views_article_time', 'knowledge_base_article_views', ['article_id', 'viewed_at'], unique=False, schema='app')
    op.create_index(op.f('ix_knowledge_base_article_views_organization_id'), 'knowledge_base_article_views', ['organization_id'], unique=False, schema='app')
    op.create_table('knowledge_base_article_votes',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('visitor_id', sa.Text(), nullable=True),
    sa.Column('voter', sa.Text(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(user_id is not null) <> (visitor_id is not null)', name=op.f('ck_knowledge_base_article_votes_one_voter')),
    sa.ForeignKeyConstraint(['article_id'], ['app.knowledge_base_articles.id'], name='fk_knowledge_base_article_votes_article', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name='fk_knowledge_base_article_votes_organization', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name='fk_knowledge_base_article_votes_user', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_article_votes')),
    sa.UniqueConstraint('article_id', 'voter', name=op.f('uq_knowledge_base_article_votes_article_id_voter')),
    schema='app'
    )
    op.create_index(op.f('ix_knowledge_base_article_votes_organization_id'), 'knowledge_base_article_votes', ['organization_id'], unique=False, schema='app')
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(PUBLIC_ORGANIZATION)
    # articles are searchable: queued for the index in the writing transaction (migration 0015's function)
    for operation, transition in (("insert", "new"), ("update", "new"), ("delete", "old")):
        op.execute(f"create trigger search_sync_{operation} after {operation} on app.knowledge_base_articles "
                   f"referencing {transition} table as {transition}_rows "
                   f"for each statement execute function app.search_sync_enqueue('kb_articles')")


def downgrade() -> None:
    op.execute("drop function if exists app.kb_public_organization(text)")
    # the queue keeps no rows for an entity that no longer exists
    op.execute("delete from app.search_sync_queue where entity = 'kb_articles'")
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")
