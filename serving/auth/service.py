"""Password login: look the user up across tenants (through a SECURITY DEFINER function), verify."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.core.db import set_tenant
from serving.core.security import hash_password, password_needs_rehash, verify_password
from serving.users.models import User


def authenticate(*, db_session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same timing either way)."""
    row = db_session.execute(
        text("select * from app.authenticate_user(:email)"), {"email": email}
    ).mappings().first()
    if not verify_password(password, row["password_hash"] if row else None) or row is None:
        return None
    if not row["is_active"]:
        return None
    set_tenant(db_session, row["organization_id"])
    user = db_session.get(User, row["id"])
    if user is None:
        return None
    user.last_login_at = datetime.now(UTC)
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
