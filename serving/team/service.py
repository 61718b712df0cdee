"""Members, invitations and teams (seed 6.1): the rules an admin runs a team by.

- Invitation tokens are random (256 bits), mailed once, stored as SHA-256 only; single use; expire after
  `INVITATION_EXPIRATION_HOURS`. Accepting creates the user with the invited role, or brings back a former member
  of this organization; an address already in use in another organization is refused (a user belongs to one).
- The last active admin can be neither demoted nor removed (409 LAST_ADMIN): an organization always has someone
  who can run it. Checked under a per-organization advisory lock, so two admins demoting each other at once cannot
  both succeed.
- Removing a member deactivates them: their tokens, sessions and API keys stop at once (every request reads the
  user's status), their records stay theirs for history.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from serving.audit.models import AuditLog
from serving.core import outbox
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.core.event_catalogue import TeamMemberChanged, TeamMemberInvited
from serving.core.listing import contains_any
from serving.core.permissions import Role
from serving.core.principal import Principal
from serving.emails import system_mail
from serving.organizations import service as organizations
from serving.organizations.models import Organization, Team
from serving.team.models import InvitationStatus, TeamInvitation
from serving.users import service as users
from serving.users.models import User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh URL-safe token and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def _lock_admins(db_session: Session, organization_id: uuid.UUID) -> None:
    db_session.execute(text("select pg_advisory_xact_lock(hashtextextended('team-admins:' || :org, 0))"),
                       {"org": str(organization_id)})


# -- members ----------------------------------------------------------------------------------------------------

def members(*, q: str | None = None, role: str | None = None, team_id: uuid.UUID | None = None,
            active: bool | None = True) -> Select:
    """The directory, by name (a page's team names and last activity: `member_details`)."""
    stmt = select(User)
    if q:
        stmt = stmt.where(contains_any(q, User.email, User.full_name))
    if role:
        stmt = stmt.where(User.role == role)
    if team_id:
        stmt = stmt.where(User.team_id == team_id)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    return stmt.order_by(User.full_name.nulls_last(), User.email, User.id)


def member_details(*, db_session: Session, members: list[User]) -> dict[uuid.UUID, tuple[str | None, datetime | None]]:
    """Per member of a page: their team's name and their last activity (the newest audit record they made), in
    one query for the page."""
    ids = [m.id for m in members]
    if not ids:
        return {}
    last_activity = (select(func.max(AuditLog.created_at)).where(AuditLog.actor_user_id == User.id)
                     .correlate(User).scalar_subquery())
    rows = db_session.execute(select(User.id, Team.name, last_activity).outerjoin(Team, Team.id == User.team_id)
                              .where(User.id.in_(ids)))
    return {row[0]: (row[1], row[2]) for row in rows}


def get_member(*, db_session: Session, user_id: uuid.UUID) -> User:
    user = db_session.get(User, user_id)
    if user is None:
        raise NotFound("member", user_id)
    return user


def _other_active_admins(db_session: Session, user: User) -> int:
    return db_session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.admin, User.is_active.is_(True), User.id != user.id)) or 0


def _keep_an_admin(db_session: Session, user: User, doing: str) -> None:
    if user.role == Role.admin and user.is_active and _other_active_admins(db_session, user) == 0:
        raise Conflict(f"cannot {doing} the organization's last admin: make someone else an admin first",
                       code="LAST_ADMIN", details={"userId": str(user.id)})


def change_role(*, db_session: Session, principal: Principal, user: User, role: str) -> str | None:
    """The previous role when it changed, else None."""
    _lock_admins(db_session, principal.organization_id)
    db_session.refresh(user)
    if user.role == role:
        return None
    if role != Role.admin:
        _keep_an_admin(db_session, user, "demote")
    previous = user.role
    users.set_role(db_session=db_session, user=user, role=role)
    outbox.publish(db_session, organization_id=principal.organization_id, type="team.role_changed",
                   subject_id=user.id, actor_user_id=principal.user_id,
                   payload=TeamMemberChanged(user_id=user.id, email=user.email, role=role, previous_role=previous))
    return previous


def remove(*, db_session: Session, principal: Principal, user: User) -> None:
    _lock_admins(db_session, principal.organization_id)
    db_session.refresh(user)
    if not user.is_active:
        return
    _keep_an_admin(db_session, user, "remove")
    users.set_active(db_session=db_session, user=user, active=False)
    outbox.publish(db_session, organization_id=principal.organization_id, type="team.member_removed",
                   subject_id=user.id, actor_user_id=principal.user_id,
                   payload=TeamMemberChanged(user_id=user.id, email=user.email, role=user.role))


def move(*, db_session: Session, user: User, team_id: uuid.UUID | None) -> None:
    if team_id is not None and db_session.get(Team, team_id) is None:
        raise ValidationFailed("no such team in this organization", details={"field": "teamId",
                                                                             "value": str(team_id)})
    users.set_team(db_session=db_session, user=user, team_id=team_id)


# -- teams --------------------------------------------------------------------------------------------------------

def teams() -> Select:
    return select(Team).order_by(Team.name, Team.id)


def team_sizes(*, db_session: Session, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Active members per team."""
    rows = db_session.execute(select(User.team_id, func.count()).where(
        User.team_id.in_(team_ids), User.is_active.is_(True)).group_by(User.team_id))
    return dict(rows.all())


def get_team(*, db_session: Session, team_id: uuid.UUID) -> Team:
    team = db_session.get(Team, team_id)
    if team is None:
        raise NotFound("team", team_id)
    return team


def save_team(*, db_session: Session, principal: Principal, name: str, description: str | None,
              team: Team | None = None) -> Team:
    clash = db_session.scalar(select(Team.id).where(func.lower(Team.name) == name.lower()))
    if clash is not None and (team is None or clash != team.id):
        raise Conflict("a team with this name exists", code="DUPLICATE_TEAM", details={"field": "name"})
    return organizations.save_team(db_session=db_session, organization_id=principal.organization_id, name=name,
                                   description=description, team=team)


def delete_team(*, db_session: Session, team: Team) -> None:
    if (db_session.scalar(select(func.count()).select_from(Team)) or 0) <= 1:
        raise Conflict("an organization keeps at least one team", code="LAST_TEAM")
    organizations.delete_team(db_session=db_session, team=team)  # members' team is cleared (ON DELETE SET NULL)


# -- invitations --------------------------------------------------------------------------------------------------

def invitations(*, status: str | None = None) -> Select:
    stmt = select(TeamInvitation)
    if status:
        stmt = stmt.where(TeamInvitation.status == status)
    return stmt.order_by(TeamInvitation.created_at.desc(), TeamInvitation.id)


def effective_status(invitation: TeamInvitation, now: datetime) -> str:
    if invitation.status == InvitationStatus.pending and invitation.expires_at <= now:
        return InvitationStatus.expired
    return invitation.status


def accept_url(settings: Settings, token: str) -> str:
    return f"{settings.dashboards_url.rstrip('/')}/?{urlencode({'invitation': token})}"


def _mail_invitation(settings: Settings, db_session: Session, invitation: TeamInvitation, token: str,
                     inviter: User | None) -> None:
    org_name = db_session.scalar(select(Organization.name).where(Organization.id == invitation.organization_id))
    who = (inviter.full_name or inviter.email) if inviter else "An admin"
    hours = settings.invitation_expiration_hours
    system_mail.send(
        settings, organization_id=invitation.organization_id, to=invitation.email, category="invitation",
        subject=f"{who} invited you to {org_name} on AIRevenueOrc",
        body=(f"{who} invited you to join {org_name} on AIRevenueOrc as {invitation.role}.\n\n"
              f"Accept the invitation (the link works once, for {hours} hours):\n{accept_url(settings, token)}\n\n"
              "If you did not expect this, ignore this e-mail."))


def invite(*, db_session: Session, settings: Settings, principal: Principal, email: str, role: str,
           team_id: uuid.UUID | None) -> tuple[TeamInvitation, str]:
    email = email.lower()
    member = db_session.scalar(select(User).where(func.lower(User.email) == email))
    if member is not None and member.is_active:
        raise Conflict("this person is already a member", code="ALREADY_MEMBER", details={"field": "email"})
    if member is None and db_session.execute(text("select 1 from app.authenticate_user(:email)"),
                                             {"email": email}).first():
        raise Conflict("this address belongs to a user of another organization", code="EMAIL_IN_USE",
                       details={"field": "email"})
    if team_id is not None and db_session.get(Team, team_id) is None:
        raise ValidationFailed("no such team in this organization", details={"field": "teamId"})
    now = utcnow()
    # a new invitation replaces a pending one to the same address (its link stops working)
    db_session.execute(update(TeamInvitation).where(
        func.lower(TeamInvitation.email) == email, TeamInvitation.status == InvitationStatus.pending)
        .values(status=InvitationStatus.revoked))
    token, hashed = new_token()
    invitation = TeamInvitation(organization_id=principal.organization_id, team_id=team_id, email=email, role=role,
                                token_hash=hashed, invited_by=principal.user_id,
                                expires_at=now + timedelta(hours=settings.invitation_expiration_hours))
    db_session.add(invitation)
    db_session.flush()
    _mail_invitation(settings, db_session, invitation, token, db_session.get(User, principal.user_id))
    outbox.publish(db_session, organization_id=principal.organization_id, type="team.member_invited",
                   subject_id=invitation.id, actor_user_id=principal.user_id,
                   payload=TeamMemberInvited(invitation_id=invitation.id, email=email, role=role,
                                             invited_by=principal.user_id))
    return invitation, token


def get_invitation(*, db_session: Session, invitation_id: uuid.UUID) -> TeamInvitation:
    invitation = db_session.get(TeamInvitation, invitation_id)
    if invitation is None:
        raise NotFound("invitation", invitation_id)
    return invitation


def revoke(*, db_session: Session, invitation: TeamInvitation) -> None:
    if effective_status(invitation, utcnow()) != InvitationStatus.pending:
        raise Conflict(f"the invitation is {effective_status(invitation, utcnow())}: only a pending one can be "
                       "revoked", code="INVITATION_NOT_PENDING")
    invitation.status = InvitationStatus.revoked
    db_session.flush()


def resend(*, db_session: Session, settings: Settings, principal: Principal,
           invitation: TeamInvitation) -> tuple[TeamInvitation, str]:
    """A new link (the old one stops working) and a new expiry, mailed again; an expired invitation can be
    resent, an accepted or revoked one cannot."""
    if invitation.status != InvitationStatus.pending:
        raise Conflict(f"the invitation is {invitation.status}", code="INVITATION_NOT_PENDING")
    token, hashed = new_token()
    invitation.token_hash = hashed
    invitation.expires_at = utcnow() + timedelta(hours=settings.invitation_expiration_hours)
    db_session.flush()
    _mail_invitation(settings, db_session, invitation, token, db_session.get(User, principal.user_id))
    return invitation, token


def _invitation_by_token(db_session: Session, token: str) -> TeamInvitation:
    """The invitation a token names, bound to its organization (the route is public); refused clearly when it is
    unknown, used, revoked or expired."""
    hashed = token_hash(token)
    organization_id = db_session.scalar(text("select app.invitation_organization(:h)"), {"h": hashed})
    if organization_id is None:
        raise NotFound("invitation")
    set_tenant(db_session, organization_id)
    invitation = db_session.scalar(select(TeamInvitation).where(TeamInvitation.token_hash == hashed)
                                   .with_for_update())
    status = effective_status(invitation, utcnow())
    if status != InvitationStatus.pending:
        raise Conflict(f"this invitation is {status}: ask an admin for a new one", code=f"INVITATION_{status.upper()}")
    return invitation


def preview(*, db_session: Session, token: str) -> dict:
    invitation = _invitation_by_token(db_session, token)
    org_name = db_session.scalar(select(Organization.name).where(Organization.id == invitation.organization_id))
    existing = db_session.scalar(select(User.id).where(func.lower(User.email) == invitation.email))
    return {"email": invitation.email, "role": invitation.role, "organization_name": org_name,
            "expires_at": invitation.expires_at, "needs_password": existing is None}


def accept(*, db_session: Session, token: str, password: str | None, full_name: str | None) -> User:
    invitation = _invitation_by_token(db_session, token)
    user = db_session.scalar(select(User).where(func.lower(User.email) == invitation.email))
    if user is None:
        if not password:
            raise ValidationFailed("choose a password to create your account", details={"field": "password"})
        try:
            user = users.create_user(db_session=db_session, organization_id=invitation.organization_id,
                                     email=invitation.email, password=password, role=invitation.role,
                                     full_name=full_name, team_id=invitation.team_id)
        except ValueError as exc:
            raise ValidationFailed(str(exc), details={"field": "password"}) from None
    else:  # a former member of this organization comes back, with the invited role
        users.set_active(db_session=db_session, user=user, active=True, role=invitation.role)
        if invitation.team_id:
            users.set_team(db_session=db_session, user=user, team_id=invitation.team_id)
        if password:
            users.set_password(db_session=db_session, user=user, password=password)
    users.mark_email_verified(db_session=db_session, user=user)  # the link reached this address
    invitation.status, invitation.accepted_at = InvitationStatus.accepted, utcnow()
    db_session.flush()
    outbox.publish(db_session, organization_id=invitation.organization_id, type="team.member_joined",
                   subject_id=user.id, actor_user_id=user.id,
                   payload=TeamMemberChanged(user_id=user.id, email=user.email, role=user.role))
    return user

