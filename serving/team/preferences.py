"""A user's preferences (seed 6.5), each kept by the domain it belongs to and shown together by
`GET/PUT /me/preferences`: theme and the weekly summary here (`user_preferences`), time zone and language on the
profile (the users domain: quiet hours, digests and every date the dashboards show follow it), e-mail and desktop
notification switches in the notification preferences (the notifications domain)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.notifications import service as notifications
from serving.team.models import UserPreference
from serving.users import service as users
from serving.users.models import Profile


def get(*, db_session: Session, user_id: uuid.UUID) -> dict:
    own = db_session.get(UserPreference, user_id)
    profile = db_session.scalar(select(Profile).where(Profile.user_id == user_id))
    channels = notifications.get_preferences(db_session=db_session, user_id=user_id)["channels"]
    email, in_app = channels.get("email") or {}, channels.get("inApp") or {}
    return {
        "email_notifications": bool(email.get("enabled", True)),
        "email_frequency": email.get("frequency", "daily"),
        "desktop_notifications": bool(in_app.get("desktop", False)),
        "weekly_digest": own.weekly_digest if own else True,
        "theme": own.theme if own else "light",
        "timezone": profile.timezone if profile else "UTC",
        "language": profile.language if profile else "en",
    }


def put(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, changes: dict,
        now: datetime) -> dict:
    """Change what was sent (snake_case keys of `PreferencesUpdate`)."""
    own = {k: changes[k] for k in ("theme", "weekly_digest") if changes.get(k) is not None}
    if own:
        db_session.execute(insert(UserPreference).values(user_id=user_id, organization_id=organization_id, **own)
                           .on_conflict_do_update(index_elements=["user_id"], set_={**own, "updated_at": now}))
    if changes.get("timezone") or changes.get("language"):
        users.update_profile(db_session=db_session, user_id=user_id,
                             **{k: changes[k] for k in ("timezone", "language") if changes.get(k)})
    basics = {"email_enabled": changes.get("email_notifications"), "email_frequency": changes.get("email_frequency"),
              "desktop": changes.get("desktop_notifications")}
    if any(v is not None for v in basics.values()):
        notifications.set_basics(db_session=db_session, organization_id=organization_id, user_id=user_id, now=now,
                                 **basics)
    db_session.flush()
    return get(db_session=db_session, user_id=user_id)
