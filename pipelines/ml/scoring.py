"""Batch scoring of open prospects and the write-back to `app`, per organization.

1. Read the latest snapshot of `analytics.ml_lead_features` for open prospects (+ team, title), its event-driven
   features recomputed as of now (`LIVE_FEATURES`); the freshness micro-batch reads just the affected prospects.
2. Score with the champion and blend with each team's rule set (`serving.scoring.blend`, vectorised).
3. COPY the scores into a session temp table, then, in one transaction under a per-organization lock:
   threshold crossings (previous score below the team's threshold or none yet, new at/above) → a
   `lead.score_threshold_crossed` domain event (the notification and the timeline entry are its subscribers);
   new predictions → `ai_predictions`; `priority_score`,
   `qualification_score` and `ai_insights` → `app.prospects` in keyset batches, changed rows only;
   today's row of `lead_score_history` (upserted, so one row per prospect per day).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.lead_scoring.rules import RuleSet
from models.lead_scoring.train import LeadScoringModel
from pipelines.ml.training import FEATURE_TABLE, mart_to_features
from serving.core import outbox
from serving.scoring import model_cache
from serving.scoring.blend import score_prospects

BATCH_SIZE = 5000
OPEN_EXCLUDED_STATUSES = ("converted", "unqualified", "do_not_contact")
THRESHOLD_EVENT = "lead.score_threshold_crossed"

CHAMPIONS = text("select organization_id::text, version from app.ml_models"
                 " where is_champion and name = 'lead_scoring' order by organization_id")

SCORE_COLUMNS = ("prospect_id", "team_id", "score", "ml_score", "probability", "tier", "mode", "model_version",
                 "inputs_hash", "baseline", "other_impact", "top_factors")


# The mart's latest snapshot counts events strictly before its date (midnight), so a reply or a page view today
# would move a prospect's score only tomorrow. Scoring "now" is the same point-in-time rule at a finer time: the
# event-driven features are recomputed with ml_lead_features' windows ending at now() from the marts the
# freshness build refreshes (firmographics, meetings and the days since other activity stay the snapshot's).
# Intent is today's (fct_prospect_intent), its trend and spike as the mart derives them from the score history.
LIVE_FEATURES = """
with ids as (select unnest(cast(:ids as uuid[])) as prospect_id),
email as (
    select e.prospect_id,
           count(distinct e.message_key) filter (where e.event in ('processed', 'delivered')) as emails_sent,
           count(distinct e.message_key) filter (where e.event = 'open') as emails_opened,
           count(distinct e.message_key) filter (where e.event = 'click') as emails_clicked,
           count(distinct e.message_key) filter (where e.event = 'reply') as emails_replied,
           max(e.occurred_at) filter (where e.event in ('open', 'click', 'reply')) as last_email_at
    from analytics.fct_email_events as e
    inner join ids on ids.prospect_id = e.prospect_id
    where e.organization_id = :org and e.occurred_at >= now() - interval '90 days' and e.occurred_at < now()
    group by 1
),
web as (
    select w.prospect_id, count(*) as web_sessions, max(w.started_at) as last_web_at
    from analytics.fct_website_sessions as w
    inner join ids on ids.prospect_id = w.prospect_id
    where w.organization_id = :org and w.started_at >= now() - interval '30 days' and w.started_at < now()
    group by 1
),
week_before as (
    select h.entity_id as prospect_id, h.intent_score
    from analytics.intent_score_history as h
    inner join ids on ids.prospect_id = h.entity_id
    where h.organization_id = :org and h.entity_type = 'prospect' and h.score_date = current_date - 7
)
select ids.prospect_id,
       coalesce(email.emails_sent, 0) as emails_sent, coalesce(email.emails_opened, 0) as emails_opened,
       coalesce(email.emails_clicked, 0) as emails_clicked, coalesce(email.emails_replied, 0) as emails_replied,
       coalesce(web.web_sessions, 0) as web_sessions,
       current_date - greatest(email.last_email_at, web.last_web_at)::date as days_since_event,
       coalesce(i.intent_score, 0) as intent_score, coalesce(i.intent_tier, 'low') as intent_tier,
       case when coalesce(i.intent_score, 0) - coalesce(wb.intent_score, 0) >= 5 then 'increasing'
            when coalesce(i.intent_score, 0) - coalesce(wb.intent_score, 0) <= -5 then 'decreasing'
            else 'stable' end as intent_trend,
       coalesce(i.intent_score, 0) - coalesce(i.baseline_score, 0) >= 20 as intent_spike
from ids
left join email on email.prospect_id = ids.prospect_id
left join web on web.prospect_id = ids.prospect_id
left join week_before as wb on wb.prospect_id = ids.prospect_id
left join analytics.fct_prospect_intent as i on i.prospect_id = ids.prospect_id and i.organization_id = :org
"""
LIVE_COLUMNS = ("emails_sent", "emails_opened", "emails_clicked", "emails_replied", "web_sessions", "intent_score",
                "intent_tier", "intent_trend", "intent_spike")


LIVE_SOURCES = ("analytics.fct_email_events", "analytics.fct_website_sessions", "analytics.intent_score_history",
                "analytics.fct_prospect_intent")


def _event_marts_present(session: Session) -> bool:
    # A feature table loaded without the dbt project's event marts (a stand-in mart) has only its snapshot.
    return all(session.execute(text("select to_regclass(:name) is not null"), {"name": name}).scalar()
               for name in LIVE_SOURCES)


def _with_live_features(session: Session, organization_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (mart rows) with its event-driven features as of now (see LIVE_FEATURES)."""
    if frame.empty or not _event_marts_present(session):
        return frame
    live = pd.read_sql_query(text(LIVE_FEATURES), session.connection(),
                             params={"org": organization_id, "ids": [str(i) for i in frame["prospect_id"]]})
    live = live.set_index(live["prospect_id"].astype(str)).reindex(frame["prospect_id"].astype(str))
    frame = frame.copy()
    for column in LIVE_COLUMNS:
        frame[column] = live[column].to_numpy()
    # The snapshot's days since the last engagement, aged to today, unless an e-mail or a visit is more recent.
    aged = frame["days_since_last_engagement"].astype("Float64") + (
        pd.Timestamp.now(tz="UTC").normalize().tz_localize(None) - pd.to_datetime(frame["snapshot_date"])).dt.days
    recent = pd.to_numeric(live["days_since_event"], errors="coerce").astype("Float64").to_numpy()
    frame["days_since_last_engagement"] = np.fmin(aged.to_numpy(dtype=float, na_value=np.nan),
                                                  recent.astype(float))
    return frame


def load_open_prospects(session: Session, organization_id: str,
                        prospect_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Features of the latest snapshot for the organization's open prospects (only `prospect_ids` when given),
    with team and title, event-driven features as of now."""
    only = "" if prospect_ids is None else "and f.prospect_id = any(cast(:ids as uuid[]))"
    frame = pd.read_sql_query(text(f"""
        with latest as (
            select max(snapshot_date) as snapshot_date from {FEATURE_TABLE} where organization_id = :org
        )
        select f.*, p.title, coalesce(p.team_id, u.team_id) as team_id
        from {FEATURE_TABLE} as f
        inner join latest on latest.snapshot_date = f.snapshot_date
        inner join app.prospects as p on p.id = f.prospect_id
        left join app.users as u on u.id = p.owner_id
        where f.organization_id = :org and p.status <> all(cast(:excluded as text[])) {only}
        order by f.prospect_id"""), session.connection(),
        params={"org": organization_id, "excluded": list(OPEN_EXCLUDED_STATUSES),
                "ids": [str(i) for i in prospect_ids or ()]})
    frame = _with_live_features(session, organization_id, frame)
    return mart_to_features(frame.drop(columns=["converted"], errors="ignore"))


def load_rule_sets(session: Session, organization_id: str) -> tuple[dict[str, RuleSet], dict[str, int]]:
    """Each team's validated rule set and score threshold (a stored set that no longer validates is skipped)."""
    rule_sets, thresholds = {}, {}
    rows = session.execute(text(
        "select team_id::text, rules, score_threshold from app.scoring_rule_sets where organization_id = :org"),
        {"org": organization_id}).all()
    for team_id, rules, threshold in rows:
        try:
            rule_sets[team_id] = RuleSet.model_validate(rules)
        except ValueError:
            continue
        if threshold is not None:
            thresholds[team_id] = int(threshold)
    return rule_sets, thresholds


def score_open_prospects(*, model: LeadScoringModel, frame: pd.DataFrame,
                         rule_sets: dict[str, RuleSet]) -> pd.DataFrame:
    """The final scores and factors of every row (see `serving.scoring.blend.score_prospects`)."""
    if frame.empty:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    return score_prospects(model=model, frame=frame, rule_sets=rule_sets)


@dataclass
class WriteResult:
    scored: int = 0
    predictions_logged: int = 0
    prospects_changed: int = 0
    history_rows: int = 0
    thresholds_crossed: int = 0
    events_published: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _csv(scored: pd.DataFrame) -> str:
    frame = scored[list(SCORE_COLUMNS)].copy()
    frame["top_factors"] = frame["top_factors"].map(json.dumps)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    return buffer.getvalue()


def write_scores(session: Session, *, organization_id: str, scored: pd.DataFrame,
                 batch_size: int = BATCH_SIZE) -> WriteResult:
    """Everything after scoring, in the caller's transaction (see the module docstring)."""
    result = WriteResult(scored=len(scored))
    if scored.empty:
        return result
    params: dict[str, Any] = {"org": organization_id}
    # One writer per organization at a time: crossings are computed against the scores this run replaces.
    session.execute(text("select pg_advisory_xact_lock(hashtext('revorc.lead_scores'), hashtext(:org))"), params)
    session.execute(text("""
        create temp table if not exists _lead_scores (
            prospect_id uuid primary key, team_id uuid, score int, ml_score int, probability float8, tier text,
            mode text, model_version text, inputs_hash text, baseline int, other_impact int, top_factors jsonb
        ) on commit delete rows"""))
    session.execute(text("truncate _lead_scores"))
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"copy _lead_scores ({', '.join(SCORE_COLUMNS)}) from stdin"
                                             " with (format csv)") as copy:
        copy.write(_csv(scored))
    session.execute(text("analyze _lead_scores"))

    crossed = session.execute(text("""
        create temp table _crossed on commit drop as
        select t.prospect_id, t.team_id, t.score, t.tier, t.model_version, t.top_factors, p.priority_score as previous,
               r.score_threshold as threshold, p.owner_id,
               coalesce(nullif(trim(concat_ws(' ', p.first_name, p.last_name)), ''), p.email) as display_name
        from _lead_scores as t
        inner join app.prospects as p on p.id = t.prospect_id
        inner join app.scoring_rule_sets as r on r.organization_id = p.organization_id and r.team_id = t.team_id
        where p.organization_id = :org and r.score_threshold is not null
          -- A prospect never scored (NULL) was not above the threshold: its first score can cross it.
          and (p.priority_score is null or p.priority_score < r.score_threshold)
          and t.score >= r.score_threshold"""), params)
    result.thresholds_crossed = crossed.rowcount
    if result.thresholds_crossed:
        # One `lead.score_threshold_crossed` event per crossing; the timeline and notifications subscribe to it.
        # The dedupe key (prospect, threshold, previous and new score, day) keeps a re-run from publishing twice.
        result.events_published = outbox.publish_select(session, type=THRESHOLD_EVENT, params=params, select_sql="""
            select cast(:org as uuid) as organization_id, c.prospect_id as subject_id,
                   jsonb_build_object('prospectId', c.prospect_id, 'teamId', c.team_id, 'ownerId', c.owner_id,
                                      'displayName', c.display_name, 'score', c.score, 'previousScore', c.previous,
                                      'threshold', c.threshold, 'tier', c.tier, 'modelVersion', c.model_version,
                                      'topFactors', coalesce(c.top_factors, '[]'::jsonb)) as payload,
                   concat_ws(':', c.prospect_id, c.threshold, coalesce(c.previous::text, 'none'), c.score,
                             current_date) as dedupe_key,
                   now() as occurred_at
            from _crossed as c""")

    # A prediction is logged when it is new: another model, other inputs, or another final score.
    result.predictions_logged = session.execute(text("""
        insert into app.ai_predictions (organization_id, prospect_id, model_version, source, inputs_hash, score,
                                        ml_score, probability, tier, top_factors)
        select cast(:org as uuid), t.prospect_id, t.model_version, 'batch', t.inputs_hash, t.score, t.ml_score,
               t.probability, t.tier, t.top_factors
        from _lead_scores as t
        inner join app.prospects as p on p.id = t.prospect_id
        where p.ai_insights ->> 'modelVersion' is distinct from t.model_version
           or p.ai_insights -> 'leadScore' ->> 'inputsHash' is distinct from t.inputs_hash
           or p.priority_score is distinct from t.score"""), params).rowcount

    after = "00000000-0000-0000-0000-000000000000"
    while True:
        last = session.execute(text(
            "select (array_agg(prospect_id order by prospect_id desc))[1]::text from (select prospect_id"
            " from _lead_scores where prospect_id > cast(:after as uuid) order by prospect_id limit :limit) as b"),
            {"after": after, "limit": batch_size}).scalar()
        if last is None:
            break
        result.prospects_changed += session.execute(text("""
            update app.prospects as p
            set priority_score = t.score, qualification_score = t.ml_score,
                ai_insights = p.ai_insights || t.insights, updated_at = now()
            from (
                select prospect_id, score, ml_score, jsonb_build_object(
                    'topFactors', top_factors, 'modelVersion', model_version,
                    'leadScore', jsonb_build_object('score', score, 'mlScore', ml_score, 'tier', tier,
                        'baseline', baseline, 'otherFactorsImpact', other_impact, 'mode', mode,
                        'inputsHash', inputs_hash)) as insights
                from _lead_scores where prospect_id > cast(:after as uuid) and prospect_id <= cast(:last as uuid)
            ) as t
            where p.id = t.prospect_id and p.organization_id = :org
              and (p.priority_score is distinct from t.score or p.qualification_score is distinct from t.ml_score
                   or p.ai_insights -> 'topFactors' is distinct from t.insights -> 'topFactors'
                   or p.ai_insights -> 'leadScore' is distinct from t.insights -> 'leadScore'
                   or p.ai_insights ->> 'modelVersion' is distinct from t.insights ->> 'modelVersion')"""),
            {**params, "after": after, "last": last}).rowcount
        after = last

    result.history_rows = session.execute(text("""
        insert into app.lead_score_history (prospect_id, score_date, organization_id, score, ml_score, tier,
                                            model_version)
        select prospect_id, current_date, cast(:org as uuid), score, ml_score, tier, model_version from _lead_scores
        on conflict (prospect_id, score_date) do update
        set score = excluded.score, ml_score = excluded.ml_score, tier = excluded.tier,
            model_version = excluded.model_version, updated_at = now()
        where (lead_score_history.score, lead_score_history.ml_score, lead_score_history.tier,
               lead_score_history.model_version)
              is distinct from (excluded.score, excluded.ml_score, excluded.tier, excluded.model_version)"""),
        params).rowcount
    return result


CHAMPION = text("select version, artifact_sha256 from app.ml_models"
                " where organization_id = :org and is_champion and name = 'lead_scoring'")


def rescore_prospects(session: Session, *, organization_id: str, prospect_ids: Sequence[str],
                      home: Path) -> WriteResult:
    """Score just `prospect_ids` (open ones) with the organization's champion, cached across calls in the process,
    and write them back exactly as the batch does (threshold events included), in the caller's transaction."""
    champion = session.execute(CHAMPION, {"org": organization_id}).first()
    if champion is None or not prospect_ids:
        return WriteResult()
    model = model_cache.get_model(session, organization_id=organization_id, version=champion.version,
                                  sha256=champion.artifact_sha256, home=home)
    frame = load_open_prospects(session, organization_id, prospect_ids)
    rule_sets, _ = load_rule_sets(session, organization_id)
    scored = score_open_prospects(model=model, frame=frame, rule_sets=rule_sets)
    return write_scores(session, organization_id=organization_id, scored=scored)

