"""Secrets at rest: sealed under the newest configured key, readable under any key still configured, and under the
JWT_SECRET-derived key an install used before it set ENCRYPTION_KEYS."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from serving.core.config import Settings
from serving.core.sealing import InvalidToken, reseal, seal, unseal


def settings(**values) -> Settings:
    return Settings(**{"JWT_SECRET": "s" * 40, **values})


def test_derived_key_round_trip_and_purposes_do_not_mix():
    s = settings()
    sealed = seal(s, "xoxb-token", purpose="integration-credentials")
    assert "xoxb" not in sealed
    assert unseal(s, sealed, purpose="integration-credentials") == "xoxb-token"
    with pytest.raises(InvalidToken):
        unseal(s, sealed, purpose="webhook-secrets")


def test_rotation_new_key_first_old_values_still_open_and_reseal_moves_them():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = seal(settings(ENCRYPTION_KEYS=old_key), "secret", purpose="p")
    derived = seal(settings(), "from-before-keys", purpose="p")
    rotated = settings(ENCRYPTION_KEYS=f"{new_key}, {old_key}")
    assert unseal(rotated, before, purpose="p") == "secret"
    assert unseal(rotated, derived, purpose="p") == "from-before-keys"
    moved = reseal(rotated, before, purpose="p")
    assert unseal(settings(ENCRYPTION_KEYS=new_key), moved, purpose="p") == "secret"
    with pytest.raises(InvalidToken):
        unseal(settings(ENCRYPTION_KEYS=new_key, JWT_SECRET="t" * 40), before, purpose="p")


def test_a_malformed_key_is_refused_at_start():
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS must be Fernet keys"):
        settings(ENCRYPTION_KEYS="not-a-key")
