"""The company knowledge base: research sources, crawled websites, chunked documents with 384-dimension
embeddings under an HNSW index (cosine), training sessions, and `match_knowledge_documents` as in the seed.

Revision ID: 0016
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("knowledge_websites", "company_research_sources", "knowledge_documents", "company_training_sessions")

# Security invoker (the default): row-level security applies, so it only ever returns the caller's documents.
MATCH_FUNCTION = """
create function app.match_knowledge_documents(
  query_embedding vector(384), match_threshold double precision, match_count integer,
  p_company_profile_id uuid default null, p_embedding_model text default null)
returns table (id uuid, company_profile_id uuid, source_id uuid, title text, url text, content text,
               chunk_index integer, similarity double precision)
language sql stable set search_path = app, public, pg_temp as $$
  select d.id, d.company_profile_id, d.source_id, d.title, d.url, d.content, d.chunk_index,
         1 - (d.embedding <=> query_embedding) as similarity
  from app.knowledge_documents d
  where d.embedding is not null
    and (p_company_profile_id is null or d.company_profile_id = p_company_profile_id)
    -- vectors of another model are not comparable (the API passes the model in use)
    and (p_embedding_model is null or d.embedding_model = p_embedding_model)
    and 1 - (d.embedding <=> query_embedding) >= match_threshold
  order by d.embedding <=> query_embedding
  limit least(greatest(match_count, 1), 200)
$$;
"""


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)]


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                   name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE")


def _profile(table: str) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_company_profile_id_company_profiles"
    return sa.ForeignKeyConstraint(["company_profile_id"], ["app.company_profiles.id"],
                                   name=name if len(name) <= 63 else f"fk_{table}_profile", ondelete="CASCADE")


def upgrade() -> None:
    op.execute("create extension if not exists vector")
    op.create_table(
        "knowledge_websites",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_profile_id", sa.UUID(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("max_depth", sa.Integer(), server_default="2", nullable=False),
        sa.Column("max_pages", sa.Integer(), server_default="50", nullable=False),
        sa.Column("recrawl_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("pages_crawled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_crawled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("status in ('pending', 'crawling', 'done', 'failed')",
                           name=op.f("ck_knowledge_websites_status_valid")),
        _org("knowledge_websites"), _profile("knowledge_websites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_websites")),
        sa.UniqueConstraint("organization_id", "url", name=op.f("uq_knowledge_websites_organization_id_url")),
        schema="app",
    )
    op.create_index(op.f("ix_knowledge_websites_organization_id"), "knowledge_websites", ["organization_id"],
                    schema="app")
    op.create_index(op.f("ix_knowledge_websites_company_profile_id"), "knowledge_websites", ["company_profile_id"],
                    schema="app")
    op.create_table(
        "company_research_sources",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_profile_id", sa.UUID(), nullable=True),
        sa.Column("website_id", sa.UUID(), nullable=True),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=True),
        sa.Column("quality_score", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("source_type in ('website_page', 'news', 'document', 'manual')",
                           name=op.f("ck_company_research_sources_source_type_valid")),
        sa.CheckConstraint("quality_score is null or (quality_score >= 0 and quality_score <= 100)",
                           name=op.f("ck_company_research_sources_quality_score_0_100")),
        _org("company_research_sources"), _profile("company_research_sources"),
        sa.ForeignKeyConstraint(["website_id"], ["app.knowledge_websites.id"],
                                name=op.f("fk_company_research_sources_website_id_knowledge_websites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_research_sources")),
        sa.UniqueConstraint("organization_id", "company_profile_id", "url",
                            name="uq_company_research_sources_profile_url"),
        schema="app",
    )
    op.create_index(op.f("ix_company_research_sources_organization_id"), "company_research_sources",
                    ["organization_id"], schema="app")
    op.create_index(op.f("ix_company_research_sources_company_profile_id"), "company_research_sources",
                    ["company_profile_id"], schema="app")
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_profile_id", sa.UUID(), nullable=True),
        sa.Column("source_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), server_default="0", nullable=False),
        sa.Column("embedding", Vector(384), nullable=True),
        sa.Column("embedding_model", sa.Text(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        *_timestamps(),
        _org("knowledge_documents"), _profile("knowledge_documents"),
        sa.ForeignKeyConstraint(["source_id"], ["app.company_research_sources.id"],
                                name=op.f("fk_knowledge_documents_source_id_company_research_sources"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
        sa.UniqueConstraint("organization_id", "source_id", "chunk_index",
                            name=op.f("uq_knowledge_documents_organization_id_source_id_chunk_index")),
        schema="app",
    )
    op.create_index(op.f("ix_knowledge_documents_organization_id"), "knowledge_documents", ["organization_id"],
                    schema="app")
    op.create_index(op.f("ix_knowledge_documents_source_id"), "knowledge_documents", ["source_id"], schema="app")
    op.create_index("ix_knowledge_documents_company", "knowledge_documents", ["organization_id", "company_profile_id"],
                    schema="app")
    op.create_index("ix_knowledge_documents_embedding", "knowledge_documents", ["embedding"], schema="app",
                    postgresql_using="hnsw", postgresql_with={"m": 16, "ef_construction": 64},
                    postgresql_ops={"embedding": "vector_cosine_ops"})
    op.create_table(
        "company_training_sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_profile_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _org("company_training_sessions"), _profile("company_training_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_company_training_sessions_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_training_sessions")),
        schema="app",
    )
    op.create_index(op.f("ix_company_training_sessions_organization_id"), "company_training_sessions",
                    ["organization_id"], schema="app")
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(MATCH_FUNCTION)
    # documents are searchable by keyword too: queued for the index like the CRM records (migration 0015)
    for operation, transition in (("insert", "new"), ("update", "new"), ("delete", "old")):
        op.execute(f"create trigger search_sync_{operation} after {operation} on app.knowledge_documents "
                   f"referencing {transition} table as {transition}_rows "
                   f"for each statement execute function app.search_sync_enqueue('documents')")


def downgrade() -> None:
    op.execute("drop function if exists app.match_knowledge_documents(vector, double precision, integer, uuid, text)")
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")
