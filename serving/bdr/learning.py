"""The BDR agent learning, safely.

- **Messaging variants** (`bdr_message_variants`): strategies the agent tests against each other — the writer's
  tone and instructions. A prospect keeps the variant of its first touch (follow-ups do not mix strategies).
  Each variant first gets `MIN_EXPLORE` prospects (the least-tried goes next); then Thompson sampling picks: a
  draw from each variant's Beta(1 + positive replies, 1 + other prospects) and the highest draw wins, so a
  variant is chosen as often as it is likely to be the best. A **winner** is declared only when every active
  variant has at least `MIN_WINNER` prospects and one is the best with probability ≥ `WINNER_PROBABILITY`
  (Monte Carlo over the posteriors); from then on everyone gets the winner. Sends and replies are counted from
  the agent's own activity log (a touch records its variant), never kept as counters that could drift.
- **Policy backtest** (`bdr_policy_backtests`): before the agent may send anything without a human's review,
  an admin runs its policy (a configuration's settings) over the organization's history — whom it would pick
  now, and what happened to prospects like them that were e-mailed in the last days (replies, meetings,
  unsubscribes, bounces, with a 95 % interval), against every prospect e-mailed then — and accepts the report.
  `PUT /bdr/config` refuses such a configuration without an accepted backtest of exactly its settings
  (`BACKTEST_REQUIRED`), and the agent queues for review whatever it would have sent when that is missing.

Keyword-only service functions that do not commit, like `agent`; every query names the organization, so they
are safe on the owner connection too.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, Text, and_, func, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.activities.models import Activity
from serving.bdr.models import (
    ApprovalMode,
    BdrActivity,
    BdrAgentConfig,
    BdrMessageVariant,
    BdrPolicyBacktest,
    VariantStatus,
)
from serving.bdr.schemas import AgentSettings
from serving.core import outbox
from serving.core.clock import utcnow
from serving.core.errors import Conflict
from serving.core.principal import Principal
from serving.emails import suppression
from serving.prospects.models import Prospect, ProspectStatus

MIN_EXPLORE = 20  # prospects each active variant gets before the bandit starts exploiting
MIN_WINNER = 100  # no winner while any active variant has fewer prospects than this
WINNER_PROBABILITY = 0.95
DRAWS = 20_000
POSITIVE = ("interested", "question", "referral")  # a reply that moves the conversation forward
TOUCHES = ("email_sent", "email_queued")
TIERS = ["low", "warm", "hot", "burning"]
BACKTEST_SCAN = 50_000  # prospects the backtest reads at most (the report says when it stopped there)


# --- variants ---------------------------------------------------------------------------------------------------

def variants(*, organization_id: uuid.UUID) -> Select:
    return (select(BdrMessageVariant).where(BdrMessageVariant.organization_id == organization_id)
            .order_by(BdrMessageVariant.created_at, BdrMessageVariant.id))


def create_variant(*, db_session: Session, organization_id: uuid.UUID, name: str, tone: str | None,
                   instructions: str) -> BdrMessageVariant:
    row = BdrMessageVariant(organization_id=organization_id, name=name, tone=tone, instructions=instructions)
    try:
        with db_session.begin_nested():
            db_session.add(row)
            db_session.flush()
    except IntegrityError as error:
        raise Conflict(f"a variant named {name!r} exists", code="VARIANT_EXISTS", details={"name": name}) from error
    return row


def update_variant(*, db_session: Session, row: BdrMessageVariant, status: str | None = None,
                   instructions: str | None = None, tone: str | None = None) -> BdrMessageVariant:
    """Pause or resume a variant, or change its text. Changing the text of a variant that has prospects would
    mix two strategies under one name, so it is refused: create a new variant instead."""
    if (instructions is not None and instructions != row.instructions) or (tone is not None and tone != row.tone):
        if _assigned(db_session, row.organization_id).get(row.id, 0):
            raise Conflict("this variant already has prospects: create a new variant to test other wording",
                           code="VARIANT_IN_USE", details={"variantId": str(row.id)})
        row.instructions = instructions if instructions is not None else row.instructions
        row.tone = tone if tone is not None else row.tone
    if status is not None:
        row.status = status
    db_session.flush()
    return row


def _touch_variant():
    # the key inlined, not bound: GROUP BY must repeat the select list's expression exactly
    return BdrActivity.detail.op("->>", return_type=Text)(literal_column("'variantId'"))


def _assigned(db_session: Session, organization_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Prospects per variant, counting queued drafts too (so drafts waiting for review spread over variants)."""
    rows = db_session.execute(
        select(_touch_variant(), func.count(func.distinct(BdrActivity.prospect_id)))
        .where(BdrActivity.organization_id == organization_id, BdrActivity.kind.in_(TOUCHES),
               BdrActivity.detail.has_key("variantId"))
        .group_by(_touch_variant())).all()
    return {uuid.UUID(v): n for v, n in rows if v}


@dataclass
class VariantStats:
    variant: BdrMessageVariant
    sends: int  # prospects e-mailed with this variant
    replies: int  # of them, those who replied after
    positive: int  # of them, those whose reply was interested, a question or a referral
    posterior_mean: float
    probability_best: float | None  # among the active variants; None when the variant is paused

    @property
    def winner(self) -> bool:
        return self.variant.winner_at is not None and self.variant.status == VariantStatus.active


def _seed(counts: list[tuple[int, int]]) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(counts).encode()).digest()[:8], "big")


def probability_best(counts: list[tuple[int, int]], draws: int = DRAWS) -> list[float]:
    """P(each arm has the highest positive-reply rate) under Beta(1 + positive, 1 + sends − positive) posteriors,
    by Monte Carlo with a seed taken from the counts (the same data always gives the same figures)."""
    if not counts:
        return []
    rng = np.random.default_rng(_seed(counts))
    samples = np.column_stack([rng.beta(1 + pos, 1 + sends - pos, size=draws) for sends, pos in counts])
    best = np.bincount(samples.argmax(axis=1), minlength=len(counts))
    return [round(float(b) / draws, 4) for b in best]


def variant_stats(*, db_session: Session, organization_id: uuid.UUID) -> list[VariantStats]:
    sent = (select(_touch_variant().label("variant"), BdrActivity.prospect_id,
                   func.min(BdrActivity.occurred_at).label("first_at"))
            .where(BdrActivity.organization_id == organization_id, BdrActivity.kind == "email_sent",
                   BdrActivity.detail.has_key("variantId"))
            .group_by(_touch_variant(), BdrActivity.prospect_id).subquery())
    replies = (select(BdrActivity.prospect_id, BdrActivity.occurred_at,
                      BdrActivity.detail["label"].astext.label("label"))
               .where(BdrActivity.organization_id == organization_id, BdrActivity.kind == "reply_received")
               .subquery())
    replied = (select(sent.c.variant, sent.c.prospect_id,
                      func.bool_or(replies.c.label.in_(POSITIVE)).label("positive"))
               .join(replies, and_(replies.c.prospect_id == sent.c.prospect_id,
                                   replies.c.occurred_at >= sent.c.first_at))
               .group_by(sent.c.variant, sent.c.prospect_id).subquery())
    counts = {v: (n, 0, 0) for v, n in db_session.execute(
        select(sent.c.variant, func.count()).group_by(sent.c.variant)).all()}
    for v, n, pos in db_session.execute(select(replied.c.variant, func.count(),
                                               func.count().filter(replied.c.positive))
                                        .group_by(replied.c.variant)).all():
        counts[v] = (counts.get(v, (0, 0, 0))[0], n, pos)
    rows = list(db_session.scalars(variants(organization_id=organization_id)))
    stats = []
    for row in rows:
        sends, reps, pos = counts.get(str(row.id), (0, 0, 0))
        stats.append(VariantStats(row, sends, reps, pos, round((1 + pos) / (2 + sends), 4), None))
    active = [s for s in stats if s.variant.status == VariantStatus.active]
    for s, p in zip(active, probability_best([(s.sends, s.positive) for s in active]), strict=True):
        s.probability_best = p
    return stats


@dataclass
class Choice:
    variant: BdrMessageVariant | None
    reason: str
    inputs: dict[str, Any]


def choose_variant(*, db_session: Session, organization_id: uuid.UUID, prospect_id: uuid.UUID,
                   rng: np.random.Generator | None = None) -> Choice:
    """The variant this prospect's next message is written with (None when the organization tests none)."""
    earlier = db_session.scalar(
        select(_touch_variant()).where(BdrActivity.organization_id == organization_id,
                                       BdrActivity.prospect_id == prospect_id, BdrActivity.kind.in_(TOUCHES),
                                       BdrActivity.detail.has_key("variantId"))
        .order_by(BdrActivity.occurred_at).limit(1))
    active = [v for v in db_session.scalars(variants(organization_id=organization_id))
              if v.status == VariantStatus.active]
    by_id = {v.id: v for v in active}
    if earlier and uuid.UUID(earlier) in by_id:
        chosen = by_id[uuid.UUID(earlier)]
        return Choice(chosen, f"the prospect's first touch used {chosen.name!r}: follow-ups keep it", {})
    if not active:
        return Choice(None, "no active messaging variant: the configured tone", {})
    winner = next((v for v in active if v.winner_at is not None), None)
    if winner is not None:
        return Choice(winner, f"{winner.name!r} was declared the winner on {winner.winner_at:%Y-%m-%d}", {})
    assigned = _assigned(db_session, organization_id)
    tried = {v.name: assigned.get(v.id, 0) for v in active}
    fewest = min(active, key=lambda v: assigned.get(v.id, 0))
    if assigned.get(fewest.id, 0) < MIN_EXPLORE:
        return Choice(fewest, f"exploring: {fewest.name!r} has {assigned.get(fewest.id, 0)} of the "
                              f"{MIN_EXPLORE} prospects every variant gets first", {"prospects": tried})
    stats = {s.variant.id: s for s in variant_stats(db_session=db_session, organization_id=organization_id)}
    rng = rng or np.random.default_rng()
    draws = {v.name: float(rng.beta(1 + stats[v.id].positive, 1 + stats[v.id].sends - stats[v.id].positive))
             for v in active}
    chosen = max(active, key=lambda v: draws[v.name])
    return Choice(chosen, f"Thompson sampling: {chosen.name!r} drew the highest likely positive-reply rate",
                  {"draws": {k: round(d, 4) for k, d in draws.items()},
                   "positive": {v.name: stats[v.id].positive for v in active},
                   "sends": {v.name: stats[v.id].sends for v in active}})


def declare_winner(*, db_session: Session, organization_id: uuid.UUID, now: datetime | None = None
                   ) -> VariantStats | None:
    """The learning batch: a winner once every active variant has `MIN_WINNER` prospects and one of them is the
    best with probability ≥ `WINNER_PROBABILITY`; None while the evidence is short (or a winner stands)."""
    from serving.bdr.agent import decide  # the decision log is the agent's; imported late (agent imports us)

    stats = [s for s in variant_stats(db_session=db_session, organization_id=organization_id)
             if s.variant.status == VariantStatus.active]
    if len(stats) < 2 or any(s.winner for s in stats):
        return None
    best = max(stats, key=lambda s: s.probability_best or 0)
    short = [s.variant.name for s in stats if s.sends < MIN_WINNER]
    inputs = {s.variant.name: {"sends": s.sends, "positive": s.positive, "probabilityBest": s.probability_best}
              for s in stats}
    if short or (best.probability_best or 0) < WINNER_PROBABILITY:
        return None
    best.variant.winner_at = now or utcnow()
    decide(db_session=db_session, organization_id=organization_id, prospect_id=None, step="learning",
           chosen="declare_winner", options=["declare_winner", "keep_testing"], inputs=inputs,
           reason=f"{best.variant.name!r} is the best with probability {best.probability_best} after "
                  f"{best.sends} prospects", now=best.variant.winner_at)
    db_session.flush()
    return best


# --- policy backtest --------------------------------------------------------------------------------------------

def settings_hash(cfg: AgentSettings) -> str:
    canonical = json.dumps(cfg.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def sends_unreviewed(approval_mode: str, cfg: AgentSettings) -> bool:
    """Whether this configuration lets the agent send any message without a human's review."""
    for step in cfg.workflow:
        if step.kind == "send" and step.require_approval is not None:
            return not step.require_approval
    return approval_mode != ApprovalMode.all


def accepted(*, db_session: Session, organization_id: uuid.UUID, cfg: AgentSettings) -> BdrPolicyBacktest | None:
    return db_session.scalar(
        select(BdrPolicyBacktest).where(BdrPolicyBacktest.organization_id == organization_id,
                                        BdrPolicyBacktest.settings_hash == settings_hash(cfg),
                                        BdrPolicyBacktest.accepted_at.is_not(None))
        .order_by(BdrPolicyBacktest.accepted_at.desc()).limit(1))


def require_backtest(*, db_session: Session, organization_id: uuid.UUID, approval_mode: str,
                     cfg: AgentSettings) -> None:
    """Refuse a configuration that sends without review unless a backtest of exactly its settings is accepted."""
    if sends_unreviewed(approval_mode, cfg) and accepted(db_session=db_session, organization_id=organization_id,
                                                         cfg=cfg) is None:
        raise Conflict("sending without review needs an accepted backtest of these settings: "
                       "POST /bdr/backtests with them, read the report, accept it, then save",
                       code="BACKTEST_REQUIRED", details={"settingsHash": settings_hash(cfg),
                                                          "approvalMode": approval_mode})


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval of a rate (95 %): honest for small samples and rates near 0."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def _fit_reason(prospect: Prospect, cfg: AgentSettings) -> str | None:
    from serving.bdr.agent import _fits  # the agent's own fit rules, so the backtest judges as it does

    return _fits(prospect, cfg)


def selection(*, cfg: AgentSettings, now: datetime) -> Select:
    """The prospects the discovery rules consider (intent tier or a recent spike, lead score)."""
    rules = cfg.discovery
    intent = Prospect.intent_tier.in_(TIERS[TIERS.index(rules.min_intent_tier):])
    if rules.include_spikes:
        spiked = select(outbox.DomainEvent.subject_id).where(
            outbox.DomainEvent.type == "intent.spike_detected",
            outbox.DomainEvent.occurred_at >= now - timedelta(days=rules.spike_days))
        intent = or_(intent, Prospect.id.in_(spiked))
    stmt = select(Prospect).where(intent, Prospect.status != ProspectStatus.do_not_contact)
    if rules.min_lead_score is not None:
        stmt = stmt.where(Prospect.priority_score >= rules.min_lead_score)
    return stmt


def _outcomes(db_session: Session, organization_id: uuid.UUID, since: datetime, until: datetime,
              prospect_ids: list[uuid.UUID] | None) -> dict[str, int]:
    """Of the prospects e-mailed in the window (all of them, or those listed): how many replied, booked a
    meeting, unsubscribed or bounced after their first e-mail of the window."""
    where = [Activity.organization_id == organization_id, Activity.type == "email_sent",
             Activity.occurred_at >= since, Activity.occurred_at < until, Activity.prospect_id.is_not(None)]
    if prospect_ids is not None:
        where.append(Activity.prospect_id.in_(prospect_ids))
    first = (select(Activity.prospect_id, func.min(Activity.occurred_at).label("first_at"))
             .where(*where).group_by(Activity.prospect_id).subquery())
    later = (select(first.c.prospect_id, Activity.type).join(
        Activity, and_(Activity.prospect_id == first.c.prospect_id, Activity.occurred_at >= first.c.first_at,
                       Activity.organization_id == organization_id,
                       Activity.type.in_(("email_received", "meeting_scheduled", "email_unsubscribed",
                                          "email_bounced"))))
             .distinct().subquery())
    counts = dict(db_session.execute(select(later.c.type, func.count()).group_by(later.c.type)).all())
    return {"contacted": db_session.scalar(select(func.count()).select_from(first)) or 0,
            "replied": counts.get("email_received", 0), "meetings": counts.get("meeting_scheduled", 0),
            "unsubscribed": counts.get("email_unsubscribed", 0), "bounced": counts.get("email_bounced", 0)}


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def backtest(*, db_session: Session, organization_id: uuid.UUID, cfg: AgentSettings, days: int,
             now: datetime | None = None) -> dict[str, Any]:
    """The report: whom the policy picks now, and what happened to such prospects e-mailed in the last `days`."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    scanned = list(db_session.scalars(selection(cfg=cfg, now=now).where(Prospect.organization_id == organization_id)
                                      .order_by(Prospect.intent_score.desc().nulls_last(), Prospect.id)
                                      .limit(BACKTEST_SCAN + 1)))
    truncated = len(scanned) > BACKTEST_SCAN
    scanned = scanned[:BACKTEST_SCAN]
    blocked = suppression.suppressed(db_session=db_session, addresses=[p.email for p in scanned])
    picked: list[Prospect] = []
    for p in scanned:
        if p.email.strip().lower() not in blocked and _fit_reason(p, cfg) is None:
            picked.append(p)
    similar = _outcomes(db_session, organization_id, since, now, [p.id for p in picked])
    everyone = _outcomes(db_session, organization_id, since, now, None)
    low, high = wilson(similar["replied"], similar["contacted"])
    reply_rate = _rate(similar["replied"], similar["contacted"])
    baseline = _rate(everyone["replied"], everyone["contacted"])
    unsubscribe_rate = _rate(similar["unsubscribed"], similar["contacted"])
    bounce_rate = _rate(similar["bounced"], similar["contacted"])
    per_day = min(len(picked), cfg.caps.per_day, cfg.discovery.batch_size * 24)
    risks = []
    if not picked:
        risks.append("the policy picks nobody today: check the intent tier, lead score and fit rules")
    if similar["contacted"] < 30:
        risks.append(f"only {similar['contacted']} prospects like these were e-mailed in the last {days} days: "
                     "the expected rates are uncertain" + (f" (95 % interval {low}–{high})" if low is not None
                                                           else ""))
    if reply_rate is not None and baseline is not None and reply_rate < baseline:
        risks.append(f"prospects like these replied less ({reply_rate:.1%}) than everyone e-mailed "
                     f"({baseline:.1%})")
    if unsubscribe_rate is not None and unsubscribe_rate > 0.01:
        risks.append(f"{unsubscribe_rate:.1%} of them unsubscribed (above 1 %): sender reputation is at risk")
    if bounce_rate is not None and bounce_rate > 0.03:
        risks.append(f"{bounce_rate:.1%} of them bounced (above 3 %): verify addresses first")
    if cfg.confidence_threshold < 0.7:
        risks.append(f"the confidence threshold {cfg.confidence_threshold} lets drafts with few grounded facts go "
                     "out unreviewed")
    if cfg.caps.per_day > 200:
        risks.append(f"a daily cap of {cfg.caps.per_day} is above what a warmed-up mailbox sends safely")
    if truncated:
        risks.append(f"only the first {BACKTEST_SCAN:,} prospects by intent were read")
    return {
        "prospectsSelected": len(picked), "prospectsScanned": len(scanned), "wouldContactPerDay": per_day,
        "similarContacted": similar["contacted"], "similarReplied": similar["replied"],
        "similarMeetings": similar["meetings"], "similarUnsubscribed": similar["unsubscribed"],
        "similarBounced": similar["bounced"],
        "expectedReplyRate": reply_rate, "expectedReplyRateLow": low, "expectedReplyRateHigh": high,
        "expectedMeetingRate": _rate(similar["meetings"], similar["contacted"]),
        "expectedUnsubscribeRate": unsubscribe_rate, "expectedBounceRate": bounce_rate,
        "baselineContacted": everyone["contacted"], "baselineReplyRate": baseline,
        "expectedRepliesPerDay": round(per_day * reply_rate, 2) if reply_rate is not None else None,
        "risks": risks,
        "sample": [{"prospectId": str(p.id), "name": " ".join(x for x in (p.first_name, p.last_name) if x)
                    or p.email, "reason": f"intent tier {p.intent_tier or 'none'}"
                    + (f", lead score {p.priority_score}" if p.priority_score is not None else "")}
                   for p in picked[:10]],
    }


def run_backtest(*, db_session: Session, principal: Principal, cfg: AgentSettings, days: int,
                 now: datetime | None = None) -> BdrPolicyBacktest:
    now = now or utcnow()
    report = backtest(db_session=db_session, organization_id=principal.organization_id, cfg=cfg, days=days, now=now)
    row = BdrPolicyBacktest(organization_id=principal.organization_id, days=days,
                            settings=cfg.model_dump(mode="json", by_alias=True), settings_hash=settings_hash(cfg),
                            report=report, created_by=principal.user_id)
    db_session.add(row)
    db_session.flush()
    return row


def accept(*, db_session: Session, principal: Principal, row: BdrPolicyBacktest,
           now: datetime | None = None) -> BdrPolicyBacktest:
    from serving.bdr.agent import decide

    if row.accepted_at is not None:
        raise Conflict("this backtest is already accepted", code="BACKTEST_ACCEPTED")
    row.accepted_at, row.accepted_by = now or utcnow(), principal.user_id
    decide(db_session=db_session, organization_id=row.organization_id, prospect_id=None, step="backtest",
           chosen="accept", options=["accept"], inputs={"backtestId": str(row.id), "settingsHash": row.settings_hash},
           reason=f"accepted by user {principal.user_id}: expected reply rate "
                  f"{row.report.get('expectedReplyRate')}, risks: {len(row.report.get('risks', []))}",
           now=row.accepted_at)
    db_session.flush()
    return row


def backtests(*, organization_id: uuid.UUID) -> Select:
    return (select(BdrPolicyBacktest).where(BdrPolicyBacktest.organization_id == organization_id)
            .order_by(BdrPolicyBacktest.created_at.desc(), BdrPolicyBacktest.id))


def enabled_organizations(*, db_session: Session) -> list[uuid.UUID]:
    """Organizations whose agent is on (the schedules' work list; read on the owner connection)."""
    return list(db_session.scalars(select(BdrAgentConfig.organization_id).where(BdrAgentConfig.enabled)))


def configured_organizations(*, db_session: Session) -> list[uuid.UUID]:
    return list(db_session.scalars(select(BdrAgentConfig.organization_id)))
