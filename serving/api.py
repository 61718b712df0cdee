"""The only router registry: every domain router is mounted here."""

from fastapi import APIRouter

from serving.accounts.router import router as accounts_router
from serving.activities.router import calls_router, timelines_router
from serving.activities.router import router as activities_router
from serving.ai.playground_router import router as ai_playground_router
from serving.ai.router import router as ai_router
from serving.ai.writer_router import router as ai_writer_router
from serving.api_keys.router import router as api_keys_router
from serving.audit.router import router as audit_router
from serving.auth.router import router as auth_router
from serving.automations.router import hooks_router as flow_hooks_router
from serving.automations.router import router as flows_router
from serving.bdr.router import router as bdr_router
from serving.billing.router import router as billing_router
from serving.billing.router import webhook_router as billing_webhook_router
from serving.cadences.router import enrollments_router
from serving.cadences.router import router as cadences_router
from serving.deals.router import account_deals_router
from serving.deals.router import router as deals_router
from serving.domain_events.router import catalogue_router as event_types_router
from serving.domain_events.router import router as domain_events_router
from serving.emails.router import mailboxes_router, templates_router
from serving.emails.router import router as emails_router
from serving.emails.tracking_router import router as email_tracking_router
from serving.enrichment.router import router as enrichment_router
from serving.events.router import router as events_router
from serving.events.router import webhook_router as events_webhook_router
from serving.inbound.router import router as inbound_router
from serving.integrations.router import callback_router as integrations_callback_router
from serving.integrations.router import router as integrations_router
from serving.kb.router import router as kb_router
from serving.knowledge.router import router as knowledge_router
from serving.notifications.router import router as notifications_router
from serving.prospects.router import account_contacts_router
from serving.prospects.router import router as prospects_router
from serving.scoring.router import deal_health_router, prospect_insights_router
from serving.scoring.router import router as scoring_router
from serving.search.router import router as search_router
from serving.sso.router import public_router as sso_public_router
from serving.sso.router import router as sso_router
from serving.tasks.router import router as tasks_router
from serving.team.router import auth_router as team_auth_router
from serving.team.router import me_router
from serving.team.router import public_router as team_public_router
from serving.team.router import router as team_router
from serving.webhooks.router import router as webhooks_router

api_router = APIRouter()
api_router.include_router(auth_router, prefix="/auth", tags=["auth"])
api_router.include_router(sso_public_router, prefix="/auth/sso", tags=["sso"])
api_router.include_router(api_keys_router, prefix="/api-keys", tags=["api-keys"])
api_router.include_router(prospects_router, prefix="/prospects", tags=["prospects"])
api_router.include_router(prospect_insights_router, prefix="/prospects", tags=["prospects"])
api_router.include_router(accounts_router, prefix="/accounts", tags=["accounts"])
api_router.include_router(account_contacts_router, prefix="/accounts", tags=["accounts"])
api_router.include_router(deals_router, prefix="/deals", tags=["deals"])
api_router.include_router(account_deals_router, prefix="/accounts", tags=["accounts"])
api_router.include_router(deal_health_router, prefix="/deals", tags=["deals"])
api_router.include_router(timelines_router)
api_router.include_router(activities_router, prefix="/activities", tags=["activities"])
api_router.include_router(calls_router, prefix="/calls", tags=["calls"])
api_router.include_router(templates_router, prefix="/email-templates", tags=["email-templates"])
api_router.include_router(emails_router, prefix="/emails", tags=["emails"])
api_router.include_router(mailboxes_router, prefix="/mailboxes", tags=["mailboxes"])
# No authentication: the signed token in each link is the credential (see the module).
api_router.include_router(email_tracking_router)
api_router.include_router(inbound_router, prefix="/inbound", tags=["inbound"])
api_router.include_router(cadences_router, prefix="/cadences", tags=["cadences"])
api_router.include_router(enrollments_router, prefix="/cadence-enrollments", tags=["cadences"])
api_router.include_router(tasks_router, prefix="/tasks", tags=["tasks"])
api_router.include_router(scoring_router, prefix="/scoring", tags=["scoring"])
api_router.include_router(search_router, prefix="/search", tags=["search"])
api_router.include_router(ai_router, prefix="/ai", tags=["ai"])
api_router.include_router(ai_writer_router, prefix="/ai", tags=["ai"])
api_router.include_router(ai_playground_router, prefix="/ai", tags=["ai"])
api_router.include_router(bdr_router, prefix="/bdr", tags=["bdr"])
api_router.include_router(knowledge_router, prefix="/knowledge", tags=["knowledge"])
# `/kb/public/…` needs no authentication: the portal reads public, published articles only (see the module).
api_router.include_router(kb_router, prefix="/kb", tags=["kb"])
api_router.include_router(events_router, prefix="/events", tags=["events"])
api_router.include_router(events_webhook_router)
api_router.include_router(event_types_router, prefix="/event-types", tags=["domain-events"])
api_router.include_router(domain_events_router, prefix="/domain-events", tags=["domain-events"])
api_router.include_router(notifications_router, prefix="/notifications", tags=["notifications"])
api_router.include_router(webhooks_router, prefix="/webhooks", tags=["webhooks"])
# The hook route needs no authentication: the secret token in its path is the credential (see the module).
api_router.include_router(flow_hooks_router)
api_router.include_router(flows_router, prefix="/flows", tags=["flows"])
api_router.include_router(integrations_router, prefix="/integrations", tags=["integrations"])
api_router.include_router(integrations_callback_router)
api_router.include_router(enrichment_router, prefix="/enrichment", tags=["enrichment"])
api_router.include_router(billing_router, prefix="/billing", tags=["billing"])
api_router.include_router(billing_webhook_router)
api_router.include_router(sso_router, prefix="/sso", tags=["sso"])
api_router.include_router(team_router, prefix="/team", tags=["team"])
api_router.include_router(team_public_router, prefix="/team", tags=["team"])
api_router.include_router(team_auth_router, prefix="/auth", tags=["auth"])
api_router.include_router(me_router, prefix="/me", tags=["me"])
api_router.include_router(audit_router, prefix="/audit-log", tags=["audit"])

# Segment's HTTP Tracking API at the host root (`/v1/track`, `/v1/batch`, …): Segment's libraries append
# `/v1/<call>` to the host they are given, so it cannot live under /api/v1. Mounted by serving.main.
segment_router = APIRouter()
segment_router.include_router(events_router, prefix="/v1", tags=["segment"])
