"""Universal search's own tables (seed 4.1 and 7.4).

- `search_sync_queue`: one row per record whose index document is out of date, written by triggers on the
  searchable tables in the writing transaction itself, so no write path (API, CSV import, reverse-ETL, a script)
  can forget the index. Rows coalesce per record; the worker drains them (`serving.search.sync`).
- `search_indexing_jobs`: the full reindexes (new collection, bulk import, alias swap), global like the index.
- `search_analytics` and `search_clicks`: every search and the results clicked, with their rank.
- `search_popular_queries`: per organization, how often a query was run (suggestions and analytics).
- `saved_searches`: a user's named query, types and filters.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, PrimaryKeyConstraint, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class IndexingStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class SearchSyncItem(Base):
    __tablename__ = "search_sync_queue"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "entity", "record_id"),
        Index("ix_search_sync_queue_pending", "organization_id", "queued_at", postgresql_where="indexed_at is null"),
    )

    # no foreign key: the row that tells the index an organization (or a record) is gone outlives it
    organization_id: Mapped[uuid.UUID]
    # a collection's entity name (`prospects`, `accounts`, …) or `organization` for a deleted tenant
    entity: Mapped[str] = mapped_column(Text)
    record_id: Mapped[uuid.UUID]
    queued_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    # set when the drain has applied it; kept while a full reindex runs, which replays what changed under it
    indexed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class SearchIndexingJob(IdMixin, Base):
    __tablename__ = "search_indexing_jobs"
    __table_args__ = (check_in("status", IndexingStatus, nullable=False),)

    entity: Mapped[str] = mapped_column(Text)
    collection: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=IndexingStatus.running, server_default="running")
    # the database snapshot the bulk import read; changes queued from here on are replayed after the swap
    snapshot_at: Mapped[datetime]
    documents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]


class SearchAnalytics(IdMixin, Base):
    __tablename__ = "search_analytics"
    __table_args__ = (Index("ix_search_analytics_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[uuid.UUID | None]
    query: Mapped[str] = mapped_column(Text)
    # lower-cased, whitespace-collapsed: what popular queries and refinements group by
    normalized_query: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    filters: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # what query understanding made of it (types, filters, a jump to one record)
    understood: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    result_count: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SearchClick(IdMixin, Base):
    __tablename__ = "search_clicks"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    search_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("search_analytics.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entity: Mapped[str] = mapped_column(Text)
    record_id: Mapped[uuid.UUID]
    # 1-based rank of the clicked result within its type's list
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SearchPopularQuery(Base):
    __tablename__ = "search_popular_queries"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "normalized_query"),
        Index("ix_search_popular_queries_rank", "organization_id", "search_count"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    normalized_query: Mapped[str] = mapped_column(Text)
    search_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_searched_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SavedSearch(IdMixin, TimestampMixin, Base):
    __tablename__ = "saved_searches"
    __table_args__ = (Index("ix_saved_searches_user", "organization_id", "user_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    filters: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
