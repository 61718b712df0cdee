"""Verified access tokens are remembered (one signature check per token, not two per request), and a remembered
token is still refused from the second it expires, or when it was signed with another secret."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr

from serving.core.security import InvalidToken, create_access_token, decode_access_token


def _token(settings, seconds: float) -> str:
    token, _ = create_access_token(settings=settings, user_id=uuid.uuid4(), organization_id=uuid.uuid4(),
                                   role="admin", expires_in=timedelta(seconds=seconds))
    return token


def test_a_remembered_token_is_refused_once_it_expires(settings):
    token = _token(settings, 2)
    first = decode_access_token(token, settings=settings)
    assert decode_access_token(token, settings=settings) == first  # remembered
    time.sleep(max(0.0, first["exp"] - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="token expired"):
        decode_access_token(token, settings=settings)


def test_the_claims_handed_out_cannot_change_the_remembered_ones(settings):
    token = _token(settings, 60)
    claims = decode_access_token(token, settings=settings)
    claims["sub"] = "someone else"
    assert decode_access_token(token, settings=settings)["sub"] != "someone else"


def test_a_token_is_checked_against_the_secret_it_is_used_with(settings):
    token = _token(settings, 60)
    decode_access_token(token, settings=settings)
    rotated = settings.model_copy(update={"jwt_secret": SecretStr("another-secret-long-enough-for-hs256-use")})
    with pytest.raises(InvalidToken, match="invalid token"):
        decode_access_token(token, settings=rotated)
    with pytest.raises(InvalidToken):
        decode_access_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), settings=settings)
