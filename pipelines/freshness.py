"""The freshness micro-batch's SQL: which score-moving raw rows arrived since a cursor, and which prospects and
accounts they concern once the freshness dbt build has attributed them.

A cursor is the highest `id` seen per raw table (identity keys, so `max(id)` and `id > n` are primary-key lookups).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# Raw rows that can move an intent or lead score: page and track calls (sessions, high-intent pages), e-mail
# engagement (the lead-score features count opens, clicks and replies), and every intent signal.
SCORE_MOVING = {
    "website_events": "type in ('page', 'track')",
    "email_events": "event in ('open', 'click', 'reply')",
    "intent_signals": "true",
}
TABLES = tuple(SCORE_MOVING)

Cursor = dict[str, int]


def parse_cursor(value: str | None) -> Cursor:
    """A sensor cursor ("website_events=12,email_events=3,…") as ids per table; missing tables start at 0."""
    cursor = dict.fromkeys(TABLES, 0)
    for part in (value or "").split(","):
        name, _, number = part.partition("=")
        if name in cursor and number.isdigit():
            cursor[name] = int(number)
    return cursor


def format_cursor(cursor: Cursor) -> str:
    return ",".join(f"{name}={cursor[name]}" for name in TABLES)


def watermarks(conn: psycopg.Connection) -> Cursor:
    """The highest id per raw table now (0 when empty)."""
    row = conn.execute("select " + ", ".join(f"(select coalesce(max(id), 0) from raw.{t})" for t in TABLES)
                       ).fetchone()
    return dict(zip(TABLES, (int(v) for v in row), strict=True))


def score_moving_since(conn: psycopg.Connection, after: Cursor, upto: Cursor) -> dict[str, bool]:
    """Per table: did a score-moving row arrive in (after, upto]? A range scan of the primary key."""
    row = conn.execute("select " + ", ".join(
        f"exists (select 1 from raw.{t} where id > %s and id <= %s and {SCORE_MOVING[t]})" for t in TABLES),
        [v for t in TABLES for v in (after[t], upto[t])]).fetchone()
    return dict(zip(TABLES, row, strict=True))


# The prospects the new rows concern, as dbt attributes them: website events through their prospect attribution
# (e-mail, userId or the identify map), e-mail events by prospect id else by address in the organization, intent
# signals through the entity attribution (account-level signals reach every prospect of the account). The entity
# attribution also holds high-intent page views (signal_source 'website_events', ids of raw.website_events): the
# intent cursor compares only third-party signal ids; page views arrive through the website branch.
AFFECTED_PROSPECTS = """
select distinct organization_id::text, prospect_id::text from (
    select w.organization_id, w.prospect_id from analytics.int_website__events_attributed as w
    where w.website_event_id > %(website_events)s and w.prospect_id is not null
    union all
    select e.organization_id, coalesce(e.prospect_id, p.id)
    from raw.email_events as e
    left join app.prospects as p on p.organization_id = e.organization_id and lower(p.email) = lower(e.email)
    where e.id > %(email_events)s and e.organization_id is not null
    union all
    select s.organization_id, s.entity_id from analytics.int_intent__entity_signals as s
    where s.signal_source = 'intent_signals' and s.signal_id > %(intent_signals)s and s.entity_type = 'prospect'
) as affected
where prospect_id is not null
"""

AFFECTED_ACCOUNTS = """
select distinct account_id::text from (
    select p.account_id from app.prospects as p where p.id = any(%(prospects)s::uuid[])
    union all
    select s.entity_id from analytics.int_intent__entity_signals as s
    where s.signal_source = 'intent_signals' and s.signal_id > %(intent_signals)s and s.entity_type = 'account'
) as affected
where account_id is not null
"""


@dataclass(frozen=True)
class Affected:
    prospects: dict[str, list[str]]  # organization id → prospect ids
    accounts: list[str]

    @property
    def prospect_ids(self) -> list[str]:
        return [p for ids in self.prospects.values() for p in ids]


def affected_entities(conn: psycopg.Connection, after: Cursor) -> Affected:
    """Prospects (per organization) and accounts concerned by raw rows with ids above `after`."""
    prospects: dict[str, list[str]] = {}
    for org, prospect in conn.execute(AFFECTED_PROSPECTS, after).fetchall():
        prospects.setdefault(org, []).append(prospect)
    ids = [p for group in prospects.values() for p in group]
    accounts = [a for (a,) in conn.execute(AFFECTED_ACCOUNTS, {**after, "prospects": ids}).fetchall()]
    return Affected({org: sorted(group) for org, group in sorted(prospects.items())}, sorted(accounts))
