"""A user's TOTP two-factor sign-in (RFC 6238, through `pyotp`): enrol with an authenticator app, confirm with a
first code, check a code at sign-in, turn it off.

The secret is sealed at rest (core.sealing, purpose "totp"); a code is accepted once (its time step is
remembered, RFC 6238 §5.2) with one step of clock drift either side; ten single-use recovery codes, stored
hashed, stand in for a lost device.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.errors import Conflict, Unauthorized, ValidationFailed
from serving.core.sealing import seal, unseal
from serving.users import service as users
from serving.users.models import User

ISSUER = "AIRevenueOrc"
TOTP_PURPOSE = "totp"
RECOVERY_CODES = 10


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _totp(settings: Settings, user: User) -> pyotp.TOTP:
    return pyotp.TOTP(unseal(settings, user.totp_secret, purpose=TOTP_PURPOSE))


def _matching_step(totp: pyotp.TOTP, code: str, now: datetime) -> int | None:
    """The time step `code` belongs to (now, or one step either side for clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    step = totp.timecode(now)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def begin_enrolment(*, db_session: Session, settings: Settings, user: User) -> tuple[str, str]:
    """A new secret (not active until confirmed) and its provisioning URI for an authenticator app."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor sign-in is already on: turn it off first to enrol another device",
                       code="TWO_FACTOR_ALREADY_ON")
    secret = pyotp.random_base32()
    users.set_two_factor(db_session=db_session, user=user, sealed_secret=seal(settings, secret, purpose=TOTP_PURPOSE),
                         enabled=False)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


def confirm_enrolment(*, db_session: Session, settings: Settings, user: User, code: str) -> list[str]:
    """Turn it on with a first code; the recovery codes, shown once."""
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise Conflict("start the enrolment first (POST /me/two-factor/enroll)", code="TWO_FACTOR_NOT_PENDING")
    step = _matching_step(_totp(settings, user), code, utcnow())
    if step is None:
        raise ValidationFailed("that code is not right: check the device's clock and try the next one",
                               code="INVALID_TWO_FACTOR_CODE", details={"field": "code"})
    recovery = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    users.set_two_factor(db_session=db_session, user=user, sealed_secret=user.totp_secret, enabled=True,
                         recovery_hashes=[_hash_code(c) for c in recovery], last_step=step)
    return recovery


def check_second_factor(*, db_session: Session, settings: Settings, user: User, code: str | None) -> str:
    """At sign-in, for a user with two-factor on: a current code or an unused recovery code; how it passed."""
    if not code:
        raise Unauthorized("enter the 6-digit code from your authenticator app (or a recovery code)",
                           code="TWO_FACTOR_REQUIRED")
    step = _matching_step(_totp(settings, user), code, utcnow())
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            raise Unauthorized("that code was already used: wait for the next one", code="TWO_FACTOR_CODE_REUSED")
        users.record_two_factor_use(db_session=db_session, user=user, step=step)
        return "totp"
    hashed = _hash_code(code)
    if hashed in (user.totp_recovery_hashes or []):
        users.record_two_factor_use(db_session=db_session, user=user,
                                    recovery_hashes=[h for h in user.totp_recovery_hashes if h != hashed])
        return "recovery_code"
    raise Unauthorized("that code is not right", code="INVALID_TWO_FACTOR_CODE")


def disable(*, db_session: Session, settings: Settings, user: User, code: str) -> None:
    """Turning it off takes a current code (or a recovery code), not only a signed-in session."""
    if user.totp_enabled_at is None:
        users.set_two_factor(db_session=db_session, user=user, sealed_secret=None, enabled=False)
        return
    check_second_factor(db_session=db_session, settings=settings, user=user, code=code)
    users.set_two_factor(db_session=db_session, user=user, sealed_secret=None, enabled=False)
