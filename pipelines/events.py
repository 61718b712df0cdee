"""Domain events the pipelines discover, published through the outbox (`serving.core.outbox`).

Set-wise and deduplicated: a re-run of the same day publishes nothing twice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from serving.core import outbox

INTENT_SPIKE = "intent.spike_detected"

# One event per prospect and score day with a spike (fct_prospect_intent.is_spike).
INTENT_SPIKES = """
select i.organization_id, i.prospect_id as subject_id,
       jsonb_build_object('prospectId', i.prospect_id, 'accountId', i.account_id,
                          'scoreDate', i.as_of_date::text, 'intentScore', i.intent_score,
                          'tier', i.intent_tier, 'baselineScore', i.baseline_score) as payload,
       concat_ws(':', i.prospect_id, i.as_of_date) as dedupe_key,
       now() as occurred_at
from analytics.fct_prospect_intent as i
where i.is_spike
"""


def publish_intent_spikes(session: Session) -> int:
    """Publish today's spikes in the caller's transaction; returns how many events were new."""
    return outbox.publish_select(session, type=INTENT_SPIKE, select_sql=INTENT_SPIKES, params={})
