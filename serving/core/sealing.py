"""Secrets at rest (webhook signing secrets, integration OAuth tokens and API keys, provider keys): sealed with
Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`), so a database dump alone does not hand anyone a customer's
HubSpot token or let them forge this platform's webhooks.

Keys, newest first:
- `ENCRYPTION_KEYS`: comma-separated Fernet keys (`Fernet.generate_key()`). The first seals; every one unseals.
  To rotate, put a new key in front, run `reseal` over the stored values (or let them be resealed when next
  written), then drop the old key.
- A key derived from `JWT_SECRET` for each purpose, always accepted for unsealing and used for sealing when
  `ENCRYPTION_KEYS` is unset — so an install that never set `ENCRYPTION_KEYS` keeps working, and one that sets it
  later can still read what was sealed before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from serving.core.config import Settings

__all__ = ["InvalidToken", "reseal", "seal", "unseal"]


def _derived(settings: Settings, purpose: str) -> Fernet:
    # the purpose keeps one kind of secret's key from opening another kind
    key = hmac.new(settings.jwt_secret.get_secret_value().encode(), purpose.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _keys(settings: Settings, purpose: str) -> MultiFernet:
    configured = [Fernet(k.encode()) for k in settings.encryption_keys_list()]
    return MultiFernet([*configured, _derived(settings, purpose)])


def seal(settings: Settings, secret: str, *, purpose: str) -> str:
    return _keys(settings, purpose).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str, *, purpose: str) -> str:
    """Raises `InvalidToken` when no key in use sealed it (the key it was sealed under was dropped)."""
    return _keys(settings, purpose).decrypt(sealed.encode()).decode()


def reseal(settings: Settings, sealed: str, *, purpose: str) -> str:
    """The same secret sealed under the newest key (rotation)."""
    return _keys(settings, purpose).rotate(sealed.encode()).decode()
