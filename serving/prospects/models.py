"""The prospect record, with enrichment, intent and AI fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in, check_score


class ProspectStatus(StrEnum):
    new = "new"
    contacted = "contacted"
    engaged = "engaged"
    qualified = "qualified"
    unqualified = "unqualified"
    nurture = "nurture"
    converted = "converted"
    do_not_contact = "do_not_contact"


class RelationshipStage(StrEnum):
    new = "new"
    aware = "aware"
    engaged = "engaged"
    qualified = "qualified"
    opportunity = "opportunity"
    customer = "customer"
    churned = "churned"


class IntentTier(StrEnum):
    low = "low"
    warm = "warm"
    hot = "hot"
    burning = "burning"


# The list's word search (serving.prospects.service.search_page), written as PostgreSQL shows it back so that
# the schema check compares like with like: e-mail, first and last name, company and title, as words.
SEARCH_WORDS = (
    "to_tsvector('simple'::regconfig, ((((((((COALESCE(email, ''::text) || ' '::text) || "
    "COALESCE(first_name, ''::text)) || ' '::text) || COALESCE(last_name, ''::text)) || ' '::text) || "
    "COALESCE(company, ''::text)) || ' '::text) || COALESCE(title, ''::text)))"
)


class Prospect(IdMixin, TimestampMixin, Base):
    __tablename__ = "prospects"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        check_in("status", ProspectStatus, nullable=False),
        check_in("relationship_stage", RelationshipStage),
        check_in("intent_tier", IntentTier),
        check_score("priority_score"),
        check_score("intent_score"),
        check_score("qualification_score"),
        Index("ix_prospects_org_created", "organization_id", "created_at"),
        Index("ix_prospects_org_company", "organization_id", "company"),
        # in the lists' own order (`-priorityScore`, `-intentScore`: descending, nulls last, then id): a page of a
        # million-row book is read from the index, not sorted (issue 16's benchmark); ranges use them too
        Index("ix_prospects_org_priority", "organization_id", text("priority_score DESC NULLS LAST"), "id"),
        Index("ix_prospects_org_intent", "organization_id", text("intent_score DESC NULLS LAST"), "id"),
        Index("ix_prospects_org_qualification", "organization_id", "qualification_score"),
        Index("ix_prospects_org_last_contacted", "organization_id", "last_contacted_at"),
        # the list's word search, when a substring scan would read the whole book (service.WORDS_EXPR, the same)
        Index("ix_prospects_search_words", text(SEARCH_WORDS), postgresql_using="gin"),
        # `?customField=key:value` filters are JSONB containment (`@>`), which this index serves
        Index("ix_prospects_custom_fields", "custom_fields", postgresql_using="gin",
              postgresql_ops={"custom_fields": "jsonb_path_ops"}),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    linkedin_url: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)
    seniority: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=ProspectStatus.new, server_default="new", index=True)
    relationship_stage: Mapped[str | None] = mapped_column(Text, default=RelationshipStage.new)
    priority_score: Mapped[int | None]
    intent_score: Mapped[int | None]
    intent_tier: Mapped[str | None] = mapped_column(Text, index=True)
    qualification_score: Mapped[int | None]
    bdr_assigned: Mapped[bool] = mapped_column(default=False, server_default="false")
    enrichment_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    enrichment_data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    ai_insights: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    custom_fields: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    last_contacted_at: Mapped[datetime | None]


class SavedView(IdMixin, TimestampMixin, Base):
    """A named set of list filters, the user's own or shared with the organization (the rep's "hot fintech
    leads"). `filters` holds the list endpoint's query parameters as the API names them (camelCase)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("organization_id", "user_id", "entity", "name"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(Text, default="prospects", server_default="prospects")
    name: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    shared: Mapped[bool] = mapped_column(default=False, server_default="false")
