"""Write mart values back to `app` in batches, touching only rows whose values changed; and audit that `app` is
in step with the mart afterwards (the reverse-ETL asset checks)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

BATCH_SIZE = 5000

# When an app row (a) differs from its mart row (m): the write-back's filter and the checks' audit share these.
PROSPECT_INTENT_DIFFERS = ("a.intent_score is distinct from m.intent_score"
                           " or a.intent_tier is distinct from m.intent_tier")
ACCOUNT_INTENT_DIFFERS = PROSPECT_INTENT_DIFFERS
ACCOUNT_HEALTH_DIFFERS = "a.health_score is distinct from m.health_score"
DEAL_RISK_DIFFERS = ("a.risk_score is distinct from m.risk_score"
                     " or a.ai_analysis -> 'risk' -> 'reasons' is distinct from to_jsonb(m.risk_reasons)"
                     " or a.ai_analysis -> 'risk' ->> 'level' is distinct from m.risk_level")


def _intent_update(table: str, mart: str, key: str, rows: str) -> str:
    """Copy a mart's intent score and tier onto the `app` rows `rows` selects from it, changed rows only."""
    return f"""
update app.{table} as a
set intent_score = m.intent_score, intent_tier = m.intent_tier, updated_at = now()
from (
    select {key}, intent_score, intent_tier from analytics.{mart}
    where {rows}
) as m
where a.id = m.{key}
  and ({PROSPECT_INTENT_DIFFERS})
"""


PROSPECT_INTENT = _intent_update("prospects", "fct_prospect_intent", "prospect_id",
                                 "prospect_id > %(after)s order by prospect_id limit %(limit)s")
ACCOUNT_INTENT = _intent_update("accounts", "fct_account_intent", "account_id",
                                "account_id > %(after)s order by account_id limit %(limit)s")
# The freshness micro-batch's write-backs: the same updates for just the entities its events concern.
PROSPECT_INTENT_FOR = _intent_update("prospects", "fct_prospect_intent", "prospect_id",
                                     "prospect_id = any(%(ids)s::uuid[])")
ACCOUNT_INTENT_FOR = _intent_update("accounts", "fct_account_intent", "account_id",
                                    "account_id = any(%(ids)s::uuid[])")

# Matching the organization too: a mart row only ever updates its own organization's account.
ACCOUNT_HEALTH = """
update app.accounts as a
set health_score = m.health_score, updated_at = now()
from (
    select account_id, organization_id, health_score from analytics.dim_account_health
    where account_id > %(after)s order by account_id limit %(limit)s
) as m
where a.id = m.account_id and a.organization_id = m.organization_id
  and (""" + ACCOUNT_HEALTH_DIFFERS + ")\n"

DEAL_RISK = """
update app.deals as a
set risk_score = m.risk_score,
    ai_analysis = a.ai_analysis || jsonb_build_object('risk', jsonb_build_object(
        'score', m.risk_score, 'level', m.risk_level, 'reasons', to_jsonb(m.risk_reasons),
        'as_of', m.as_of_date)),
    updated_at = now()
from (
    select deal_id, risk_score, risk_level, risk_reasons, as_of_date from analytics.fct_deal_health
    where deal_id > %(after)s order by deal_id limit %(limit)s
) as m
where a.id = m.deal_id
  and (""" + DEAL_RISK_DIFFERS + ")\n"

KEYS = {PROSPECT_INTENT: ("analytics.fct_prospect_intent", "prospect_id"),
        ACCOUNT_INTENT: ("analytics.fct_account_intent", "account_id"),
        ACCOUNT_HEALTH: ("analytics.dim_account_health", "account_id"),
        DEAL_RISK: ("analytics.fct_deal_health", "deal_id")}


def write_back_ids(conn: psycopg.Connection, statement: str, ids: list[str], *,
                   batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """`PROSPECT_INTENT_FOR` / `ACCOUNT_INTENT_FOR` for `ids`, in batches of their own transaction."""
    changed = batches = 0
    for start in range(0, len(ids), batch_size):
        with conn.transaction():
            changed += conn.execute(statement, {"ids": ids[start:start + batch_size]}).rowcount
        batches += 1
    return {"rows_scanned": len(ids), "rows_changed": changed, "batches": batches}


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


@dataclass(frozen=True)
class Target:
    """One write-back as the checks see it: which mart row feeds which app row, and when they disagree."""

    name: str  # the reverse-ETL asset
    mart: str
    key: str
    app: str
    differs: str
    newer: str = "false"  # the app row carries a value from a later mart run than the mart now holds


TARGETS = [
    Target("prospect_intent_scores", "analytics.fct_prospect_intent", "prospect_id", "app.prospects",
           PROSPECT_INTENT_DIFFERS),
    Target("account_intent_scores", "analytics.fct_account_intent", "account_id", "app.accounts",
           ACCOUNT_INTENT_DIFFERS),
    Target("account_health_scores", "analytics.dim_account_health", "account_id", "app.accounts",
           ACCOUNT_HEALTH_DIFFERS),
    # ISO dates compare as text, so a malformed as_of cannot break the audit
    Target("deal_risk_scores", "analytics.fct_deal_health", "deal_id", "app.deals", DEAL_RISK_DIFFERS,
           newer="a.ai_analysis -> 'risk' ->> 'as_of' > m.as_of_date::text"),
]

AUDIT = """
select m.organization_id::text as organization_id,
       count(*) as mart_rows,
       count(a.id) as app_rows,
       count(a.id) filter (where {differs}) as out_of_step,
       count(a.id) filter (where {newer}) as newer_than_mart
from {mart} as m
left join {app} as a on a.id = m.{key} and a.organization_id = m.organization_id
group by m.organization_id
order by m.organization_id
"""


def audit(conn: psycopg.Connection, target: Target) -> list[dict]:
    """Per organization in the mart: its mart rows, the app rows they match in the same organization, the matched
    rows whose values still differ from the mart, and those carrying a value newer than the mart's."""
    schema, table = target.mart.split(".")
    app_schema, app_table = target.app.split(".")
    statement = sql.SQL(AUDIT).format(
        differs=sql.SQL(target.differs), newer=sql.SQL(target.newer), mart=sql.Identifier(schema, table),
        app=sql.Identifier(app_schema, app_table), key=sql.Identifier(target.key))
    columns = ("organization_id", "mart_rows", "app_rows", "out_of_step", "newer_than_mart")
    return [dict(zip(columns, row, strict=True)) for row in conn.execute(statement).fetchall()]
