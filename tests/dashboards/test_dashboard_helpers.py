"""Pure helpers behind the pages: A/B significance, close periods, model-card reading, freshness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from dashboards.analysis.ab_test import two_proportion_test, wilson_interval
from dashboards.data.data_health import freshness
from dashboards.data.lead_scoring import PSI_LARGE, champion_from_rows, drift_by_day, factors_table, versions_table
from dashboards.data.pipeline import period_bounds
from dashboards.data.search import summarize
from models.lead_scoring.evaluate import score_histogram


def test_two_proportion_test_matches_chi_square_without_correction():
    result = two_proportion_test(30, 60, 12, 60)
    _, p, _, _ = chi2_contingency([[30, 30], [12, 48]], correction=False)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert result.significant and result.winner == "A"
    assert result.lift == pytest.approx(-0.6)
    assert result.z == pytest.approx(-0.3 / (0.35 * 0.65 * 2 / 60) ** 0.5)


def test_two_proportion_test_without_enough_data_gives_no_verdict():
    small = two_proportion_test(5, 10, 1, 10)
    assert small.p_value is None and not small.significant and "at least 30" in small.reason
    same = two_proportion_test(0, 50, 0, 50)
    assert same.p_value == 1.0 and not same.significant
    with pytest.raises(ValueError):
        two_proportion_test(11, 10, 1, 10)


def test_wilson_interval_contains_the_rate_and_stays_in_bounds():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0 < high < 0.2
    low, high = wilson_interval(30, 60)
    assert low < 0.5 < high
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("period", "expected"), [
    ("this_month", (date(2026, 11, 1), date(2026, 12, 1))),
    ("this_quarter", (date(2026, 10, 1), date(2027, 1, 1))),
    ("next_quarter", (date(2027, 1, 1), date(2027, 4, 1))),
    ("this_year", (date(2026, 1, 1), date(2027, 1, 1))),
    ("overdue", (None, date(2026, 11, 24))),
    ("any", (None, None)),
])
def test_close_periods(period, expected):
    assert period_bounds(period, date(2026, 11, 24)) == expected


def test_champion_is_read_from_the_registry_rows_model_card():
    card = {"version": "v2", "family": "logistic_regression", "created_at": "2026-11-01T00:00:00+00:00",
            "metrics": {"roc_auc": 0.8, "pr_auc": 0.4, "calibration": [{"bin": 0, "mean_predicted": 0.1,
                                                                        "observed_rate": 0.12, "rows": 10}],
                        "deciles": [{"decile": 1, "lift": 3.0}]},
            "rows": {"train": 900, "validation": 300},
            "notes": {"dropped_features": {"technology_count": "no values in the training window"}}}
    rows = [{"version": "v3", "is_champion": False, "status": "retired", "model_card": {"version": "v3"}},
            {"version": "v2", "is_champion": True, "status": "champion", "model_card": card,
             "evaluation": {"decision": {"reason": "beats v1 on the holdout"}}, "score_distribution": [0] * 100 + [5],
             "champion_history": [{"at": "2026-11-01", "reason": "beats v1 on the holdout", "previous": "v1"}],
             "data_window": {"train": {"min": "2026-06-01", "max": "2026-08-01"}}, "promoted_at": None}]
    champion = champion_from_rows(rows)
    assert champion.version == "v2" and champion.metrics == {"roc_auc": 0.8, "pr_auc": 0.4}
    assert champion.calibration["observed_rate"].tolist() == [0.12]
    assert champion.deciles["lift"].tolist() == [3.0]
    assert champion.decision == "beats v1 on the holdout" and champion.promoted_at is None
    assert champion.reference[-1] == 5 and champion.rows == {"train": 900, "validation": 300}
    assert champion.dropped_features == {"technology_count": "no values in the training window"}
    assert champion_from_rows([{"version": "v1", "status": "retired", "is_champion": False}]) is None


def test_drift_is_the_psi_of_each_days_score_histogram_against_the_training_window():
    reference = score_histogram(np.repeat(np.arange(0, 100, 5), 10))  # 200 scores spread over 0..95

    def day(when, counts):  # {score: prospects}
        return pd.DataFrame({"score_date": when, "score": list(counts), "prospects": list(counts.values())})

    daily = pd.concat([
        day(date(2026, 11, 22), {10: 10}),  # too few prospects to say anything
        day(date(2026, 11, 23), dict.fromkeys(range(0, 100, 5), 3)),  # the training shape
        day(date(2026, 11, 24), {90: 60}),  # everyone scored 90
    ])
    drift = drift_by_day(daily, reference=reference)
    assert drift["score_date"].tolist() == [date(2026, 11, 23), date(2026, 11, 24)]
    assert drift["prospects"].tolist() == [60, 60]
    assert drift["psi"].iloc[0] < 0.01 < PSI_LARGE < drift["psi"].iloc[1]
    assert drift_by_day(daily, reference=None).empty


def test_versions_and_factors_tables():
    registry = pd.DataFrame({"version": ["v2", "v1"], "family": ["logistic_regression"] * 2,
                             "status": ["champion", "retired"], "metrics": [{"roc_auc": 0.71}, {"roc_auc": 0.65}],
                             "trained_at": [None, None], "promoted_at": [None, None]})
    assert versions_table(registry)["roc_auc"].tolist() == [0.71, 0.65]
    predictions = pd.DataFrame({"top_factors": [[{"factor": "Intent tier hot", "impact": 18, "feature": "intent_tier",
                                                  "text": "Intent tier hot: +18"}]]})
    assert factors_table(predictions).to_dict("records") == [
        {"factor": "Intent tier hot", "impact": 18, "text": "Intent tier hot: +18"}]


def test_freshness():
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert freshness(None, now) == "never"
    assert freshness(now - timedelta(hours=25), now) == "fresh"
    assert freshness(now - timedelta(hours=27), now) == "stale"


def test_a_manually_promoted_champion_says_why():
    row = {"version": "v1", "is_champion": True, "model_card": {},
           "evaluation": {"decision": {"reason": "validation ROC-AUC 0.55 below the floor 0.6; not promoted"}},
           "champion_history": [{"at": "2026-11-24", "reason": "promoted through the API", "previous": None}]}
    assert champion_from_rows([row]).decision == "promoted through the API"
    assert champion_from_rows([{**row, "champion_history": []}]).decision.startswith("validation ROC-AUC")


def test_search_summary_weights_the_mean_search_time_by_each_days_searches():
    days = pd.DataFrame({"searches": [1, 3], "zero_result_searches": [1, 0], "avg_latency_ms": [100.0, 20.0],
                         "searches_with_click": [0, 3]})
    summary = summarize(days)
    assert summary.searches == 4
    assert summary.avg_latency_ms == pytest.approx((100 + 3 * 20) / 4)  # not the mean of the means (60)
    assert summary.zero_result_rate == pytest.approx(0.25)
    assert summary.click_through_rate == pytest.approx(0.75)
    empty = summarize(days.iloc[0:0])
    assert (empty.searches, empty.avg_latency_ms, empty.click_through_rate) == (0, None, None)
