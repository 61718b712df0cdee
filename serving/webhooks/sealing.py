"""Webhook signing secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`) under a key
derived from JWT_SECRET, so a database dump alone does not let anyone forge this platform's webhooks. Changing
JWT_SECRET makes stored secrets unreadable: rotate each endpoint's secret after it (docs/webhooks.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet

from serving.core.config import Settings


def _fernet(settings: Settings) -> Fernet:
    key = hmac.new(settings.jwt_secret.get_secret_value().encode(), b"webhook-secrets", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str:
    return _fernet(settings).decrypt(sealed.encode()).decode()
