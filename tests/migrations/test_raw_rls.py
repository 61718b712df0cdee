"""Row-level security on `raw`: the read-only role sees one organization's landed rows and landing folders; the API
role may append but never read."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.config import APP_ROLE, READONLY_ROLE
from tests.pg import as_role


def _seed(conn, org: uuid.UUID, slug: str) -> None:
    conn.execute("insert into app.organizations (id, name, slug) values (%s, %s, %s)", (org, slug, slug))
    conn.execute("insert into raw.email_events (organization_id, sg_event_id, event, email, occurred_at, payload,"
                 " source) values (%s, %s, 'open', 'a@b.test', now(), '{}', 'test')", (org, f"ev-{slug}"))
    conn.execute("insert into raw.intent_signals (organization_id, signal_type, account_domain, strength,"
                 " occurred_at, source) values (%s, 'funding', 'b.test', 0.5, now(), 'test')", (org,))
    conn.execute("insert into raw.rejected_records (source, source_file, reason, payload) values"
                 " ('intent_signals', %s, 'bad strength', 'jane@secret.test,abc')",
                 (f"intent_signals/{slug}/feed.csv",))
    conn.execute("insert into raw.file_ledger (source, path, checksum, size_bytes, status) values"
                 " ('intent_signals', %s, 'x', 1, 'rejected')", (f"intent_signals/{slug}/feed.csv",))


def _visible(url: str, org: uuid.UUID | None) -> dict[str, int]:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        if org is not None:
            conn.execute("select set_config('app.organization_id', %s, false)", (str(org),))
        return {table: conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
                for table in ("email_events", "intent_signals", "rejected_records", "file_ledger")}


def test_readonly_role_sees_only_its_organizations_raw_rows(fresh_database):
    a, b = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as owner:
        _seed(owner, a, f"org-a-{a.hex[:6]}")
        _seed(owner, b, f"org-b-{b.hex[:6]}")
        # a folder named by the organization's id counts as its own too
        owner.execute("insert into raw.rejected_records (source, source_file, reason) values"
                      " ('email_events', %s, 'not JSON')", (f"email_events/{a}/batch.json",))
        owner.execute("insert into raw.rejected_records (source, request_id, reason) values"
                      " ('segment', 'req-1', 'missing userId')")  # an API reject: no folder
    readonly = as_role(fresh_database, READONLY_ROLE)
    assert _visible(readonly, a) == {"email_events": 1, "intent_signals": 1, "rejected_records": 2, "file_ledger": 1}
    assert _visible(readonly, b) == {"email_events": 1, "intent_signals": 1, "rejected_records": 1, "file_ledger": 1}
    assert _visible(readonly, None) == {"email_events": 0, "intent_signals": 0, "rejected_records": 0,
                                        "file_ledger": 0}
    with psycopg.connect(psycopg_conninfo(readonly)) as conn:
        conn.execute("select set_config('app.organization_id', %s, false)", (str(b),))
        payloads = [r[0] for r in conn.execute("select source_file from raw.rejected_records").fetchall()]
        assert payloads == [f"intent_signals/org-b-{b.hex[:6]}/feed.csv"]
    # the owner (pipelines, dbt) still sees everything
    assert _visible(fresh_database, None) == {"email_events": 2, "intent_signals": 2, "rejected_records": 4,
                                              "file_ledger": 2}


def test_api_role_appends_to_raw_but_cannot_read_it(fresh_database):
    app_url = as_role(fresh_database, APP_ROLE)
    with psycopg.connect(psycopg_conninfo(app_url), autocommit=True) as conn:
        conn.execute("insert into raw.rejected_records (source, request_id, reason) values ('segment', 'r', 'x')")
        conn.execute("insert into raw.email_events (sg_event_id, event, occurred_at, payload, source) values"
                      " ('dup', 'open', now(), '{}', 'api') on conflict do nothing")
        conn.execute("insert into raw.email_events (sg_event_id, event, occurred_at, payload, source) values"
                     " ('dup', 'open', now(), '{}', 'api') on conflict do nothing")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.email_events")
