"""Import the Maven Analytics CRM export (accounts, products, sales teams, pipeline) into one organization.

Quirks of the original files are repaired here, not in the files: `GTXPro` → `GTX Pro` (else 1,480 deals
lose their list price), sector `technolgy` → `technology`, country `Philipines` → `Philippines`, blank
accounts → deals without an account. Ids are UUIDv5 of (organization, natural key), so a re-import updates
the same rows instead of duplicating them. Dates can be shifted so the export's last day is "today".
`import_export` loads the four files as one unit through the ingest ledger (`ledger.load_once`): all or nothing,
rows that cannot be read are rejected with their reason into `raw.rejected_records`, and the same files (with
the same date shift) landed again are skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import polars as pl
import psycopg
from psycopg import sql

from pipelines.ingest.landing import Landing
from pipelines.ingest.ledger import Loaded, load_once
from pipelines.ingest.records import CorruptFile, Reject

FILES = ("accounts.csv", "products.csv", "sales_teams.csv", "sales_pipeline.csv")
COLUMNS = {
    "accounts.csv": ("account", "sector", "year_established", "revenue", "employees", "office_location",
                     "subsidiary_of"),
    "products.csv": ("product", "sales_price"),
    "sales_teams.csv": ("sales_agent", "manager", "regional_office"),
    "sales_pipeline.csv": ("opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
                           "close_date", "close_value"),
}
LEDGER_SOURCE = "crm"
EXPORT_END = date(2017, 12, 31)
NAMESPACE = uuid.UUID("6f1c7a52-3c1d-4a8e-9a57-9e3f0c2b7d11")
STAGES = {"Prospecting": ("discovery", 10, "pipeline"), "Engaging": ("qualification", 25, "best_case"),
          "Won": ("closed_won", 100, "closed"), "Lost": ("closed_lost", 0, "omitted")}
OPEN_CYCLE_DAYS = 90  # imputed expected close for open deals (median won cycle is ~ 50–90 days)


def stable_id(organization_id: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{organization_id}:{kind}:{key}"))


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


@dataclass
class CrmFrames:
    teams: pl.DataFrame
    users: pl.DataFrame
    accounts: pl.DataFrame
    deals: pl.DataFrame
    activities: pl.DataFrame


CLEAN_SQL = """
with pipeline as (
    select
        opportunity_id, sales_agent, nullif(trim(account), '') as account, deal_stage,
        try_cast(engage_date as date) as engage_date, try_cast(close_date as date) as close_date,
        try_cast(close_value as decimal(18, 2)) as close_value,
        case product when 'GTXPro' then 'GTX Pro' else product end as product
    from pipeline_csv
)
select p.*, pr.sales_price, t.manager, t.regional_office
from pipeline p
left join products_csv pr on pr.product = p.product
left join teams_csv t on t.sales_agent = p.sales_agent
order by opportunity_id
"""


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _fits(limit: float) -> Callable[[str], bool]:
    """A finite number below `limit` in size (the app columns are numeric(18, 2))."""
    def check(value: str) -> bool:
        try:
            number = float(value)
        except ValueError:
            return False
        return math.isfinite(number) and abs(number) < limit

    return check


def _is_integer(value: str) -> bool:
    try:
        return abs(int(value)) < 2**31  # the app columns are integer
    except ValueError:
        return False


# Per file: (column, test of a present value, reason). A missing key column is its own reason; blanks elsewhere
# are allowed (a blank account is a deal without one; a blank close date an open deal).
FIELD_RULES: dict[str, list[tuple[str, Callable[[str], bool], str]]] = {
    "accounts.csv": [("year_established", _is_integer, "invalid year_established"),
                     ("revenue", _fits(1e9), "invalid revenue"),  # in millions
                     ("employees", _is_integer, "invalid employees")],
    "products.csv": [("sales_price", _fits(1e15), "invalid sales_price")],
    "sales_teams.csv": [],
    "sales_pipeline.csv": [("deal_stage", STAGES.__contains__, "unknown deal_stage"),
                           ("engage_date", _is_date, "invalid engage_date"),
                           ("close_date", _is_date, "invalid close_date"),
                           ("close_value", _fits(1e15), "invalid close_value")],
}
KEYS = {"accounts.csv": ("account",), "products.csv": ("product",),
        "sales_teams.csv": ("sales_agent", "manager", "regional_office"),
        "sales_pipeline.csv": ("opportunity_id", "deal_stage")}
UNIQUE = {"accounts.csv": "account", "products.csv": "product", "sales_pipeline.csv": "opportunity_id"}


def read_export(files: dict[str, bytes]) -> tuple[dict[str, pl.DataFrame], list[Reject]]:
    """Pure: the four CSVs as text frames of the rows that can be imported, and the rows that cannot.

    A file that is not CSV or lacks a column makes the whole export unreadable (CorruptFile). Line numbers count
    the header as line 1; the reason names the file.
    """
    frames: dict[str, pl.DataFrame] = {}
    rejects: list[Reject] = []
    for name in FILES:
        try:
            frame = pl.read_csv(io.BytesIO(files[name]), infer_schema=False)
        except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
            raise CorruptFile(f"{name} is not a readable CSV: {str(exc).splitlines()[0]}") from None
        missing = [c for c in COLUMNS[name] if c not in frame.columns]
        if missing:
            raise CorruptFile(f"{name} lacks column(s) {', '.join(missing)}")
        keep: list[int] = []
        seen: set[str] = set()
        for index, row in enumerate(frame.iter_rows(named=True)):
            reason = next((f"missing {key}" for key in KEYS[name] if not (row[key] or "").strip()), None)
            for column, valid, why in FIELD_RULES[name]:
                value = (row[column] or "").strip()
                if reason is None and value and not valid(value):
                    reason = f"{why}: {value[:100]!r}"
            unique = UNIQUE.get(name)
            if reason is None and unique:
                if row[unique] in seen:
                    reason = f"duplicate {unique}: {row[unique][:100]!r}"
                seen.add(row[unique])
            if reason is None:
                keep.append(index)
            else:
                rejects.append(Reject(index + 2, None, f"{reason} in {name}", json.dumps({"file": name, **row})))
        frames[name] = frame.with_row_index("_row").filter(pl.col("_row").is_in(keep)).drop("_row")
    return frames, rejects


def transform(frames: dict[str, pl.DataFrame], *, organization_id: str, slug: str, shift_days: int,
              con: duckdb.DuckDBPyConnection | None = None) -> CrmFrames:
    """Pure: the four files' readable rows (`read_export`) → rows for app.teams, users, accounts, deals and
    status-change activities."""
    own = con is None
    con = con or duckdb.connect()
    con.register("pipeline_csv", frames["sales_pipeline.csv"])
    con.register("products_csv", frames["products.csv"].with_columns(pl.col("sales_price").cast(pl.Float64)))
    con.register("teams_csv", frames["sales_teams.csv"])
    pipeline = con.sql(CLEAN_SQL).pl()
    if own:
        con.close()
    shift = timedelta(days=shift_days)
    org = organization_id

    teams_csv = frames["sales_teams.csv"]
    offices = sorted(set(teams_csv["regional_office"].to_list()))
    team_ids = {office: stable_id(org, "team", office) for office in offices}
    teams = pl.DataFrame({"id": list(team_ids.values()), "organization_id": org,
                          "name": [f"Maven {o}" for o in offices]})
    people: dict[str, str] = {}
    for agent, manager, office in teams_csv.select("sales_agent", "manager", "regional_office").iter_rows():
        people.setdefault(agent, office)
        people.setdefault(manager, office)
    user_ids = {name: stable_id(org, "user", name) for name in people}
    users = pl.DataFrame({
        "id": list(user_ids.values()), "organization_id": org, "team_id": [team_ids[o] for o in people.values()],
        "email": [f"{'.'.join(slugify(p) for p in name.split())}@{slug}.maven.example" for name in people],
        "full_name": list(people), "role": "user",
    })

    accounts_csv = frames["accounts.csv"]
    account_ids = {name: stable_id(org, "account", name) for name in accounts_csv["account"].to_list()}
    accounts = accounts_csv.select(
        pl.col("account").replace_strict(account_ids).alias("id"),
        pl.lit(org).alias("organization_id"),
        pl.col("account").alias("name"),
        (pl.col("account").map_elements(slugify, return_dtype=pl.String) + ".com").alias("domain"),
        pl.col("sector").replace({"technolgy": "technology"}).alias("industry"),
        pl.col("employees").cast(pl.Int64).alias("employee_count"),
        (pl.col("revenue").cast(pl.Float64) * 1_000_000).round(2).alias("annual_revenue"),
        pl.col("office_location").replace({"Philipines": "Philippines"}).alias("country"),
        pl.col("year_established").cast(pl.Int64).alias("year_established"),
        pl.col("subsidiary_of").replace_strict(account_ids, default=None).alias("parent_account_id"),
    )

    rows, activities = [], []
    for r in pipeline.iter_rows(named=True):
        stage, probability, category = STAGES[r["deal_stage"]]
        deal_id = stable_id(org, "deal", r["opportunity_id"])
        owner = user_ids.get(r["sales_agent"])
        engage = r["engage_date"]
        # Prospecting deals have no engage date: created within the export's last 45 days
        created = engage or EXPORT_END - timedelta(days=int(deal_id[:4], 16) % 45)
        closed = r["close_date"]
        if closed is None:
            expected = created + timedelta(days=OPEN_CYCLE_DAYS)
            close_date = max(expected, EXPORT_END + timedelta(days=1 + int(deal_id[4:6], 16) % 60))
        else:
            close_date = closed
        amount = r["close_value"] if r["deal_stage"] == "Won" else r["sales_price"]
        stage_changed = closed or engage or created
        rows.append({
            "id": deal_id, "organization_id": org, "team_id": team_ids.get(r["regional_office"]),
            "account_id": account_ids.get(r["account"]) if r["account"] else None, "owner_id": owner,
            "name": f"{r['account'] or 'Unassigned'} – {r['product']}", "amount": float(amount or 0),
            "probability": probability, "stage": stage, "forecast_category": category,
            "close_date": close_date + shift, "stage_changed_at": stage_changed + shift,
            "closed_at": closed + shift if closed else None, "created_at": created + shift, "source": "maven_crm",
            "metadata": f'{{"maven_opportunity_id": "{r["opportunity_id"]}", "product": "{r["product"]}",'
                        f' "close_date_imputed": {"true" if closed is None else "false"}}}',
        })
        transitions = []
        if engage is not None:
            transitions.append(("discovery", "qualification", engage))
        if closed is not None:
            transitions.append(("qualification", stage, closed))
        for n, (old, new, when) in enumerate(transitions):
            activities.append({
                "id": stable_id(org, "activity", f"{r['opportunity_id']}:{n}"), "organization_id": org,
                "team_id": team_ids.get(r["regional_office"]), "user_id": owner, "deal_id": deal_id,
                "account_id": account_ids.get(r["account"]) if r["account"] else None, "type": "status_change",
                "subject": f"Stage changed to {new}", "occurred_at": when + shift,
                "metadata": f'{{"field": "stage", "from": "{old}", "to": "{new}"}}',
            })
    return CrmFrames(teams, users, accounts, pl.DataFrame(rows, infer_schema_length=None),
                     pl.DataFrame(activities, infer_schema_length=None))


def upsert(conn: psycopg.Connection, table: str, frame: pl.DataFrame, *, conflict: str, update: bool) -> int:
    """COPY a frame into a transaction-scoped staging copy of `table`, then insert or update by `conflict`."""
    if frame.is_empty():
        return 0
    schema, name = table.split(".")
    cols = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    staging = sql.Identifier(f"staging_{name}")
    conn.execute(sql.SQL("create temp table {} on commit drop as select {} from {} with no data").format(
        staging, cols, sql.Identifier(schema, name)))
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin").format(staging, cols)) as copy:
        for row in frame.iter_rows():
            copy.write_row(row)
    if update:
        sets = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
                                  for c in frame.columns if c != "id")
        action = sql.SQL("do update set ") + sets
    else:
        action = sql.SQL("do nothing")
    result = conn.execute(sql.SQL("insert into {} ({}) select {} from {} on conflict {} ").format(
        sql.Identifier(schema, name), cols, cols, staging, sql.SQL(conflict)) + action)
    conn.execute(sql.SQL("drop table {}").format(staging))
    return result.rowcount


def load_frames(conn: psycopg.Connection, frames: CrmFrames) -> dict[str, int]:
    """Write the frames (the caller holds the transaction)."""
    return {
        "teams": upsert(conn, "app.teams", frames.teams, conflict="(organization_id, name)", update=False),
        "users": upsert(conn, "app.users", frames.users, conflict="(id)", update=True),
        "accounts": upsert(conn, "app.accounts", frames.accounts, conflict="(organization_id, domain)",
                           update=False),
        "deals": upsert(conn, "app.deals", frames.deals, conflict="(id)", update=True),
        "activities": upsert(conn, "app.activities", frames.activities, conflict="(id)", update=False),
    }


@dataclass
class CrmImport:
    status: str  # loaded | rejected | skipped
    reason: str | None = None
    written: dict[str, int] = field(default_factory=dict)
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    shift_days: int = 0


def import_export(conn: psycopg.Connection, landing: Landing, *, organization_slug: str, today: date,
                  shift_dates_to_today: bool, con: duckdb.DuckDBPyConnection | None = None) -> CrmImport:
    """`<landing>/crm/<slug>/maven_crm/` → that organization's teams, users, accounts, deals and activities.

    Waits (skipped, nothing recorded) until the organization exists and all four files have landed; then one
    ledger transaction (`load_once`) keyed by the folder and the files' checksum plus the date shift, so the same
    export is imported once a day at most. The connection must not be inside a transaction.
    """
    folder = f"{LEDGER_SOURCE}/{organization_slug}/maven_crm"
    landed = {f.relative_path.removeprefix(folder + "/"): f for f in landing.files(LEDGER_SOURCE)
              if f.relative_path.startswith(folder + "/")}
    org = conn.execute("select id from app.organizations where slug = %s", (organization_slug,)).fetchone()
    if org is None:
        return CrmImport("skipped", f"organization {organization_slug!r} not found")
    missing = [name for name in FILES if name not in landed]
    if missing:
        return CrmImport("skipped", f"missing files in {folder}: {', '.join(missing)}")
    files = {name: landing.read(landed[name]) for name in FILES}
    shift = (today - EXPORT_END).days if shift_dates_to_today else 0
    written: dict[str, int] = {}

    def load() -> Loaded:
        frames, rejects = read_export(files)
        rows = transform(frames, organization_id=str(org[0]), slug=organization_slug, shift_days=shift, con=con)
        written.update(load_frames(conn, rows))
        return Loaded(sum(written.values()), rejects)

    data = b"".join(files[name] for name in FILES)
    digest = "".join(f"{name}={hashlib.sha256(files[name]).hexdigest()}," for name in FILES)
    result = load_once(conn, source=LEDGER_SOURCE, path=folder, data=data, load=load,
                       digest=f"{hashlib.sha256(digest.encode()).hexdigest()}:shift={shift}")
    return CrmImport(result.status, result.reason or ("already imported (same files, same date shift)"
                                                      if result.status == "skipped" else None),
                     written, result.rows_rejected, result.reasons, shift)
