"""Who is making a request: a user (JWT) or an API key acting for a user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from serving.core.permissions import Role, role_scopes


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    team_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # None means "everything the role allows" (interactive users); API keys carry their scopes.
    key_scopes: frozenset[str] | None = None
    ip_address: str | None = None
    request_id: str | None = field(default=None, compare=False)

    @property
    def scopes(self) -> frozenset[str]:
        allowed = role_scopes(self.role)
        return allowed if self.key_scopes is None else allowed & self.key_scopes

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def is_viewer(self) -> bool:
        return self.role == Role.viewer

    def can(self, scope: str) -> bool:
        return scope in self.scopes
