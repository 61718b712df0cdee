"""A deterministic telemarketing history shaped like UCI "bank-additional-full" (no real data).

What matters for lead scoring, reproduced on purpose: rows in time order, a positive rate that drifts from
about 5 % in the early rows to about 50 % in the late ones (11 % overall), five macro columns that follow
time (so a tree model can learn "when" from them), a "days since last contact" column coded 999 when there
was no previous contact, ten categoricals (one of them, the month, also a proxy for time) and a call
duration that leaks the outcome (excluded with `--exclude duration`, as the issue does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

JOBS = ("admin.", "blue-collar", "technician", "services", "management", "retired", "entrepreneur",
        "self-employed", "housemaid", "unemployed", "student", "unknown")
JOB_SHARE = (0.26, 0.22, 0.16, 0.10, 0.07, 0.04, 0.035, 0.035, 0.025, 0.025, 0.02, 0.01)
JOB_EFFECT = (0.1, -0.35, 0.0, -0.2, 0.0, 0.7, -0.15, 0.0, 0.0, 0.2, 0.9, 0.0)
EDUCATION = ("university.degree", "high.school", "basic.9y", "professional.course", "basic.4y", "basic.6y",
             "unknown", "illiterate")
EDUCATION_SHARE = (0.30, 0.23, 0.15, 0.13, 0.10, 0.055, 0.03, 0.005)
EDUCATION_EFFECT = (0.15, 0.0, -0.15, 0.05, 0.0, -0.1, 0.15, 0.3)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
WEEKDAY_EFFECT = (-0.15, 0.05, 0.05, 0.1, -0.05)
# (month label, share of the rows, campaign volume falls over time like the original's)
MONTHS = (("may", 0.20), ("jun", 0.08), ("jul", 0.10), ("aug", 0.09), ("oct", 0.02), ("nov", 0.06),
          ("dec", 0.005), ("mar", 0.01), ("apr", 0.05), ("may", 0.12), ("jun", 0.05), ("jul", 0.07),
          ("aug", 0.06), ("sep", 0.015), ("oct", 0.015), ("nov", 0.01), ("mar", 0.005), ("apr", 0.01),
          ("may", 0.005), ("jun", 0.005), ("jul", 0.005), ("aug", 0.005), ("sep", 0.005), ("oct", 0.005),
          ("nov", 0.005))


def make_bank_history(n_rows: int = 15_000, *, seed: int = 0) -> pd.DataFrame:
    """Rows in time order; `y` is "yes"/"no"; `pdays` is 999 for clients never contacted before."""
    rng = np.random.default_rng(seed)
    shares = np.array([s for _, s in MONTHS])
    period = np.repeat(np.arange(len(MONTHS)), np.round(shares / shares.sum() * n_rows).astype(int))
    period = np.sort(np.resize(period, n_rows))
    time = (np.arange(n_rows) + 0.5) / n_rows  # row order is time order
    # Macro indicators: one value per month with a regime change after the first third of the history.
    regime = 1 / (1 + np.exp(-(period - 8) * 0.9))
    month_noise = rng.normal(0, 1, size=(len(MONTHS), 5))[period]
    emp_var_rate = np.round(1.4 - 4.6 * regime + 0.3 * month_noise[:, 0], 1)
    cons_price_idx = np.round(93.9 - 0.8 * regime + 0.35 * month_noise[:, 1], 3)
    cons_conf_idx = np.round(-40 + 4 * regime + 3 * month_noise[:, 2], 1)
    euribor3m = np.round(np.clip(4.9 - 4.0 * regime + 0.15 * month_noise[:, 3], 0.6, 5.1), 3)
    nr_employed = np.round(5228 - 210 * regime + 15 * month_noise[:, 4], 1)
    # Base log-odds of a subscription drift with time: ~5 % early, ~50 % late.
    late = 1 / (1 + np.exp(-(time - 0.82) * 14))
    logit = -3.75 + 3.4 * late
    age = np.clip(rng.normal(40, 10, n_rows).round(), 17, 95).astype(int)
    age = np.where(rng.random(n_rows) < 0.03, rng.integers(60, 90, n_rows), age)
    logit += np.where(age >= 60, 0.9, 0.0) + np.where(age <= 24, 0.6, 0.0)
    job_idx = rng.choice(len(JOBS), size=n_rows, p=JOB_SHARE)
    logit += np.asarray(JOB_EFFECT)[job_idx]
    edu_idx = rng.choice(len(EDUCATION), size=n_rows, p=EDUCATION_SHARE)
    logit += np.asarray(EDUCATION_EFFECT)[edu_idx]
    marital = rng.choice(["married", "single", "divorced", "unknown"], size=n_rows, p=(0.6, 0.28, 0.11, 0.01))
    logit += np.where(marital == "single", 0.15, 0.0)
    default = rng.choice(["no", "unknown", "yes"], size=n_rows, p=(0.79, 0.2099, 0.0001))
    logit += np.where(default == "unknown", -0.5, 0.0)
    housing = rng.choice(["yes", "no", "unknown"], size=n_rows, p=(0.52, 0.455, 0.025))
    loan = rng.choice(["no", "yes", "unknown"], size=n_rows, p=(0.82, 0.155, 0.025))
    # Land lines were used early; mobile calls convert better.
    contact = np.where(rng.random(n_rows) < 0.35 + 0.55 * regime, "cellular", "telephone")
    logit += np.where(contact == "cellular", 0.7, 0.0)
    weekday_idx = rng.integers(0, len(WEEKDAYS), n_rows)
    logit += np.asarray(WEEKDAY_EFFECT)[weekday_idx]
    # Previous campaigns: more common late; a past success is the strongest single signal.
    contacted_before = rng.random(n_rows) < 0.01 + 0.15 * late
    previous = np.where(contacted_before, rng.integers(1, 4, n_rows), (rng.random(n_rows) < 0.1).astype(int))
    pdays = np.where(contacted_before, rng.integers(0, 27, n_rows), 999)
    past_success = contacted_before & (rng.random(n_rows) < 0.55)
    poutcome = np.where(past_success, "success", np.where(previous > 0, "failure", "nonexistent"))
    logit += np.where(past_success, 1.8, 0.0) + np.where(poutcome == "failure", 0.2, 0.0)
    logit += np.where(contacted_before, -0.04 * (pdays - 6), 0.0)
    campaign = rng.geometric(0.4, n_rows) + (rng.random(n_rows) < 0.05) * rng.integers(3, 30, n_rows)
    logit += -0.12 * np.minimum(campaign - 1, 8)
    y = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    duration = np.round(rng.gamma(2.0, 110, n_rows) * np.where(y, 2.2, 1.0)).astype(int)
    return pd.DataFrame({
        "age": age, "job": np.asarray(JOBS)[job_idx], "marital": marital,
        "education": np.asarray(EDUCATION)[edu_idx], "default": default, "housing": housing, "loan": loan,
        "contact": contact, "month": [MONTHS[p][0] for p in period],
        "day_of_week": np.asarray(WEEKDAYS)[weekday_idx], "duration": duration, "campaign": campaign,
        "pdays": pdays, "previous": previous, "poutcome": poutcome, "emp.var.rate": emp_var_rate,
        "cons.price.idx": cons_price_idx, "cons.conf.idx": cons_conf_idx, "euribor3m": euribor3m,
        "nr.employed": nr_employed, "y": np.where(y, "yes", "no"),
    })
