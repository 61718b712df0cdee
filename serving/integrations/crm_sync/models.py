"""Which local record is which remote CRM record, per installed integration, and what was last agreed between them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class LocalEntity(StrEnum):
    prospect = "prospect"
    account = "account"
    deal = "deal"


class CrmSyncLink(IdMixin, TimestampMixin, Base):
    __tablename__ = "crm_sync_links"
    __table_args__ = (
        UniqueConstraint("integration_id", "remote_object", "remote_id"),
        UniqueConstraint("integration_id", "entity_type", "local_id"),
        check_in("entity_type", LocalEntity, nullable=False),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # the installed integration (team_integrations.id); a plain id so links outlive nothing but their organization
    integration_id: Mapped[uuid.UUID]
    entity_type: Mapped[str] = mapped_column(Text)
    # a prospect, account or deal id (by entity_type): polymorphic, so no foreign key; a deleted record's link is
    # dropped by the sync when it finds the record gone
    local_id: Mapped[uuid.UUID]
    remote_object: Mapped[str] = mapped_column(Text)
    remote_id: Mapped[str] = mapped_column(Text)
    local_modified_at: Mapped[datetime | None]
    remote_modified_at: Mapped[datetime | None]
    # sha256 of the mapped fields both sides last agreed on: a side whose current hash equals it has not changed
    # since, which is how the sync's own writes are told apart from real edits (no ping-pong)
    synced_hash: Mapped[str] = mapped_column(Text)
