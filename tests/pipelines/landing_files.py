"""Small hand-made landing files with known values (shared by the pipeline tests)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path


def at(day: date, hour: int = 12, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), UTC).isoformat().replace("+00:00", "Z")


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def intent_csv(as_of: date, *, p1: str, domain: str) -> str:
    rows = [
        "signal_type,account_domain,prospect_email,topic,strength,occurred_at,expires_at,provider",
        f"funding,,{p1},series b,1.0,{at(as_of - timedelta(days=14))},,bombora",
        f"website_visit,,{p1},pricing,2.0,{at(as_of, 1)},,bombora",
        f"news,,{p1},press,1.0,{at(as_of - timedelta(days=3))},{at(as_of - timedelta(days=1), 0)},bombora",
        f"job_posting,{domain},,revops hire,1.0,{at(as_of, 1)},,bombora",
        f"funding,{domain},,bad row,abc,{at(as_of)},,bombora",
    ]
    return "\n".join(rows) + "\n"


def sendgrid_batch(as_of: date, *, p1: str) -> str:
    stamp = int(datetime.combine(as_of - timedelta(days=1), time(9), UTC).timestamp())
    events = [{"email": p1, "timestamp": stamp + n, "event": kind, "sg_event_id": f"evt-{kind}",
               "sg_message_id": "msg-1", "url": "https://acme.test/pricing" if kind == "click" else None}
              for n, kind in enumerate(["processed", "delivered", "open", "click"])]
    return json.dumps([{k: v for k, v in e.items() if v is not None} for e in events])


def segment_jsonl(as_of: date, *, p1: str) -> str:
    day = as_of - timedelta(days=1)
    messages = [
        {"type": "page", "anonymousId": "anon-1", "messageId": "m-1", "timestamp": at(day, 10),
         "properties": {"path": "/pricing", "url": "https://acme.test/pricing"}},
        {"type": "page", "anonymousId": "anon-1", "messageId": "m-2", "timestamp": at(day, 10, 2),
         "properties": {"path": "/blog/hello"}},
        {"type": "identify", "anonymousId": "anon-1", "userId": "u-1", "messageId": "m-3",
         "timestamp": at(day, 10, 5), "traits": {"email": p1}},
        {"batch": [{"type": "track", "anonymousId": "anon-2", "event": "Signed Up", "messageId": "m-4",
                    "timestamp": at(day, 11)}]},
    ]
    return "\n".join(json.dumps(m) for m in messages) + "\n{not json\n"


def enrichment_json(*, domain: str) -> str:
    return json.dumps([
        {"entity_type": "company", "provider": "zoominfo", "fetched_at": "2025-01-01T00:00:00Z", "domain": domain,
         "industry": "software", "employees": 120},
        {"entity_type": "company", "provider": "clearbit", "fetched_at": "2025-06-01T00:00:00Z", "domain": domain,
         "industry": "saas", "technologies": ["salesforce", "segment", "snowflake"]},
        {"entity_type": "person", "provider": "clearbit", "fetched_at": "2025-06-01T00:00:00Z"},
    ])
