"""Create, list, revoke and rotate API keys; report their usage."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from serving.api_keys import usage
from serving.api_keys.models import ApiKey, ApiKeyStatus, ApiKeyUsageDaily
from serving.api_keys.schemas import ApiKeyCreate
from serving.core.config import Settings
from serving.core.errors import Forbidden
from serving.core.principal import Principal
from serving.core.security import generate_api_key


def _expire_due(db_session: Session) -> None:
    db_session.execute(
        update(ApiKey)
        .where(ApiKey.status == ApiKeyStatus.active, ApiKey.expires_at <= datetime.now(UTC))
        .values(status=ApiKeyStatus.expired)
    )


def list_keys(*, db_session: Session, principal: Principal):
    _expire_due(db_session)
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
    if not principal.is_admin:
        stmt = stmt.where(ApiKey.user_id == principal.user_id)
    return stmt


def get(*, db_session: Session, principal: Principal, api_key_id: uuid.UUID) -> ApiKey | None:
    """A key the principal may manage: their own, or any in the organization for admins."""
    _expire_due(db_session)
    key = db_session.get(ApiKey, api_key_id)
    if key is None or (not principal.is_admin and key.user_id != principal.user_id):
        return None
    return key


def create(*, db_session: Session, principal: Principal, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    missing = {s.value for s in data.scopes} - principal.scopes
    if missing:
        raise Forbidden("you cannot grant scopes your role does not have", code="INSUFFICIENT_ROLE",
                        details={"scopes": sorted(missing)})
    secret, prefix, key_hash = generate_api_key(data.environment.value)
    key = ApiKey(
        organization_id=principal.organization_id, user_id=principal.user_id, name=data.name, prefix=prefix,
        key_hash=key_hash, scopes=[s.value for s in data.scopes], environment=data.environment.value,
        status=ApiKeyStatus.active, request_count=0, expires_at=data.expires_at,
    )
    db_session.add(key)
    db_session.flush()
    return key, secret


def revoke(*, db_session: Session, key: ApiKey) -> ApiKey:
    if key.status == ApiKeyStatus.active:
        key.status = ApiKeyStatus.revoked
        key.revoked_at = datetime.now(UTC)
    return key


def rotate(*, db_session: Session, key: ApiKey) -> tuple[ApiKey, str]:
    """A new secret with the same name, scopes and expiry; the old key stops working now."""
    if key.status != ApiKeyStatus.active:
        raise Forbidden(f"cannot rotate a {key.status} key", code="API_KEY_NOT_ACTIVE")
    secret, prefix, key_hash = generate_api_key(key.environment)
    new_key = ApiKey(
        organization_id=key.organization_id, user_id=key.user_id, name=key.name, prefix=prefix,
        key_hash=key_hash, scopes=list(key.scopes), environment=key.environment, status=ApiKeyStatus.active,
        request_count=0, expires_at=key.expires_at, rotated_from_id=key.id,
    )
    revoke(db_session=db_session, key=key)
    db_session.add(new_key)
    db_session.flush()
    return new_key, secret


def flush_usage(*, settings: Settings) -> None:
    """Write the counts this process holds in memory (`serving.api_keys.usage`) before reading usage."""
    usage.counter(settings).flush()


def daily_usage(*, db_session: Session, key: ApiKey, days: int) -> list[ApiKeyUsageDaily]:
    since = date.today() - timedelta(days=days - 1)
    return list(
        db_session.scalars(
            select(ApiKeyUsageDaily)
            .where(ApiKeyUsageDaily.api_key_id == key.id, ApiKeyUsageDaily.day >= since)
            .order_by(ApiKeyUsageDaily.day)
        )
    )
