"""Deterministic demo landing files in every format, vectorised (numpy + polars) so 1,000,000 prospects work.

Each prospect gets a latent propensity: high for prospects the CRM already shows as engaged/qualified/
converted or attached to won deals, random otherwise. Intent signals, email engagement and website visits
are drawn from it, so intent and engagement correlate with meetings and wins and models have signal.
Buyers warm up before they convert: in the weeks before each meeting or deal the CRM holds for a prospect,
its intent signals, e-mail opens and pricing/demo page visits cluster (a buying journey), so the intent score
and recent engagement the nightly model sees at a snapshot predict a conversion in the following window.
Some prospects show the same burst and never convert (noise), and a few accounts surge right now (a cluster
of account-level signals over the last days), so every intent tier is populated and there are spikes to alert on.
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
from revorc.demo import DEMO_SLUG
from serving.core.config import NotConfigured, Settings
from serving.core.db import libpq_url

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 250_000
SIGNAL_TYPES = np.array(["website_visit", "linkedin_engagement", "job_posting", "technographic_change", "funding",
                         "news"])
PAGES = np.array(["/", "/blog/revops-playbook", "/product", "/customers", "/pricing", "/demo", "/contact-sales",
                  "/docs/api", "/careers"])
INDUSTRIES = np.array(["software", "fintech", "healthcare", "manufacturing", "retail", "logistics"])
TECHS = ["salesforce", "hubspot", "segment", "snowflake", "outreach", "gong", "zendesk", "stripe"]
HOT_STATUSES = ("engaged", "qualified", "converted")
# The buying journey before a conversion: how far back it starts and how many of each touch it holds.
JOURNEY_DAYS = 40
JOURNEY_SIGNALS, JOURNEY_VISITS, JOURNEY_SENDS = 12, 3, 2
# Prospects with a journey that never converts (window shopping), as a share of all prospects.
FALSE_JOURNEY_RATE = 0.04
# Journeys under way now (the meeting is up to 20 days ahead): 5 % of prospects plus up to 15 % by propensity.
OPEN_JOURNEY_RATE, OPEN_JOURNEY_PROPENSITY, OPEN_JOURNEY_AHEAD_DAYS = 0.05, 0.15, 20
# Accounts surging now: a share of the accounts (at least one), each with a burst of account-level signals.
SURGE_SHARE, SURGE_DAYS, SURGE_SIGNALS = 0.03, 4, 6
SURGE_TYPES = np.array(["funding", "job_posting", "technographic_change", "website_visit"])


@dataclass
class LandingSummary:
    files: int
    rows: dict[str, int]


def _people(settings: Settings, prospects: int, rng: np.random.Generator
            ) -> tuple[pl.DataFrame, list[str], pl.DataFrame]:
    """The prospects (with a propensity), the account domains and each conversion the CRM records for them
    (meetings booked or held, deals they are a contact on) as (email, converted_at)."""
    with psycopg.connect(libpq_url(settings.owner_database_url)) as conn:
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
        conversions = conn.execute(
            "select p.email, a.occurred_at from app.activities a join app.prospects p on p.id = a.prospect_id"
            " where a.organization_id = %s and a.type in ('meeting_scheduled', 'meeting_completed')"
            " union all select p.email, d.created_at from app.deal_contacts dc"
            " join app.deals d on d.id = dc.deal_id join app.prospects p on p.id = dc.prospect_id"
            " where dc.organization_id = %s order by 1, 2", (org[0], org[0])).fetchall()
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
    converted = pl.DataFrame(conversions, schema={"email": pl.String, "converted_at": pl.Datetime("us", "UTC")},
                             orient="row")
    return people.with_columns(propensity=pl.Series(propensity)), domains, converted


def _timestamps(rng: np.random.Generator, n: int, now: datetime, max_days: float) -> np.ndarray:
    seconds = (rng.random(n) * max_days * 86400).astype("int64")
    return np.datetime64(now.replace(tzinfo=None), "s") - seconds.astype("timedelta64[s]")


def _iso(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype("datetime64[ms]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _journeys(rng: np.random.Generator, who: np.ndarray, at: np.ndarray, keenness: np.ndarray, touches: float,
              now: datetime, days: float = JOURNEY_DAYS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Touches of each journey (prospect index, conversion time, keenness): Poisson(`touches` × keenness) per
    journey, spread over the `days` before it and denser close to it (interest builds up), none in the future.
    Returns each touch's prospect, time and keenness."""
    counts = rng.poisson(touches * keenness)
    owner, end, keen = np.repeat(who, counts), np.repeat(at, counts), np.repeat(keenness, counts)
    lead = (days * 86400 * rng.random(owner.size) ** 1.5).astype("int64").astype("timedelta64[s]")
    occurred = end - lead - np.timedelta64(3600, "s")
    keep = occurred <= np.datetime64(now.replace(tzinfo=None), "s")
    return owner[keep], occurred[keep], keen[keep]


def _intent_frame(rng: np.random.Generator, chunk: pl.DataFrame, who: np.ndarray, occurred: np.ndarray,
                  strength: np.ndarray, types: np.ndarray, with_email: float) -> pl.DataFrame:
    n = who.size
    return pl.DataFrame({
        "signal_type": types,
        # explicit String dtype: an empty chunk would otherwise become an unwritable Object column
        "account_domain": chunk["domain"].gather(who),
        "prospect_email": chunk["email"].gather(who).zip_with(
            pl.Series(rng.random(n) < with_email), pl.repeat(None, n, dtype=pl.String, eager=True)),
        "topic": np.array(["sales engagement", "revenue intelligence", "crm migration"])[rng.integers(0, 3, n)],
        "strength": np.round(strength, 3),
        "occurred_at": _iso(occurred),
        "expires_at": _iso(occurred + np.timedelta64(90, "D")),
        "provider": np.array(["bombora", "g2", "6sense"])[rng.integers(0, 3, n)],
    })


def demo_landing(settings: Settings, *, prospects: int, seed: int, now: datetime | None = None,
                 landing_url: str | None = None, batch: str = "", within: timedelta | None = None) -> LandingSummary:
    """Write intent (CSV+JSON), SendGrid (JSON lines), Segment (JSON lines), enrichment (CSV+JSON) and the
    Maven CRM export under `<landing>/<source>/<demo slug>/seed-<seed>/`. Same seed and `now` → same bytes.

    `within`: every event happened in the last `within` before `now` (what an hourly run finds landed: the
    same records, none of them history), and only the increment's own companies are re-enriched."""
    rng = np.random.default_rng(seed)
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    until = np.datetime64(now.replace(tzinfo=None), "s")

    def when(drawn: np.ndarray) -> np.ndarray:
        """The times drawn, or as many in the last `within` (none later than `now`)."""
        if within is None:
            return drawn
        return _timestamps(rng, drawn.size, now, within / timedelta(days=1))

    def by_now(times: np.ndarray) -> np.ndarray:
        """A follow-up's time (an open after its send): with `within`, never after `now`."""
        return times if within is None else np.minimum(times, until)
    landing = Landing(landing_url or str(settings.home / "landing"))
    people, domains, conversions = _people(settings, prospects, rng)
    known = conversions.join(people.select("email").with_row_index("who"), on="email", maintain_order="left")
    # window shoppers: the same journey ending at a random moment, with no conversion behind it; and journeys
    # under way, whose meeting is still ahead (what makes prospects warm, hot or burning today)
    shoppers = np.flatnonzero(rng.random(people.height) < FALSE_JOURNEY_RATE)
    p = people["propensity"].to_numpy()
    under_way = np.flatnonzero(rng.random(people.height) < OPEN_JOURNEY_RATE + OPEN_JOURNEY_PROPENSITY * p)
    ahead = (rng.random(under_way.size) * OPEN_JOURNEY_AHEAD_DAYS * 86400).astype("int64").astype("timedelta64[s]")
    journey_who = np.concatenate([known["who"].to_numpy().astype("int64"), shoppers, under_way])
    journey_at = np.concatenate([
        known["converted_at"].dt.replace_time_zone(None).to_numpy().astype("datetime64[s]"),
        _timestamps(rng, shoppers.size, now, 180), np.datetime64(now.replace(tzinfo=None), "s") + ahead])
    # some buyers are keener than others: a mild journey warms a prospect up, a keen one sets it burning
    journey_keenness = 0.4 + rng.beta(2, 2.5, journey_who.size)
    folder = f"{DEMO_SLUG}/seed-{seed}{'/' + batch if batch else ''}"
    files, rows = 0, {"intent_signals": 0, "email_events": 0, "website_events": 0, "enrichment_records": 0}
    for start in range(0, people.height, CHUNK):
        chunk = people.slice(start, CHUNK)
        part = f"part-{start // CHUNK:04d}"
        p = chunk["propensity"].to_numpy()
        emails = chunk["email"].to_numpy()
        # intent signals: Poisson(4·propensity) per prospect, recent and strong for hot prospects
        in_chunk = (journey_who >= start) & (journey_who < start + chunk.height)
        j_who, j_at, j_keen = journey_who[in_chunk] - start, journey_at[in_chunk], journey_keenness[in_chunk]
        counts = rng.poisson(4 * p)
        who = np.repeat(np.arange(chunk.height), counts)
        n = who.size
        background = _intent_frame(
            rng, chunk, who, when(_timestamps(rng, n, now, 180)), 0.2 + 0.8 * p[who] * rng.random(n) + 0.3 * p[who],
            SIGNAL_TYPES[rng.choice(6, n, p=[0.4, 0.2, 0.1, 0.1, 0.05, 0.15])], with_email=0.7)
        # the buying journey: strong website and LinkedIn signals about the prospect itself
        who, occurred, keen = _journeys(rng, j_who, j_at, j_keen, JOURNEY_SIGNALS, now)
        journey = _intent_frame(rng, chunk, who, when(occurred), keen * (0.7 + 0.3 * rng.random(who.size)),
                                SIGNAL_TYPES[rng.choice(3, who.size, p=[0.6, 0.3, 0.1])], with_email=0.9)
        intent = pl.concat([background, journey])
        n = intent.height
        half = intent.height // 2
        landing.write(f"intent_signals/{folder}/{part}.csv", intent.slice(0, half).write_csv().encode())
        landing.write(f"intent_signals/{folder}/{part}.jsonl", intent.slice(half).write_ndjson().encode())
        rows["intent_signals"] += n
        files += 2
        # email: sends per prospect; delivered 97%; opens/clicks/replies rise with propensity
        sends = rng.poisson(3, chunk.height) + 1
        who = np.repeat(np.arange(chunk.height), sends)
        sent_at = _timestamps(rng, who.size, now, 270)
        # during a journey the prospect opens and clicks what it is sent
        j_sends, j_sent_at, keen = _journeys(rng, j_who, j_at, j_keen, JOURNEY_SENDS, now, days=2 * JOURNEY_DAYS)
        keen = np.concatenate([np.zeros(who.size), keen / 2])
        who, sent_at = np.concatenate([who, j_sends]), when(np.concatenate([sent_at, j_sent_at]))
        m = who.size
        message = np.char.add(f"{seed}-{start}-", np.arange(m).astype(str))
        delivered = rng.random(m) < 0.97
        opened = delivered & (rng.random(m) < 0.15 + 0.6 * p[who] + keen)
        clicked = opened & (rng.random(m) < 0.2 + 0.4 * p[who] + keen)
        replied = opened & (rng.random(m) < 0.05 + 0.35 * p[who] + keen / 2)
        bounced = ~delivered
        stages = [("processed", np.ones(m, bool), 0), ("delivered", delivered, 60), ("bounce", bounced, 60),
                  ("open", opened, 3600), ("click", clicked, 3700), ("reply", replied, 7200)]
        events = pl.concat([
            pl.DataFrame({"email": chunk["email"].gather(who).filter(pl.Series(mask)), "event": kind,
                          "sg_event_id": np.char.add(message[mask], f":{kind}"), "sg_message_id": message[mask],
                          "timestamp": by_now(sent_at[mask] + np.timedelta64(offset, "s")).astype("int64")})
            for kind, mask, offset in stages if mask.any()
        ]).sort("timestamp")
        landing.write(f"email_events/{folder}/{part}.jsonl", events.write_ndjson().encode())
        rows["email_events"] += events.height
        files += 1
        # website: sessions ~ Poisson(3·propensity), 1–5 pages each; identify on the first visit of half of them
        visits = rng.poisson(3 * p)
        who = np.repeat(np.arange(chunk.height), visits)
        started = _timestamps(rng, who.size, now, 180)
        # during a journey: sessions on the pricing, demo and contact-sales pages
        j_visits, j_started, keen = _journeys(rng, j_who, j_at, j_keen, JOURNEY_VISITS, now)
        keen = np.concatenate([np.zeros(who.size), keen / 2])
        who, started = np.concatenate([who, j_visits]), when(np.concatenate([started, j_started]))
        pages_per = rng.integers(1, 6, who.size)
        page_who = np.repeat(who, pages_per)
        k = page_who.size
        session_start = np.repeat(started, pages_per)
        step = np.concatenate([np.arange(c) for c in pages_per]) if k else np.array([], dtype=int)
        hot_pages = rng.random(k) < 0.1 + 0.5 * p[page_who] + np.repeat(keen, pages_per)
        paths = np.where(hot_pages, PAGES[rng.integers(4, 7, k)], PAGES[rng.choice([0, 1, 2, 3, 7, 8], k)])
        anonymous = np.char.add("anon-", np.char.add(str(seed), np.char.add("-", (start + page_who).astype(str))))
        web = pl.DataFrame({
            "type": "page", "anonymousId": anonymous,
            "messageId": np.char.add(f"web-{seed}-{start}-", np.arange(k).astype(str)),
            "timestamp": _iso(by_now(session_start + (step * 45).astype("timedelta64[s]"))),
            "properties": pl.DataFrame({"path": paths}).to_struct("properties"),
        })
        ident = np.unique(page_who)
        # half of the visitors identify themselves; one on a buying journey fills in a form
        ident = ident[(rng.random(ident.size) < 0.5) | np.isin(ident, j_visits)]
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
            "fetched_at": _iso(when(_timestamps(rng, enriched.size, now, 120))), "email": emails[enriched],
            "seniority": np.array(["c_level", "vp", "director", "manager", "individual"])[
                rng.integers(0, 5, enriched.size)],
        })
        landing.write(f"enrichment_records/{folder}/{part}-people.csv", person.write_csv().encode())
        rows["enrichment_records"] += person.height
        files += 1
    # a few accounts surging now: a burst of account-level signals over the last days (the spikes to alert on)
    d = np.asarray(domains)
    surging = rng.choice(d.size, max(1, round(d.size * SURGE_SHARE)), replace=False)
    at = np.repeat(surging, rng.poisson(SURGE_SIGNALS, surging.size) + 2)
    occurred = when(_timestamps(rng, at.size, now, SURGE_DAYS))
    surge = pl.DataFrame({
        "signal_type": SURGE_TYPES[rng.integers(0, SURGE_TYPES.size, at.size)], "account_domain": d[at],
        "prospect_email": pl.repeat(None, at.size, dtype=pl.String, eager=True), "topic": "revenue intelligence",
        "strength": np.round(0.8 + 0.2 * rng.random(at.size), 3), "occurred_at": _iso(occurred),
        "expires_at": _iso(occurred + np.timedelta64(90, "D")), "provider": "bombora",
    })
    landing.write(f"intent_signals/{folder}/surge.csv", surge.write_csv().encode())
    rows["intent_signals"] += surge.height
    files += 1
    # company enrichment: two providers disagreeing, so the waterfall has work to do
    companies = []
    if within is not None:  # a recent batch re-enriches its own prospects' companies, not every company
        d = np.intersect1d(d, people["domain"].unique().to_numpy())
    for provider, offset in (("zoominfo", 100), ("clearbit", 10)):
        companies.append(pl.DataFrame({
            "entity_type": "company", "provider": provider,
            "fetched_at": _iso(when(_timestamps(rng, d.size, now, offset))),
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
    with psycopg.connect(libpq_url(settings.owner_database_url)) as conn:
        total = conn.execute("select count(*) from app.prospects").fetchone()[0]
    return demo_landing(settings, prospects=max(1, int(total * fraction)), seed=seed,
                        now=datetime.now(UTC) + timedelta(hours=1))
