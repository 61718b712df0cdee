"""The rep's workspace (issue 16): saved views of the prospect list, and the indexes its filters need.

Revision ID: 0034
Revises: 0033
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The list's word search as a definer function: under row-level security PostgreSQL will not run a non-leakproof
# operator (`@@`) from the index before the tenant check, so the query would compute every row's words (5–6 s at a
# million rows); here the index answers, and the tenant is the caller's own (`app.current_org_id()`, no argument).
WORD_MATCHES = """
create function app.prospect_word_matches(p_query text)
returns setof uuid language sql stable security definer set search_path = app, pg_temp as $$
  select id from app.prospects
  where organization_id = app.current_org_id()
    and to_tsvector('simple'::regconfig, ((((((((COALESCE(email, ''::text) || ' '::text) ||
        COALESCE(first_name, ''::text)) || ' '::text) || COALESCE(last_name, ''::text)) || ' '::text) ||
        COALESCE(company, ''::text)) || ' '::text) || COALESCE(title, ''::text))) @@ to_tsquery('simple', p_query)
$$;
revoke all on function app.prospect_word_matches(text) from public;
grant execute on function app.prospect_word_matches(text) to revorc_app;
"""


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), server_default="prospects", nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("shared", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_saved_views_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_saved_views_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("organization_id", "user_id", "entity", "name",
                            name=op.f("uq_saved_views_organization_id_user_id_entity_name")),
        schema="app",
    )
    op.create_index(op.f("ix_saved_views_organization_id"), "saved_views", ["organization_id"], unique=False,
                    schema="app")
    for statement in tenant_policy_sql("saved_views"):
        op.execute(statement)
    # the lists' default orders served by their indexes (descending, nulls last, then id)
    for name, column in (("ix_prospects_org_priority", "priority_score"), ("ix_prospects_org_intent", "intent_score")):
        op.drop_index(name, table_name="prospects", schema="app")
        op.create_index(name, "prospects", ["organization_id", sa.text(f"{column} DESC NULLS LAST"), "id"],
                        unique=False, schema="app")
    op.create_index("ix_prospects_org_last_contacted", "prospects", ["organization_id", "last_contacted_at"],
                    unique=False, schema="app")
    op.create_index("ix_prospects_search_words", "prospects", [sa.text(
        "to_tsvector('simple'::regconfig, ((((((((COALESCE(email, ''::text) || ' '::text) || "
        "COALESCE(first_name, ''::text)) || ' '::text) || COALESCE(last_name, ''::text)) || ' '::text) || "
        "COALESCE(company, ''::text)) || ' '::text) || COALESCE(title, ''::text)))")],
        unique=False, schema="app", postgresql_using="gin")
    op.execute(WORD_MATCHES)
    op.create_index("ix_prospects_custom_fields", "prospects", ["custom_fields"], unique=False, schema="app",
                    postgresql_using="gin", postgresql_ops={"custom_fields": "jsonb_path_ops"})


def downgrade() -> None:
    op.execute("drop function app.prospect_word_matches(text)")
    op.drop_index("ix_prospects_search_words", table_name="prospects", schema="app")
    op.drop_index("ix_prospects_custom_fields", table_name="prospects", schema="app",
                  postgresql_using="gin", postgresql_ops={"custom_fields": "jsonb_path_ops"})
    op.drop_index("ix_prospects_org_last_contacted", table_name="prospects", schema="app")
    for name, column in (("ix_prospects_org_priority", "priority_score"), ("ix_prospects_org_intent", "intent_score")):
        op.drop_index(name, table_name="prospects", schema="app")
        op.create_index(name, "prospects", ["organization_id", column], unique=False, schema="app")
    op.drop_index(op.f("ix_saved_views_organization_id"), table_name="saved_views", schema="app")
    op.drop_table("saved_views", schema="app")
