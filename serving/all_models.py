"""Imports every ORM model so `Base.metadata` is complete (Alembic, tests)."""

from serving.accounts.models import Account, CompanyProfile
from serving.activities.models import Activity, CallLog
from serving.api_keys.models import ApiKey, ApiKeyUsageDaily
from serving.audit.models import AuditLog
from serving.core.db import Base
from serving.core.idempotency import IdempotencyRecord
from serving.deals.models import Deal, DealContact
from serving.organizations.models import Organization, Team
from serving.prospects.models import Prospect
from serving.users.models import Profile, TeamInvitation, User

__all__ = [
    "Account", "Activity", "ApiKey", "ApiKeyUsageDaily", "AuditLog", "Base", "CallLog", "CompanyProfile", "Deal",
    "DealContact", "IdempotencyRecord", "Organization", "Profile", "Prospect", "Team", "TeamInvitation", "User",
]
