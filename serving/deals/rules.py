"""Deal rules: default probability per stage, the seed's forecast-category bands, and currencies.

Bands (seed 1.2), lower bound inclusive: pipeline [0, 25), best case [25, 75), commit [75, 90),
closed [90, 100] or won. A lost deal is omitted from the forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serving.core.errors import ValidationFailed
from serving.deals.models import CLOSED_STAGES, DealStage, ForecastCategory

STAGE_PROBABILITY = {
    DealStage.discovery: 10,
    DealStage.qualification: 25,
    DealStage.proposal: 50,
    DealStage.negotiation: 75,
    DealStage.closed_won: 100,
    DealStage.closed_lost: 0,
}

# Active ISO 4217 codes (legal tender somewhere today). Kept here rather than taken from a
# locale library so validation does not depend on a transitive dependency's data.
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF
    XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())


def probability_for_stage(stage: str) -> int:
    return STAGE_PROBABILITY[DealStage(stage)]


def forecast_category_for(probability: int, stage: str) -> ForecastCategory:
    if stage == DealStage.closed_won:
        return ForecastCategory.closed
    if stage == DealStage.closed_lost:
        return ForecastCategory.omitted
    if probability >= 90:
        return ForecastCategory.closed
    if probability >= 75:
        return ForecastCategory.commit
    if probability >= 25:
        return ForecastCategory.best_case
    return ForecastCategory.pipeline


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A field the client did not send (distinct from an explicit null)."""


@dataclass(frozen=True)
class PipelinePosition:
    probability: int
    forecast_category: ForecastCategory
    forecast_category_manual: bool


def resolve_position(
    *,
    stage: str,
    probability: int | None = UNSET,
    forecast_category: str | None = UNSET,
    current: PipelinePosition | None = None,
    stage_changed: bool = True,
) -> PipelinePosition:
    """Where a deal sits after a create (`current` None) or an update.

    `UNSET` means the client did not send the field; None means "back to automatic": the stage's
    default probability, or the category banded from the probability. A closed stage fixes both,
    so a contradicting value is refused rather than silently overwritten.
    """
    stage = DealStage(stage)
    if stage in CLOSED_STAGES:
        fixed = STAGE_PROBABILITY[stage]
        category = forecast_category_for(fixed, stage)
        if probability not in (UNSET, None) and probability != fixed:
            raise ValidationFailed(f"probability of a {stage.value} deal is {fixed}",
                                   details={"field": "probability", "value": probability})
        if forecast_category not in (UNSET, None) and forecast_category != category:
            raise ValidationFailed(f"a {stage.value} deal is in the '{category.value}' forecast category",
                                   details={"field": "forecastCategory", "value": forecast_category})
        return PipelinePosition(fixed, category, False)

    if probability is None or (probability is UNSET and (current is None or stage_changed)):
        resolved_probability = STAGE_PROBABILITY[stage]
    elif probability is UNSET:
        resolved_probability = current.probability
    else:
        resolved_probability = probability

    if forecast_category is UNSET and current is not None and current.forecast_category_manual:
        return PipelinePosition(resolved_probability, current.forecast_category, True)
    if forecast_category in (UNSET, None):
        return PipelinePosition(resolved_probability, forecast_category_for(resolved_probability, stage), False)
    return PipelinePosition(resolved_probability, ForecastCategory(forecast_category), True)
