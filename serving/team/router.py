"""/team (members, invitations, teams, the organization's sign-in rules), /me (my profile, preferences, password,
two-factor) and the public account routes (/auth/signup, address confirmation, password reset, accepting an
invitation). Admin actions are admins' (`AdminPrincipal`); every change is audited."""

from __future__ import annotations

import io
import uuid
from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Path, Query, Request

from serving.audit import service as audit
from serving.auth.principals import signing_in
from serving.auth.schemas import TokenResponse, UserOut
from serving.core.clock import utcnow
from serving.core.deps import AdminPrincipal, AppSettings, CurrentPrincipal, DbSession, InteractivePrincipal
from serving.core.errors import Forbidden
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.security import create_access_token
from serving.team import accounts, preferences, service
from serving.team.models import TeamInvitation
from serving.team.schemas import (
    Accepted,
    AcceptIn,
    CodeIn,
    EnrolmentOut,
    ForgotIn,
    InvitationCreated,
    InvitationOut,
    InvitationPreview,
    InviteIn,
    MemberOut,
    MoveIn,
    PasswordChangeIn,
    PreferencesOut,
    PreferencesUpdate,
    ProfileOut,
    ProfileUpdate,
    RecoveryCodes,
    ResetIn,
    RoleIn,
    SecuritySettings,
    SignupIn,
    TeamIn,
    TeamOut,
    TokenIn,
    TwoFactorStatus,
)
from serving.users import service as users
from serving.users import two_factor
from serving.users.models import User

router = APIRouter()  # /team
public_router = APIRouter()  # /team: accepting an invitation (no sign-in yet)
auth_router = APIRouter()  # /auth: sign up, confirm the address, reset the password
me_router = APIRouter()  # /me

RoleFilter = Annotated[str | None, Query(pattern="^(admin|user|viewer)$")]
InvitationToken = Annotated[str, Path(min_length=20, max_length=200, description="the token of the mailed link")]


def _member_out(user: User, team_name: str | None = None, last_activity_at=None) -> MemberOut:
    return MemberOut(id=user.id, email=user.email, full_name=user.full_name, role=user.role, team_id=user.team_id,
                     team_name=team_name, is_active=user.is_active, email_verified=user.email_verified_at is not None,
                     two_factor_enabled=user.totp_enabled_at is not None, last_login_at=user.last_login_at,
                     last_activity_at=last_activity_at, created_at=user.created_at)


def _invitation_out(invitation: TeamInvitation) -> InvitationOut:
    out = InvitationOut.model_validate(invitation)
    out.status = service.effective_status(invitation, utcnow())
    return out


def _signed_in(settings, user: User) -> TokenResponse:
    token, expires_at = create_access_token(settings=settings, user_id=user.id, organization_id=user.organization_id,
                                            role=user.role)
    return TokenResponse(access_token=token, expires_at=expires_at, user=UserOut.model_validate(user))


# -- members ------------------------------------------------------------------------------------------------------

@router.get("/members", response_model=Page[MemberOut],
            summary="The member directory with each one's last activity (everyone in the organization may read it)")
def list_members(db: DbSession, principal: CurrentPrincipal, pagination: Pagination,
                 q: Annotated[str | None, Query(max_length=200)] = None, role: RoleFilter = None,
                 team_id: Annotated[uuid.UUID | None, Query(alias="teamId")] = None,
                 active: Annotated[bool | None, Query(description="default: active members only")] = True):
    items, meta = paginate(db, service.members(q=q, role=role, team_id=team_id, active=active), pagination)
    details = service.member_details(db_session=db, members=items)
    return page_of([_member_out(m, *details[m.id]) for m in items], meta)


@router.put("/members/{user_id}/role", response_model=MemberOut, summary="Change a member's role (admins)",
            responses={409: {"description": "LAST_ADMIN"}})
def change_role(user_id: uuid.UUID, body: RoleIn, db: DbSession, principal: AdminPrincipal) -> MemberOut:
    user = service.get_member(db_session=db, user_id=user_id)
    previous = service.change_role(db_session=db, principal=principal, user=user, role=body.role)
    if previous is not None:
        audit.record(db_session=db, principal=principal, action="change_role", entity_type="user", entity_id=user.id,
                     changes={"role": {"from": previous, "to": body.role}})
    return _member_out(user)


@router.put("/members/{user_id}/team", response_model=MemberOut, summary="Move a member to another team (admins)")
def move_member(user_id: uuid.UUID, body: MoveIn, db: DbSession, principal: AdminPrincipal) -> MemberOut:
    user = service.get_member(db_session=db, user_id=user_id)
    previous = user.team_id
    service.move(db_session=db, user=user, team_id=body.team_id)
    audit.record(db_session=db, principal=principal, action="move_team", entity_type="user", entity_id=user.id,
                 changes={"teamId": {"from": previous, "to": body.team_id}})
    return _member_out(user)


@router.delete("/members/{user_id}", status_code=204,
               summary="Remove a member (admins): deactivated at once — tokens, sessions and API keys stop; "
                       "their records stay", responses={409: {"description": "LAST_ADMIN"}})
def remove_member(user_id: uuid.UUID, db: DbSession, principal: AdminPrincipal) -> None:
    user = service.get_member(db_session=db, user_id=user_id)
    service.remove(db_session=db, principal=principal, user=user)
    audit.record(db_session=db, principal=principal, action="remove_member", entity_type="user", entity_id=user.id,
                 changes={"email": user.email})


# -- invitations --------------------------------------------------------------------------------------------------

@router.post("/invite", response_model=InvitationCreated, status_code=201,
             summary="Invite someone by e-mail (admins); the link is mailed and shown here once",
             responses={409: {"description": "ALREADY_MEMBER, EMAIL_IN_USE"}})
def invite(body: InviteIn, db: DbSession, settings: AppSettings, principal: AdminPrincipal) -> InvitationCreated:
    inviter = service.get_member(db_session=db, user_id=principal.user_id)
    if inviter.email_verified_at is None:
        raise Forbidden("confirm your own e-mail address before inviting others (POST /me/verify-email sends "
                        "the link again)", code="EMAIL_NOT_VERIFIED")
    invitation, token = service.invite(db_session=db, settings=settings, principal=principal, email=body.email,
                                       role=body.role, team_id=body.team_id)
    audit.record(db_session=db, principal=principal, action="invite", entity_type="invitation",
                 entity_id=invitation.id, changes={"email": invitation.email, "role": invitation.role})
    return InvitationCreated(**_invitation_out(invitation).model_dump(),
                             accept_url=service.accept_url(settings, token))


@router.get("/invitations", response_model=Page[InvitationOut], summary="Invitations, newest first (admins)")
def list_invitations(db: DbSession, principal: AdminPrincipal, pagination: Pagination,
                     status: Annotated[str | None, Query(pattern="^(pending|accepted|expired|revoked)$")] = None):
    items, meta = paginate(db, service.invitations(status=status), pagination)
    return page_of([_invitation_out(i) for i in items], meta)


@router.post("/invitations/{invitation_id}/revoke", response_model=InvitationOut,
             summary="Revoke a pending invitation (admins): its link stops working")
def revoke_invitation(invitation_id: uuid.UUID, db: DbSession, principal: AdminPrincipal) -> InvitationOut:
    invitation = service.get_invitation(db_session=db, invitation_id=invitation_id)
    service.revoke(db_session=db, invitation=invitation)
    audit.record(db_session=db, principal=principal, action="revoke_invitation", entity_type="invitation",
                 entity_id=invitation.id, changes={"email": invitation.email})
    return _invitation_out(invitation)


@router.post("/invitations/{invitation_id}/resend", response_model=InvitationCreated,
             summary="Send a pending (or expired) invitation again with a new link and expiry (admins)")
def resend_invitation(invitation_id: uuid.UUID, db: DbSession, settings: AppSettings,
                      principal: AdminPrincipal) -> InvitationCreated:
    invitation = service.get_invitation(db_session=db, invitation_id=invitation_id)
    invitation, token = service.resend(db_session=db, settings=settings, principal=principal, invitation=invitation)
    audit.record(db_session=db, principal=principal, action="resend_invitation", entity_type="invitation",
                 entity_id=invitation.id, changes={"email": invitation.email})
    return InvitationCreated(**_invitation_out(invitation).model_dump(),
                             accept_url=service.accept_url(settings, token))


@public_router.get("/invitations/{token}", response_model=InvitationPreview,
                   summary="What an invitation link is for (public: the token is the credential)")
def preview_invitation(token: InvitationToken, db: DbSession) -> InvitationPreview:
    return InvitationPreview(**service.preview(db_session=db, token=token))


@public_router.post("/invitations/{token}/accept", response_model=TokenResponse,
                    summary="Accept an invitation (public): creates the account (or brings a former member back) "
                            "with the invited role, and signs in",
                    responses={409: {"description": "INVITATION_ACCEPTED, INVITATION_EXPIRED, INVITATION_REVOKED"}})
def accept_invitation(token: InvitationToken, body: AcceptIn, request: Request, db: DbSession,
                      settings: AppSettings) -> TokenResponse:
    user = service.accept(db_session=db, token=token, password=body.password, full_name=body.full_name)
    audit.record(db_session=db, principal=signing_in(request, user), action="accept_invitation", entity_type="user",
                 entity_id=user.id, changes={"role": user.role})
    return _signed_in(settings, user)


# -- teams ----------------------------------------------------------------------------------------------------------

@router.get("/teams", response_model=Page[TeamOut], summary="The organization's teams with their active members")
def list_teams(db: DbSession, principal: CurrentPrincipal, pagination: Pagination):
    items, meta = paginate(db, service.teams(), pagination)
    sizes = service.team_sizes(db_session=db, team_ids=[t.id for t in items])
    return page_of([TeamOut(id=t.id, name=t.name, description=t.description, members=sizes.get(t.id, 0),
                            created_at=t.created_at) for t in items], meta)


@router.post("/teams", response_model=TeamOut, status_code=201, summary="Create a team (admins)")
def create_team(body: TeamIn, db: DbSession, principal: AdminPrincipal) -> TeamOut:
    team = service.save_team(db_session=db, principal=principal, name=body.name, description=body.description)
    audit.record(db_session=db, principal=principal, action="create", entity_type="team", entity_id=team.id,
                 changes={"name": team.name})
    return TeamOut(id=team.id, name=team.name, description=team.description, members=0, created_at=team.created_at)


@router.put("/teams/{team_id}", response_model=TeamOut, summary="Rename a team (admins)")
def rename_team(team_id: uuid.UUID, body: TeamIn, db: DbSession, principal: AdminPrincipal) -> TeamOut:
    team = service.get_team(db_session=db, team_id=team_id)
    previous = team.name
    service.save_team(db_session=db, principal=principal, name=body.name, description=body.description, team=team)
    audit.record(db_session=db, principal=principal, action="update", entity_type="team", entity_id=team.id,
                 changes={"name": {"from": previous, "to": team.name}})
    return TeamOut(id=team.id, name=team.name, description=team.description,
                   members=service.team_sizes(db_session=db, team_ids=[team.id]).get(team.id, 0),
                   created_at=team.created_at)


@router.delete("/teams/{team_id}", status_code=204,
               summary="Delete a team (admins); its members stay, in no team", responses={409: {"description":
                                                                                             "LAST_TEAM"}})
def delete_team(team_id: uuid.UUID, db: DbSession, principal: AdminPrincipal) -> None:
    team = service.get_team(db_session=db, team_id=team_id)
    service.delete_team(db_session=db, team=team)
    audit.record(db_session=db, principal=principal, action="delete", entity_type="team", entity_id=team_id,
                 changes={"name": team.name})


@router.get("/settings", response_model=SecuritySettings, summary="The organization's sign-in rules")
def get_security(db: DbSession, principal: CurrentPrincipal) -> SecuritySettings:
    return SecuritySettings(require_two_factor=accounts.two_factor_required(
        db_session=db, organization_id=principal.organization_id))


@router.put("/settings", response_model=SecuritySettings,
            summary="Require two-factor sign-in of every member (admins); the admin setting it must have it on")
def put_security(body: SecuritySettings, db: DbSession, principal: AdminPrincipal) -> SecuritySettings:
    if body.require_two_factor and service.get_member(db_session=db, user_id=principal.user_id).totp_enabled_at \
            is None:
        raise Forbidden("turn on two-factor sign-in for yourself first (POST /me/two-factor/enroll)",
                        code="TWO_FACTOR_NOT_ON")
    accounts.require_two_factor(db_session=db, organization_id=principal.organization_id,
                                required=body.require_two_factor)
    audit.record(db_session=db, principal=principal, action="update", entity_type="security_settings",
                 changes={"requireTwoFactor": body.require_two_factor})
    return body


# -- public account routes (under /auth) ---------------------------------------------------------------------------

@auth_router.post("/signup", response_model=TokenResponse, status_code=201,
                  summary="Create an organization (Free plan) and its admin, signed in; a link to confirm the "
                          "address is mailed", responses={403: {"description": "SIGNUP_DISABLED"}})
def signup(body: SignupIn, request: Request, db: DbSession, settings: AppSettings) -> TokenResponse:
    admin = accounts.signup(db_session=db, settings=settings, organization_name=body.organization_name,
                            email=body.email, password=body.password, full_name=body.full_name)
    audit.record(db_session=db, principal=signing_in(request, admin), action="signup", entity_type="organization",
                 entity_id=admin.organization_id)
    return _signed_in(settings, admin)


@auth_router.post("/verify-email", response_model=Accepted, summary="Confirm an address with the mailed link's token")
def verify_email(body: TokenIn, request: Request, db: DbSession) -> Accepted:
    user = accounts.verify_email(db_session=db, token=body.token)
    audit.record(db_session=db, principal=signing_in(request, user), action="verify_email", entity_type="user",
                 entity_id=user.id)
    return Accepted(message="Your address is confirmed.")


@auth_router.post("/password/forgot", response_model=Accepted, status_code=202,
                  summary="Mail a password-reset link (the answer is the same whether the address exists or not)")
def forgot_password(body: ForgotIn, db: DbSession, settings: AppSettings) -> Accepted:
    accounts.forgot_password(db_session=db, settings=settings, email=body.email)
    return Accepted(message="If this address has an account, a link to reset its password is on its way.")


@auth_router.post("/password/reset", response_model=Accepted,
                  summary="Set a new password with the mailed link's token; every session is signed out")
def reset_password(body: ResetIn, request: Request, db: DbSession) -> Accepted:
    user = accounts.reset_password(db_session=db, token=body.token, password=body.password)
    audit.record(db_session=db, principal=signing_in(request, user), action="reset_password", entity_type="user",
                 entity_id=user.id)
    return Accepted(message="Your password is changed: sign in with it.")


# -- me ---------------------------------------------------------------------------------------------------------------

def _me(db, principal) -> User:
    return service.get_member(db_session=db, user_id=principal.user_id)


@me_router.get("/preferences", response_model=PreferencesOut, summary="My preferences")
def get_preferences(db: DbSession, principal: InteractivePrincipal) -> PreferencesOut:
    return PreferencesOut(**preferences.get(db_session=db, user_id=principal.user_id))


@me_router.put("/preferences", response_model=PreferencesOut, summary="Change my preferences (fields sent)")
def put_preferences(body: PreferencesUpdate, db: DbSession, principal: InteractivePrincipal) -> PreferencesOut:
    return PreferencesOut(**preferences.put(db_session=db, organization_id=principal.organization_id,
                                            user_id=principal.user_id, changes=body.model_dump(exclude_unset=True),
                                            now=utcnow()))


@me_router.get("/profile", response_model=ProfileOut, summary="My profile")
def get_profile(db: DbSession, principal: InteractivePrincipal) -> ProfileOut:
    user = _me(db, principal)
    profile = users.update_profile(db_session=db, user_id=user.id)  # made when missing
    return ProfileOut(email=user.email, full_name=user.full_name, title=profile.title, phone=profile.phone,
                      email_verified=user.email_verified_at is not None)


@me_router.put("/profile", response_model=ProfileOut, summary="Change my name, title or phone (fields sent)")
def put_profile(body: ProfileUpdate, db: DbSession, principal: InteractivePrincipal) -> ProfileOut:
    users.update_profile(db_session=db, user_id=principal.user_id, **body.model_dump(exclude_unset=True))
    audit.record(db_session=db, principal=principal, action="update_profile", entity_type="user",
                 entity_id=principal.user_id, changes=body.model_dump(exclude_unset=True))
    return get_profile(db, principal)


@me_router.post("/password", response_model=Accepted, summary="Change my password (the current one is asked)")
def change_password(body: PasswordChangeIn, db: DbSession, principal: InteractivePrincipal) -> Accepted:
    accounts.change_password(db_session=db, user=_me(db, principal), current=body.current_password,
                             new=body.new_password)
    audit.record(db_session=db, principal=principal, action="change_password", entity_type="user",
                 entity_id=principal.user_id)
    return Accepted(message="Your password is changed.")


@me_router.post("/verify-email", response_model=Accepted, status_code=202,
                summary="Mail me a new link to confirm my address")
def resend_verification(db: DbSession, settings: AppSettings, principal: InteractivePrincipal) -> Accepted:
    accounts.send_verification(db_session=db, settings=settings, user=_me(db, principal))
    return Accepted(message="A new link is on its way.")


@me_router.get("/two-factor", response_model=TwoFactorStatus, summary="My two-factor sign-in")
def two_factor_status(db: DbSession, principal: InteractivePrincipal) -> TwoFactorStatus:
    user = _me(db, principal)
    return TwoFactorStatus(
        enabled=user.totp_enabled_at is not None,
        pending=user.totp_secret is not None and user.totp_enabled_at is None,
        recovery_codes_left=len(user.totp_recovery_hashes or []) if user.totp_enabled_at else 0,
        required_by_organization=accounts.two_factor_required(db_session=db,
                                                              organization_id=principal.organization_id))


@me_router.post("/two-factor/enroll", response_model=EnrolmentOut,
                summary="Begin two-factor sign-in: a secret for an authenticator app (on once a code confirms it)")
def enroll(db: DbSession, settings: AppSettings, principal: InteractivePrincipal) -> EnrolmentOut:
    secret, uri = two_factor.begin_enrolment(db_session=db, settings=settings, user=_me(db, principal))
    svg = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(svg)
    return EnrolmentOut(secret=secret, provisioning_uri=uri, qr_code_svg=svg.getvalue().decode())


@me_router.post("/two-factor/confirm", response_model=RecoveryCodes,
                summary="Turn two-factor sign-in on with a first code; the recovery codes, shown once")
def confirm(body: CodeIn, db: DbSession, settings: AppSettings, principal: InteractivePrincipal) -> RecoveryCodes:
    codes = two_factor.confirm_enrolment(db_session=db, settings=settings, user=_me(db, principal), code=body.code)
    audit.record(db_session=db, principal=principal, action="enable_two_factor", entity_type="user",
                 entity_id=principal.user_id)
    return RecoveryCodes(recovery_codes=codes)


@me_router.post("/two-factor/disable", response_model=TwoFactorStatus,
                summary="Turn two-factor sign-in off (a current code or a recovery code is asked)")
def disable(body: CodeIn, db: DbSession, settings: AppSettings, principal: InteractivePrincipal) -> TwoFactorStatus:
    if accounts.two_factor_required(db_session=db, organization_id=principal.organization_id):
        raise Forbidden("your organization requires two-factor sign-in", code="TWO_FACTOR_REQUIRED_BY_ORGANIZATION")
    two_factor.disable(db_session=db, settings=settings, user=_me(db, principal), code=body.code)
    audit.record(db_session=db, principal=principal, action="disable_two_factor", entity_type="user",
                 entity_id=principal.user_id)
    return two_factor_status(db, principal)
