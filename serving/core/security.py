"""Password hashing (argon2), JWT access tokens and API-key secrets."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from serving.core.config import Settings

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

API_KEY_PREFIXES = {"live": "sk_live_", "test": "sk_test_"}
API_KEY_DISPLAY_CHARS = 6


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def create_access_token(
    *, settings: Settings, user_id: uuid.UUID, organization_id: uuid.UUID, role: str,
    expires_in: timedelta | None = None,
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires_at = now + (expires_in if expires_in is not None else settings.jwt_expiration)
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)
    return token, expires_at


class InvalidToken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_access_token(token: str, *, settings: Settings) -> dict:
    claims = dict(_verified_claims(token, settings.jwt_secret.get_secret_value(), settings.jwt_algorithm))
    # A remembered token is still refused from the second it expires, as a fresh decode would refuse it.
    if claims["exp"] <= time.time():
        raise InvalidToken("token expired")
    return claims


@lru_cache(maxsize=8192)
def _verified_claims(token: str, secret: str, algorithm: str) -> MappingProxyType:
    """The claims of a token whose signature and shape check out, remembered per token string.

    Each request decoded its token twice (the rate limiter's identity, then authentication), and the decode was
    the largest single cost of a CRM read left (profiled). The same string under the same secret always verifies
    the same way; the expiry is checked again on every use; refusals raise, so they are never remembered. What a
    token's user may do still comes from the database on every request.
    """
    try:
        claims = jwt.decode(token, secret, algorithms=[algorithm], options={"require": ["sub", "org", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    if claims.get("typ") != "access":
        raise InvalidToken("invalid token: not an access token")
    try:
        uuid.UUID(claims["sub"])
        uuid.UUID(claims["org"])
    except (ValueError, TypeError):
        raise InvalidToken("invalid token: malformed subject") from None
    return MappingProxyType(claims)


def generate_api_key(environment: str) -> tuple[str, str, str]:
    """Returns (secret shown once, display prefix, hash stored)."""
    secret = API_KEY_PREFIXES[environment] + secrets.token_urlsafe(32)
    return secret, display_prefix(secret), hash_api_key(secret)


def display_prefix(secret: str) -> str:
    head = next((p for p in API_KEY_PREFIXES.values() if secret.startswith(p)), "")
    return secret[: len(head) + API_KEY_DISPLAY_CHARS]


def hash_api_key(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast digest is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_key(secret: str) -> bool:
    return any(secret.startswith(p) for p in API_KEY_PREFIXES.values())
