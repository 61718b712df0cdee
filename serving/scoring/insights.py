"""Prospect insights (`GET /prospects/{id}/insights`) from stored scores, score history and the activity timeline.

In the scoring domain because it reads scores: prospects stay below scoring in the layer order.

Once the lead-scoring model has scored a prospect (`ai_insights.topFactors` / `leadScore`, written by the
`ml` assets), its score, tier, factors, model version and daily score history are returned; until then the
factors are rule-based.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from serving.activities import service as activities_service
from serving.prospects.models import Prospect
from serving.prospects.schemas import InsightFactor, ProspectInsights
from serving.scoring import service as scoring_service

_TIER_POINTS = {"burning": 20, "hot": 12, "warm": 5, "low": 0}


def build(*, db_session: Session, prospect: Prospect) -> ProspectInsights:
    counts, last_activity_at = activities_service.engagement_counts(db_session=db_session, prospect_id=prospect.id)
    stored = (prospect.ai_insights or {}).get("topFactors")
    lead_score = (prospect.ai_insights or {}).get("leadScore") or {}
    if stored:
        factors = [InsightFactor(factor=f["factor"], impact=int(f["impact"])) for f in stored]
    else:
        factors = _rule_factors(prospect, counts)
    return ProspectInsights(
        prospect_id=prospect.id,
        priority_score=prospect.priority_score,
        intent_score=prospect.intent_score,
        intent_tier=prospect.intent_tier,
        qualification_score=prospect.qualification_score,
        relationship_stage=prospect.relationship_stage,
        engagement=counts,
        last_activity_at=last_activity_at,
        top_factors=factors,
        ai_insights=prospect.ai_insights or {},
        model_version=(prospect.ai_insights or {}).get("modelVersion"),
        score_history=scoring_service.score_history(db_session=db_session, prospect_id=prospect.id),
        score=lead_score.get("score", prospect.priority_score if stored else None),
        tier=lead_score.get("tier"),
        ml_score=lead_score.get("mlScore"),
        score_baseline=lead_score.get("baseline"),
        other_factors_impact=lead_score.get("otherFactorsImpact"),
    )


def _rule_factors(prospect: Prospect, counts: dict[str, int]) -> list[InsightFactor]:
    factors = []
    if prospect.intent_tier:
        factors.append(InsightFactor(factor=f"Intent tier {prospect.intent_tier}",
                                     impact=_TIER_POINTS.get(prospect.intent_tier, 0)))
    for activity, label, points in (
        ("email_opened", "Opened emails", 2), ("email_clicked", "Clicked emails", 4),
        ("email_received", "Replied to emails", 8), ("meeting_scheduled", "Meetings scheduled", 15),
        ("call_made", "Calls", 1),
    ):
        if counts.get(activity):
            factors.append(InsightFactor(factor=f"{label}: {counts[activity]}",
                                         impact=min(points * counts[activity], 25)))
    sent, replies = counts.get("email_sent", 0), counts.get("email_received", 0)
    if sent >= 3 and not replies:
        factors.append(InsightFactor(factor=f"No reply to {sent} emails", impact=-min(2 * sent, 15)))
    return sorted(factors, key=lambda f: abs(f.impact), reverse=True)[:8]
