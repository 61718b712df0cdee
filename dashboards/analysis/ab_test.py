"""A/B significance for two e-mail variants: two-proportion z-test (pooled), with Wilson intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class AbResult:
    rate_a: float | None
    rate_b: float | None
    lift: float | None  # (rate_b - rate_a) / rate_a
    z: float | None
    p_value: float | None
    significant: bool
    interval_a: tuple[float, float] | None
    interval_b: tuple[float, float] | None
    reason: str | None = None  # why there is no test (too little data)

    @property
    def winner(self) -> str | None:
        if not self.significant or self.rate_a is None or self.rate_b is None:
            return None
        return "B" if self.rate_b > self.rate_a else "A"


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float] | None:
    if trials <= 0:
        return None
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int, *,
                        alpha: float = 0.05, min_trials: int = 30) -> AbResult:
    """Is variant B's rate different from A's? Two-sided pooled z-test (equivalent to a 2×2 chi-square
    without continuity correction). Below `min_trials` per variant there is no verdict."""
    if min(successes_a, successes_b) < 0 or successes_a > trials_a or successes_b > trials_b:
        raise ValueError("successes must be between 0 and the number of trials")
    rate_a = successes_a / trials_a if trials_a else None
    rate_b = successes_b / trials_b if trials_b else None
    lift = (rate_b - rate_a) / rate_a if rate_a and rate_b is not None else None
    intervals = wilson_interval(successes_a, trials_a), wilson_interval(successes_b, trials_b)
    if min(trials_a, trials_b) < min_trials:
        return AbResult(rate_a, rate_b, lift, None, None, False, *intervals,
                        reason=f"each variant needs at least {min_trials} deliveries")
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return AbResult(rate_a, rate_b, lift, 0.0, 1.0, False, *intervals, reason="both variants have the same rate")
    z = (rate_b - rate_a) / math.sqrt(variance)
    p_value = float(2 * stats.norm.sf(abs(z)))
    return AbResult(rate_a, rate_b, lift, float(z), p_value, p_value < alpha, *intervals)
