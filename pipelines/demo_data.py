"""Deterministic demo landing files in every format, vectorised (numpy + polars) so 1,000,000 prospects work.

Each prospect gets a latent propensity: high for prospects the CRM already shows as engaged/qualified/
converted or attached to won deals, random otherwise. Intent signals, email engagement and website visits
are drawn from it, so intent and engagement correlate with meetings and wins and models have signal.
Prospects beyond those in the CRM are synthesized at the demo accounts' domains (unknown leads).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import psycopg

from pipelines.ingest.landing import Landing
from pipelines.ingest.ledger import psycopg_conninfo
from revorc.demo import DEMO_SLUG
from serving.core.config import NotConfigured, Settings

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 250_000
SIGNAL_TYPES = np.array(["website_visit", "linkedin_engagement", "job_posting", "technographic_change", "funding",
                         "news"])
PAGES = np.array(["/", "/blog/revops-playbook", "/product", "/customers", "/pricing", "/demo", "/contact-sales",
                  "/docs/api", "/careers"])
INDUSTRIES = np.array(["software", "fintech", "healthcare", "manufacturing", "retail", "logistics"])
TECHS = ["salesforce", "hubspot", "segment", "snowflake", "outreach", "gong", "zendesk", "stripe"]
HOT_STATUSES = ("engaged", "qualified", "converted")


@dataclass
class LandingSummary:
    files: int
    rows: dict[str, int]


def _people(settings: Settings, prospects: int, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str]]:
    with psycopg.connect(psycopg_conninfo(settings.owner_database_url)) as conn:
        org = conn.execute("select id from app.organizations where slug = %s", (DEMO_SLUG,)).fetchone()
        if org is None:
            raise NotConfigured("the demo organization does not exist: run `revorc seed-demo` first")
        rows = conn.execute(
            "select p.email, coalesce(a.domain, split_part(p.email, '@', 2)), p.status,"
            " exists (select 1 from app.deal_contacts dc join app.deals d on d.id = dc.deal_id"
            "         where dc.prospect_id = p.id and d.stage = 'closed_won')"
            " from app.prospects p left join app.accounts a on a.id = p.account_id"
            " where p.organization_id = %s order by p.email limit %s", (org[0], prospects)).fetchall()
        domains = [r[0] for r in conn.execute(
            "select domain from app.accounts where organization_id = %s and domain is not null order by domain",
            (org[0],)).fetchall()] or ["example.com"]
    known = pl.DataFrame(rows, schema=["email", "domain", "status", "won"], orient="row") if rows else None
    extra = prospects - (known.height if known is not None else 0)
    frames = [] if known is None else [known.with_columns(
        hot=pl.col("status").is_in(HOT_STATUSES) | pl.col("won"))]
    if extra > 0:
        index = np.arange(extra)
        picked = np.asarray(domains)[rng.integers(0, len(domains), extra)]
        frames.append(pl.DataFrame({"email": [f"lead{i}@{d}" for i, d in zip(index, picked, strict=True)],
                                    "domain": picked}).with_columns(hot=pl.lit(False)))
    people = pl.concat([f.select("email", "domain", "hot") for f in frames], how="vertical")
    base = rng.beta(1.2, 4.0, people.height)
    propensity = np.where(people["hot"].to_numpy(), np.clip(base + 0.45, 0, 1), base)
    return people.with_columns(propensity=pl.Series(propensity)), domains


def _timestamps(rng: np.random.Generator, n: int, now: datetime, max_days: float) -> np.ndarray:
    seconds = (rng.random(n) * max_days * 86400).astype("int64")
    return np.datetime64(now.replace(tzinfo=None), "s") - seconds.astype("timedelta64[s]")


def _iso(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype("datetime64[ms]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def demo_landing(settings: Settings, *, prospects: int, seed: int, now: datetime | None = None,
                 landing_url: str | None = None, batch: str = "") -> LandingSummary:
    """Write intent (CSV+JSON), SendGrid (JSON lines), Segment (JSON lines), enrichment (CSV+JSON) and the
    Maven CRM export under `<landing>/<source>/<demo slug>/seed-<seed>/`. Same seed and `now` → same bytes."""
    rng = np.random.default_rng(seed)
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    landing = Landing(landing_url or str(settings.home / "landing"))
    people, domains = _people(settings, prospects, rng)
    folder = f"{DEMO_SLUG}/seed-{seed}{'/' + batch if batch else ''}"
    files, rows = 0, {"intent_signals": 0, "email_events": 0, "website_events": 0, "enrichment_records": 0}
    for start in range(0, people.height, CHUNK):
        chunk = people.slice(start, CHUNK)
        part = f"part-{start // CHUNK:04d}"
        p = chunk["propensity"].to_numpy()
        emails = chunk["email"].to_numpy()
        # intent signals: Poisson(4·propensity) per prospect, recent and strong for hot prospects
        counts = rng.poisson(4 * p)
        who = np.repeat(np.arange(chunk.height), counts)
        n = who.size
        occurred = _timestamps(rng, n, now, 180)
        intent = pl.DataFrame({
            "signal_type": SIGNAL_TYPES[rng.choice(6, n, p=[0.4, 0.2, 0.1, 0.1, 0.05, 0.15])],
            # explicit String dtype: an empty chunk would otherwise become an unwritable Object column
            "account_domain": chunk["domain"].gather(who),
            "prospect_email": chunk["email"].gather(who).zip_with(
                pl.Series(rng.random(n) < 0.7), pl.repeat(None, n, dtype=pl.String, eager=True)),
            "topic": np.array(["sales engagement", "revenue intelligence", "crm migration"])[rng.integers(0, 3, n)],
            "strength": np.round(0.2 + 0.8 * p[who] * rng.random(n) + 0.3 * p[who], 3),
            "occurred_at": _iso(occurred),
            "expires_at": _iso(occurred + np.timedelta64(90, "D")),
            "provider": np.array(["bombora", "g2", "6sense"])[rng.integers(0, 3, n)],
        })
        half = intent.height // 2
        landing.write(f"intent_signals/{folder}/{part}.csv", intent.slice(0, half).write_csv().encode())
        landing.write(f"intent_signals/{folder}/{part}.jsonl", intent.slice(half).write_ndjson().encode())
        rows["intent_signals"] += n
        files += 2
        # email: sends per prospect; delivered 97%; opens/clicks/replies rise with propensity
        sends = rng.poisson(3, chunk.height) + 1
        who = np.repeat(np.arange(chunk.height), sends)
        m = who.size
        sent_at = _timestamps(rng, m, now, 270)
        message = np.char.add(f"{seed}-{start}-", np.arange(m).astype(str))
        delivered = rng.random(m) < 0.97
        opened = delivered & (rng.random(m) < 0.15 + 0.6 * p[who])
        clicked = opened & (rng.random(m) < 0.2 + 0.4 * p[who])
        replied = opened & (rng.random(m) < 0.05 + 0.35 * p[who])
        bounced = ~delivered
        stages = [("processed", np.ones(m, bool), 0), ("delivered", delivered, 60), ("bounce", bounced, 60),
                  ("open", opened, 3600), ("click", clicked, 3700), ("reply", replied, 7200)]
        events = pl.concat([
            pl.DataFrame({"email": chunk["email"].gather(who).filter(pl.Series(mask)), "event": kind,
                          "sg_event_id": np.char.add(message[mask], f":{kind}"), "sg_message_id": message[mask],
                          "timestamp": (sent_at[mask].astype("int64") + offset)})
            for kind, mask, offset in stages if mask.any()
        ]).sort("timestamp")
        landing.write(f"email_events/{folder}/{part}.jsonl", events.write_ndjson().encode())
        rows["email_events"] += events.height
        files += 1
        # website: sessions ~ Poisson(3·propensity), 1–5 pages each; identify on the first visit of half of them
        visits = rng.poisson(3 * p)
        who = np.repeat(np.arange(chunk.height), visits)
        pages_per = rng.integers(1, 6, who.size)
        page_who = np.repeat(who, pages_per)
        k = page_who.size
        session_start = np.repeat(_timestamps(rng, who.size, now, 180), pages_per)
        step = np.concatenate([np.arange(c) for c in pages_per]) if k else np.array([], dtype=int)
        hot_pages = rng.random(k) < 0.1 + 0.5 * p[page_who]
        paths = np.where(hot_pages, PAGES[rng.integers(4, 7, k)], PAGES[rng.choice([0, 1, 2, 3, 7, 8], k)])
        anonymous = np.char.add("anon-", np.char.add(str(seed), np.char.add("-", (start + page_who).astype(str))))
        web = pl.DataFrame({
            "type": "page", "anonymousId": anonymous,
            "messageId": np.char.add(f"web-{seed}-{start}-", np.arange(k).astype(str)),
            "timestamp": _iso(session_start + (step * 45).astype("timedelta64[s]")),
            "properties": pl.DataFrame({"path": paths}).to_struct("properties"),
        })
        ident = np.unique(page_who)
        ident = ident[rng.random(ident.size) < 0.5]
        identify = pl.DataFrame({
            "type": "identify", "anonymousId": np.char.add("anon-", np.char.add(
                str(seed), np.char.add("-", (start + ident).astype(str)))),
            "messageId": np.char.add(f"idf-{seed}-{start}-", ident.astype(str)),
            "timestamp": _iso(np.full(ident.size, np.datetime64(now.replace(tzinfo=None), "s"))),
            "traits": pl.DataFrame({"email": emails[ident]}).to_struct("traits"),
        })
        body = web.write_ndjson() + identify.write_ndjson()
        landing.write(f"website_events/{folder}/{part}.jsonl", body.encode())
        rows["website_events"] += web.height + identify.height
        files += 1
        # person enrichment for 30%
        enriched = np.flatnonzero(rng.random(chunk.height) < 0.3)
        person = pl.DataFrame({
            "entity_type": "person", "provider": np.where(rng.random(enriched.size) < 0.5, "apollo", "pdl"),
            "fetched_at": _iso(_timestamps(rng, enriched.size, now, 120)), "email": emails[enriched],
            "seniority": np.array(["c_level", "vp", "director", "manager", "individual"])[
                rng.integers(0, 5, enriched.size)],
        })
        landing.write(f"enrichment_records/{folder}/{part}-people.csv", person.write_csv().encode())
        rows["enrichment_records"] += person.height
        files += 1
    # company enrichment: two providers disagreeing, so the waterfall has work to do
    d = np.asarray(domains)
    companies = []
    for provider, offset in (("zoominfo", 100), ("clearbit", 10)):
        companies.append(pl.DataFrame({
            "entity_type": "company", "provider": provider, "fetched_at": _iso(_timestamps(rng, d.size, now, offset)),
            "domain": d, "industry": INDUSTRIES[rng.integers(0, len(INDUSTRIES), d.size)],
            "employees": rng.choice([40, 150, 600, 2500, 9000], d.size),
            "technologies": [";".join(rng.choice(TECHS, rng.integers(1, 5), replace=False)) for _ in range(d.size)],
        }))
    landing.write(f"enrichment_records/{folder}/companies-zoominfo.csv", companies[0].write_csv().encode())
    clearbit = [{**r, "technologies": r["technologies"].split(";")} for r in companies[1].to_dicts()]
    landing.write(f"enrichment_records/{folder}/companies-clearbit.json", json.dumps(clearbit).encode())
    rows["enrichment_records"] += 2 * d.size
    files += 2
    crm = Path(landing.root) / "crm" / DEMO_SLUG / "maven_crm"
    if landing.fs.protocol in ("file", ("file", "local")) or isinstance(landing.fs.protocol, tuple):
        crm.mkdir(parents=True, exist_ok=True)
        for name in ("accounts.csv", "products.csv", "sales_teams.csv", "sales_pipeline.csv"):
            shutil.copyfile(ROOT / "datasets/maven_crm" / name, crm / name)
        files += 4
    return LandingSummary(files, rows)


def increment(settings: Settings, *, fraction: float, seed: int) -> LandingSummary:
    """A new batch of about `fraction` of the data set (the benchmark's incremental run)."""
    with psycopg.connect(psycopg_conninfo(settings.owner_database_url)) as conn:
        total = conn.execute("select count(*) from app.prospects").fetchone()[0]
    return demo_landing(settings, prospects=max(1, int(total * fraction)), seed=seed,
                        now=datetime.now(UTC) + timedelta(hours=1))
