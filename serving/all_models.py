"""Imports every ORM model so `Base.metadata` is complete (Alembic, tests)."""

from serving.accounts.models import Account, CompanyProfile
from serving.activities.models import Activity, CallLog
from serving.ai.draft_models import AiEmailDraft
from serving.ai.llm.models import AiBudget, AiGeneration, AiRoute
from serving.ai.playground_models import AiAgentSession, AiPlaygroundExperiment
from serving.api_keys.models import ApiKey, ApiKeyUsageDaily
from serving.audit.models import AuditLog
from serving.auth.models import AuthSession, RevokedToken
from serving.automations.models import IntegrationFlow, IntegrationFlowExecution
from serving.bdr.models import (
    BdrActivity,
    BdrAgentConfig,
    BdrApprovalQueue,
    BdrContextMemory,
    BdrDecision,
    BdrHandoff,
    BdrMessageVariant,
    BdrPerformanceMetric,
    BdrPolicyBacktest,
    BdrTask,
    BdrWorkflowExecution,
)
from serving.billing.models import Invoice, StripeEvent, Subscription
from serving.cadences.models import (
    Cadence,
    CadenceEnrollment,
    CadenceStep,
    CadenceStepRun,
    CadenceStepVariant,
)
from serving.core.db import Base
from serving.core.idempotency import IdempotencyRecord
from serving.core.outbox import DomainEvent, EventDelivery
from serving.deals.models import Deal, DealContact
from serving.emails.models import (
    BulkEmailJob,
    BulkEmailRecipient,
    Email,
    EmailBlacklist,
    EmailBounce,
    EmailTemplate,
    EmailTrackingEvent,
    EmailUnsubscribe,
    Mailbox,
)
from serving.enrichment.models import EnrichmentCacheEntry, EnrichmentProvider, EnrichmentRequest
from serving.integrations.crm_sync.models import CrmSyncLink
from serving.integrations.models import (
    IntegrationMarketplace,
    IntegrationReview,
    IntegrationSyncLog,
    IntegrationUsageAnalytics,
    TeamIntegration,
)
from serving.kb.models import KbArticle, KbArticleVersion, KbArticleView, KbArticleVote, KbCategory
from serving.knowledge.models import (
    CompanyResearchSource,
    CompanyTrainingSession,
    KnowledgeDocument,
    KnowledgeWebsite,
)
from serving.notifications.models import (
    Notification,
    NotificationBatch,
    NotificationDelivery,
    NotificationPreference,
    PushSubscription,
    UserPresence,
)
from serving.organizations.models import Organization, Team
from serving.prospects.models import Prospect, SavedView
from serving.scoring.models import AiPrediction, LeadScoreHistory, MlModel, ScoringRuleSet
from serving.search.models import (
    SavedSearch,
    SearchAnalytics,
    SearchClick,
    SearchIndexingJob,
    SearchPopularQuery,
    SearchSyncItem,
)
from serving.sso.models import SsoAssertion, SsoLoginState, SsoProvider
from serving.tasks.models import Task
from serving.team.models import AccountToken, TeamInvitation, UserPreference
from serving.users.models import Profile, User
from serving.webhooks.models import WebhookEndpoint, WebhookLog

__all__ = [
    "Account",
    "AccountToken",
    "Activity",
    "AiAgentSession",
    "AiBudget",
    "AiEmailDraft",
    "AiGeneration",
    "AiPlaygroundExperiment",
    "AiPrediction",
    "AiRoute",
    "ApiKey",
    "ApiKeyUsageDaily",
    "AuditLog",
    "AuthSession",
    "Base",
    "BdrActivity",
    "BdrAgentConfig",
    "BdrApprovalQueue",
    "BdrContextMemory",
    "BdrDecision",
    "BdrHandoff",
    "BdrMessageVariant",
    "BdrPerformanceMetric",
    "BdrPolicyBacktest",
    "BdrTask",
    "BdrWorkflowExecution",
    "BulkEmailJob",
    "BulkEmailRecipient",
    "Cadence",
    "CadenceEnrollment",
    "CadenceStep",
    "CadenceStepRun",
    "CadenceStepVariant",
    "CallLog",
    "CompanyProfile",
    "CompanyResearchSource",
    "CompanyTrainingSession",
    "CrmSyncLink",
    "Deal",
    "DealContact",
    "DomainEvent",
    "Email",
    "EmailBlacklist",
    "EmailBounce",
    "EmailTemplate",
    "EmailTrackingEvent",
    "EmailUnsubscribe",
    "EnrichmentCacheEntry",
    "EnrichmentProvider",
    "EnrichmentRequest",
    "EventDelivery",
    "IdempotencyRecord",
    "IntegrationFlow",
    "IntegrationFlowExecution",
    "IntegrationMarketplace",
    "IntegrationReview",
    "IntegrationSyncLog",
    "IntegrationUsageAnalytics",
    "Invoice",
    "KbArticle",
    "KbArticleVersion",
    "KbArticleView",
    "KbArticleVote",
    "KbCategory",
    "KnowledgeDocument",
    "KnowledgeWebsite",
    "LeadScoreHistory",
    "Mailbox",
    "MlModel",
    "Notification",
    "NotificationBatch",
    "NotificationDelivery",
    "NotificationPreference",
    "Organization",
    "Profile",
    "Prospect",
    "PushSubscription",
    "RevokedToken",
    "SavedSearch",
    "SavedView",
    "ScoringRuleSet",
    "SearchAnalytics",
    "SearchClick",
    "SearchIndexingJob",
    "SearchPopularQuery",
    "SearchSyncItem",
    "SsoAssertion",
    "SsoLoginState",
    "SsoProvider",
    "StripeEvent",
    "Subscription",
    "Task",
    "Team",
    "TeamIntegration",
    "TeamInvitation",
    "User",
    "UserPreference",
    "UserPresence",
    "WebhookEndpoint",
    "WebhookLog",
]
