"""The marketplace catalogue: the seed's pre-built integrations (5.1). A row is `available` only when it works end to
end: its connector is registered in `CONNECTORS`, or it is an enrichment vendor, set up (key, priority, cost, cap)
with the enrichment providers (`/api/v1/enrichment/providers/{key}`, docs/enrichment.md) rather than installed here;
every other one is honestly `planned`."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.enrichment.models import EnrichmentProviderName
from serving.integrations.connectors import CONNECTORS
from serving.integrations.models import AuthType, IntegrationMarketplace, MarketplaceStatus

# key, name, category, auth type, description — categories are the seed's nine
CATALOGUE: tuple[tuple[str, str, str, AuthType, str], ...] = (
    ("salesforce", "Salesforce", "crm", AuthType.oauth2, "Two-way sync of contacts, accounts and opportunities."),
    ("hubspot", "HubSpot", "crm", AuthType.oauth2, "Two-way sync of contacts, companies and deals."),
    ("pipedrive", "Pipedrive", "crm", AuthType.oauth2, "Sync persons, organizations and deals."),
    ("gmail", "Gmail", "email", AuthType.oauth2, "Send and track e-mail from Gmail."),
    ("outlook", "Outlook", "email", AuthType.oauth2, "Send and track e-mail from Outlook."),
    ("sendgrid", "SendGrid", "email", AuthType.api_key, "Transactional e-mail delivery."),
    ("mailchimp", "Mailchimp", "email", AuthType.oauth2, "Sync audiences."),
    ("google_calendar", "Google Calendar", "calendar", AuthType.oauth2, "Meetings with prospects on the timeline."),
    ("outlook_calendar", "Outlook Calendar", "calendar", AuthType.oauth2, "Meetings with prospects."),
    ("calendly", "Calendly", "calendar", AuthType.api_key, "Booked meetings become timeline activities."),
    ("slack", "Slack", "communication", AuthType.oauth2, "Post chosen events to a Slack channel."),
    ("twilio", "Twilio", "communication", AuthType.api_key, "SMS notifications."),
    ("intercom", "Intercom", "communication", AuthType.oauth2, "Conversations with prospects."),
    ("clearbit", "Clearbit", "enrichment", AuthType.api_key, "Company and person enrichment."),
    ("zoominfo", "ZoomInfo", "enrichment", AuthType.api_key, "Company and contact data."),
    ("apollo", "Apollo.io", "enrichment", AuthType.api_key, "Contact data and e-mail finding."),
    ("linkedin_sales_navigator", "LinkedIn Sales Navigator", "social", AuthType.oauth2, "Social selling."),
    ("stripe", "Stripe", "payment", AuthType.api_key, "Payments and subscriptions."),
    ("zapier", "Zapier", "automation", AuthType.api_key, "Connect to thousands of apps."),
    ("segment", "Segment", "analytics", AuthType.api_key, "Product events in."),
    ("mixpanel", "Mixpanel", "analytics", AuthType.api_key, "Product analytics."),
)


def setup_path(key: str) -> str | None:
    """Where an integration that is not installed through `/integrations/install` is set up."""
    return f"/api/v1/enrichment/providers/{key}" if key in EnrichmentProviderName.__members__ else None


def works(key: str) -> bool:
    return key in CONNECTORS or setup_path(key) is not None


def sync_marketplace(session: Session) -> None:
    """Upserts the catalogue (run at deploy and by tests); status follows the registry. Does not commit."""
    for key, name, category, auth_type, description in CATALOGUE:
        status = MarketplaceStatus.available if works(key) else MarketplaceStatus.planned
        values = {"name": name, "category": category, "auth_type": auth_type, "description": description,
                  "status": status}
        statement = insert(IntegrationMarketplace).values(id=uuid.uuid4(), key=key, **values)
        session.execute(statement.on_conflict_do_update(index_elements=[IntegrationMarketplace.key], set_=values))
