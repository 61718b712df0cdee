"""Write mart values back to `app` in batches, touching only rows whose values changed."""

from __future__ import annotations

import psycopg

BATCH_SIZE = 5000

PROSPECT_INTENT = """
update app.prospects as p
set intent_score = m.intent_score, intent_tier = m.intent_tier, updated_at = now()
from (
    select prospect_id, intent_score, intent_tier from analytics.fct_prospect_intent
    where prospect_id > %(after)s order by prospect_id limit %(limit)s
) as m
where p.id = m.prospect_id
  and (p.intent_score is distinct from m.intent_score or p.intent_tier is distinct from m.intent_tier)
"""

ACCOUNT_INTENT = """
update app.accounts as a
set intent_score = m.intent_score, intent_tier = m.intent_tier, updated_at = now()
from (
    select account_id, intent_score, intent_tier from analytics.fct_account_intent
    where account_id > %(after)s order by account_id limit %(limit)s
) as m
where a.id = m.account_id
  and (a.intent_score is distinct from m.intent_score or a.intent_tier is distinct from m.intent_tier)
"""

# Matching the organization too: a mart row only ever updates its own organization's account.
ACCOUNT_HEALTH = """
update app.accounts as a
set health_score = m.health_score, updated_at = now()
from (
    select account_id, organization_id, health_score from analytics.dim_account_health
    where account_id > %(after)s order by account_id limit %(limit)s
) as m
where a.id = m.account_id and a.organization_id = m.organization_id
  and a.health_score is distinct from m.health_score
"""

DEAL_RISK = """
update app.deals as d
set risk_score = m.risk_score,
    ai_analysis = d.ai_analysis || jsonb_build_object('risk', jsonb_build_object(
        'score', m.risk_score, 'level', m.risk_level, 'reasons', to_jsonb(m.risk_reasons),
        'as_of', m.as_of_date)),
    updated_at = now()
from (
    select deal_id, risk_score, risk_level, risk_reasons, as_of_date from analytics.fct_deal_health
    where deal_id > %(after)s order by deal_id limit %(limit)s
) as m
where d.id = m.deal_id
  and (d.risk_score is distinct from m.risk_score
       or d.ai_analysis -> 'risk' -> 'reasons' is distinct from to_jsonb(m.risk_reasons)
       or d.ai_analysis -> 'risk' ->> 'level' is distinct from m.risk_level)
"""

KEYS = {PROSPECT_INTENT: ("analytics.fct_prospect_intent", "prospect_id"),
        ACCOUNT_INTENT: ("analytics.fct_account_intent", "account_id"),
        ACCOUNT_HEALTH: ("analytics.dim_account_health", "account_id"),
        DEAL_RISK: ("analytics.fct_deal_health", "deal_id")}


def write_back(conn: psycopg.Connection, statement: str, *, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Keyset-paginated batches, each its own transaction; returns rows scanned and rows changed."""
    table, key = KEYS[statement]
    after = "00000000-0000-0000-0000-000000000000"
    scanned = changed = batches = 0
    while True:
        with conn.transaction():
            keys = conn.execute(
                f"select {key} from {table} where {key} > %s order by {key} limit %s", (after, batch_size)
            ).fetchall()
            if not keys:
                break
            result = conn.execute(statement, {"after": after, "limit": batch_size})
            changed += result.rowcount
        scanned += len(keys)
        batches += 1
        after = str(keys[-1][0])
    return {"rows_scanned": scanned, "rows_changed": changed, "batches": batches}
