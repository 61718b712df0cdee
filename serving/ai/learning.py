"""Template learning: A/B variants whose reply rate beats their template's, with statistical significance.

Where the evidence comes from: a cadence e-mail step has a template and may have A/B variants
(`cadence_step_variants`); every e-mail a step sends records `template_id` and `variant_id`. A *challenger* is a
variant with its own subject or content on a step whose template it changes. Its template's arm is every e-mail
the template sent as written: `template_id` = the template and no variant, or a variant that changes nothing.

The test, per challenger: one-sided two-proportion z-test (pooled) of "the challenger's reply rate is higher",
only when both arms have at least `MIN_SENDS` sends; the p-values of all challengers tested in the organization
are corrected together with Benjamini–Hochberg (scipy.stats.false_discovery_control), because testing many
variants and keeping the best would otherwise propose lucky ones. A challenger is proposed when its adjusted
p-value is below `ALPHA`; the evidence carries sends, replies, rates, both p-values and a 95% Newcombe interval
for the difference in rates. A suggestion's id is its variant's id: accepting it re-runs the test (the data may
have changed) and creates the template through the emails domain's template service.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from scipy import stats
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from serving.cadences.models import CadenceStep, CadenceStepVariant
from serving.core.errors import Conflict, NotFound
from serving.core.principal import Principal
from serving.emails import templates, templating
from serving.emails.models import Email, EmailTemplate
from serving.emails.schemas import TemplateIn

MIN_SENDS = 100  # per arm: below it a reply rate of a few percent is mostly noise
ALPHA = 0.05
SENT = ("sent", "delivered", "bounced")  # what the cadence stats count as sent


@dataclass(frozen=True)
class Arm:
    sends: int
    replies: int

    @property
    def rate(self) -> float:
        return self.replies / self.sends if self.sends else 0.0


@dataclass
class Suggestion:
    variant: CadenceStepVariant
    template: EmailTemplate
    challenger: Arm
    baseline: Arm
    p_value: float | None
    p_adjusted: float | None
    interval: tuple[float, float] | None
    reason: str | None = None  # why it is not proposed

    @property
    def proposed(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict:
        return {
            "id": str(self.variant.id), "variantName": self.variant.name, "stepId": str(self.variant.step_id),
            "templateId": str(self.template.id), "templateName": self.template.name,
            "proposed": {"subject": self.variant.subject or self.template.subject,
                         "text": self.variant.content or self.template.text},
            "evidence": {
                "variant": {"sends": self.challenger.sends, "replies": self.challenger.replies,
                            "replyRate": round(self.challenger.rate, 4)},
                "template": {"sends": self.baseline.sends, "replies": self.baseline.replies,
                             "replyRate": round(self.baseline.rate, 4)},
                "lift": round(self.challenger.rate - self.baseline.rate, 4),
                "pValue": self.p_value, "pAdjusted": self.p_adjusted,
                "interval95": list(self.interval) if self.interval else None,
                "test": "one-sided two-proportion z-test, Benjamini–Hochberg across the organization's variants",
                "minSendsPerArm": MIN_SENDS, "alpha": ALPHA,
            },
            "reason": self.reason,
        }


def one_sided_z(a: Arm, b: Arm) -> float:
    """p-value of "a's rate is higher than b's" (pooled two-proportion z-test)."""
    pooled = (a.replies + b.replies) / (a.sends + b.sends)
    variance = pooled * (1 - pooled) * (1 / a.sends + 1 / b.sends)
    if variance == 0:
        return 1.0
    return float(stats.norm.sf((a.rate - b.rate) / math.sqrt(variance)))


def _wilson(arm: Arm, z: float) -> tuple[float, float]:
    p, n = arm.rate, arm.sends
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def newcombe_interval(a: Arm, b: Arm, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for rate(a) − rate(b) (better than Wald at small rates)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    (l1, u1), (l2, u2) = _wilson(a, z), _wilson(b, z)
    d = a.rate - b.rate
    return (round(d - math.sqrt((a.rate - l1) ** 2 + (u2 - b.rate) ** 2), 4),
            round(d + math.sqrt((u1 - a.rate) ** 2 + (b.rate - l2) ** 2), 4))


def _counts(db_session: Session, *conditions) -> Arm:
    sends, replies = db_session.execute(select(func.count(), func.count().filter(Email.replied)).where(
        Email.status.in_(SENT), *conditions)).one()
    return Arm(sends, replies)


def evaluate(*, db_session: Session) -> list[Suggestion]:
    """Every challenger with its evidence, proposed or not (RLS scopes it to the caller's organization)."""
    rows = db_session.execute(
        select(CadenceStepVariant, EmailTemplate)
        .join(CadenceStep, CadenceStep.id == CadenceStepVariant.step_id)
        .join(EmailTemplate, EmailTemplate.id == CadenceStep.template_id)
        .where(or_(CadenceStepVariant.subject.is_not(None), CadenceStepVariant.content.is_not(None)),
               or_(CadenceStepVariant.template_id.is_(None), CadenceStepVariant.template_id == CadenceStep.template_id))
        .order_by(CadenceStepVariant.created_at, CadenceStepVariant.id)).all()
    # variants that change nothing send the template as written: their e-mails are the template's arm too
    plain = select(CadenceStepVariant.id).where(CadenceStepVariant.subject.is_(None),
                                                CadenceStepVariant.content.is_(None))
    out: list[Suggestion] = []
    for variant, template in rows:
        challenger = _counts(db_session, Email.variant_id == variant.id)
        baseline = _counts(db_session, Email.template_id == template.id,
                           or_(Email.variant_id.is_(None), and_(Email.variant_id.in_(plain))))
        if min(challenger.sends, baseline.sends) < MIN_SENDS:
            out.append(Suggestion(variant, template, challenger, baseline, None, None, None,
                                  reason=f"each arm needs at least {MIN_SENDS} sends"))
            continue
        out.append(Suggestion(variant, template, challenger, baseline, one_sided_z(challenger, baseline), None,
                              newcombe_interval(challenger, baseline)))
    tested = [s for s in out if s.p_value is not None]
    if tested:
        adjusted = stats.false_discovery_control([s.p_value for s in tested], method="bh")
        for s, p in zip(tested, adjusted, strict=True):
            s.p_value, s.p_adjusted = round(s.p_value, 6), round(float(p), 6)
            if s.challenger.rate <= s.baseline.rate or p >= ALPHA:
                s.reason = f"not significant: adjusted p-value {s.p_adjusted} ≥ {ALPHA}" \
                    if s.challenger.rate > s.baseline.rate else "the variant does not beat its template"
    return out


def suggestions(*, db_session: Session) -> list[dict]:
    """The proposed ones, strongest evidence first."""
    proposed = [s for s in evaluate(db_session=db_session) if s.proposed]
    return [s.as_dict() for s in sorted(proposed, key=lambda s: (s.p_adjusted, str(s.variant.id)))]


def accept(*, db_session: Session, principal: Principal, suggestion_id: uuid.UUID, name: str | None) -> EmailTemplate:
    found = next((s for s in evaluate(db_session=db_session) if s.variant.id == suggestion_id), None)
    if found is None:
        raise NotFound("suggestion", suggestion_id)
    if not found.proposed:
        raise Conflict(f"this variant is no longer a suggestion: {found.reason}", code="SUGGESTION_NOT_SIGNIFICANT",
                       details=found.as_dict()["evidence"])
    template, content = found.template, found.variant.content
    data = TemplateIn(
        name=name or f"{template.name} — {found.variant.name} (learned)", category=template.category,
        subject=found.variant.subject or template.subject,
        # as the cadence sends it: content with markup is the HTML body, otherwise the text body
        html=(content if "<" in content else None) if content else template.html,
        text=(content if "<" not in content else None) if content else template.text,
        variables=list(template.variables or []), defaults=dict(template.defaults or {}))
    try:
        return templates.create(db_session=db_session, principal=principal, data=data)
    except templating.TemplateError as exc:
        raise Conflict(f"the variant's text is not a valid template: {exc}", code="INVALID_TEMPLATE",
                       details={"unknown": exc.unknown}) from None
