"""Bring your own history: cross-validate the lead-scoring model families on any historical leads CSV.

Columns are typed automatically (numeric / categorical), form placeholders such as "Select" become
missing, and columns that would make the figures meaningless are dropped with a stated reason: the
target, ID-like columns (unique per row), constant columns, and columns that leak the outcome.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from models.csv_files import missing_column_message, read_frame
from models.lead_scoring.evaluate import ModelCard, classification_metrics
from models.lead_scoring.features import Feature, FeatureSpec, matching_columns, prepare_frame
from models.lead_scoring.registry import ModelRegistry
from models.lead_scoring.train import (
    FAMILIES,
    Family,
    LeadScoringModel,
    NoUsableCandidateError,
    baseline_row,
    build_pipeline,
    calibration_problem,
    calibration_slope,
    chance_problem,
    choose_best,
    uncalibrated_probability,
)

# Form defaults that mean "not answered" (compared after strip + lower-case).
DEFAULT_PLACEHOLDERS = ("select", "--", "-", "?", "n/a", "na", "null", "none", "not specified",
                        "not provided")
# Columns known to be written after sales contact; the X Education README documents each of them.
DEFAULT_LEAKAGE_COLUMNS = ("Tags", "Lead Quality", "Lead Profile", "Asymmetrique*", "Last Activity",
                           "Last Notable Activity")
# Names that usually describe the outcome or the sales process after contact, in any CRM export.
LEAKY_NAME = re.compile(r"\b(status|stage|tags?|quality|outcome|disposition|reason|won|lost|closed|converted|"
                        r"conversion|last (notable )?activity)\b")
ID_NAME = re.compile(r"\b(id|ids|uuid|guid|key|number|no|code)\b")
MAX_SINGLE_COLUMN_AUC = 0.9  # one column that ranks the outcome this well on its own is a label in disguise
CALIBRATION_FOLDS = 3
POSITIVE_LABELS = frozenset({"1", "yes", "y", "true", "t", "converted", "won"})
NEGATIVE_LABELS = frozenset({"0", "no", "n", "false", "f", "not converted", "lost"})


@dataclass
class EvaluationReport:
    """Cross-validated metrics per candidate, the excluded columns and why, and the best model refit.

    `best` and `model` are None when every candidate was refused (each candidate's `refused` says why).
    """

    source: str
    target: str
    rows: int
    positive_rate: float
    features: dict[str, list[str]]
    excluded: dict[str, str]
    candidates: dict[str, dict[str, Any]]
    best: str | None
    model: LeadScoringModel | None
    cv_folds: int
    seed: int
    version: str | None = None
    promotion: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "model"}


def read_history(path: str | Path, *, placeholders: Iterable[str] = DEFAULT_PLACEHOLDERS,
                 max_rows: int | None = None, seed: int = 0, delimiter: str | None = None,
                 encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV with placeholders as missing and whitespace-normalised text; optionally subsample.
    Delimiter and encoding are detected unless given (see `models.csv_files`)."""
    frame = read_frame(Path(path).read_bytes(), delimiter=delimiter, encoding=encoding)
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed).sort_index()
    lowered = {p.strip().lower() for p in placeholders}
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            text = frame[column].astype("str").str.strip().str.replace(r"\s+", " ", regex=True)
            frame[column] = text.mask(text.str.lower().isin(lowered))
    return frame


def leakage_columns(frame: pd.DataFrame, *, target: str, known: Sequence[str] = DEFAULT_LEAKAGE_COLUMNS,
                    max_single_auc: float = MAX_SINGLE_COLUMN_AUC, seed: int = 0) -> dict[str, str]:
    """Columns that probably leak the target, with the reason: the known list (glob patterns), names that
    describe outcomes or later sales activity, and columns that predict the target almost on their own."""
    y = _binary_target(frame[target])
    found = {c: "known leaking column (default list)"
             for c in matching_columns(frame.columns, known) if c != target}
    for column in frame.columns:
        if column == target or column in found:
            continue
        if LEAKY_NAME.search(_words(column)):
            found[column] = "name suggests post-outcome information"
            continue
        auc = _single_column_auc(frame[column], y, seed=seed)
        if auc >= max_single_auc:
            found[column] = f"predicts the target almost alone (single-column AUC {auc:.3f})"
    return found


def evaluate_csv(path: str | Path, *, target: str, exclude: Sequence[str] = (), id_column: str | None = None,
                 max_rows: int | None = None, seed: int = 0, cv_folds: int = 5,
                 placeholders: Iterable[str] = DEFAULT_PLACEHOLDERS, detect_leakage: bool = True,
                 known_leakage: Sequence[str] = DEFAULT_LEAKAGE_COLUMNS, keep: Sequence[str] = (),
                 families: Sequence[Family] = FAMILIES, delimiter: str | None = None,
                 encoding: str | None = None) -> EvaluationReport:
    """Cross-validate every candidate family on a historical leads CSV and refit the best on all rows.

    A candidate whose cross-validated ROC-AUC is below 0.5, or whose calibration changed its ranking in
    any fold or in the final refit, is refused and never chosen (`candidates[f]["refused"]` says why).
    `exclude` drops columns on request; `keep` overrides the leakage heuristics for named columns;
    `detect_leakage=False` turns them off (to measure how much the leaking columns inflate the figures).
    """
    started = time.perf_counter()
    frame = read_history(path, placeholders=placeholders, max_rows=max_rows, seed=seed, delimiter=delimiter,
                         encoding=encoding)
    if target not in frame.columns:
        raise ValueError(missing_column_message(f"target column {target!r}", found=frame.columns,
                                                source=Path(path).name, read_as=frame.attrs.get("csv")))
    labelled = frame[target].notna()
    frame = frame[labelled].reset_index(drop=True)
    frame[target] = _binary_target(frame[target])
    _require_both_classes(frame[target], folds=cv_folds, source=Path(path).name)
    excluded = _excluded_columns(frame, target=target, exclude=exclude, id_column=id_column, keep=keep,
                                 detect_leakage=detect_leakage, known_leakage=known_leakage, seed=seed)
    spec = _infer_spec(frame.drop(columns=list(excluded)), target=target, id_column=id_column)
    data = prepare_frame(frame, spec=spec)
    X, y = data[spec.columns], data[target].to_numpy()
    folds = list(StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed).split(X, y))
    candidates = {family: _cross_validate(family, spec, X, y, folds, seed) for family in families}
    best, estimator = _refit_best(candidates, spec, X, y, seed)
    report = EvaluationReport(
        source=Path(path).name, target=target, rows=len(data), positive_rate=float(y.mean()),
        features={"numeric": spec.numeric, "categorical": spec.categorical}, excluded=excluded,
        candidates=candidates, best=best, model=None, cv_folds=cv_folds, seed=seed,
    )
    if best is None:
        return report
    card = ModelCard(
        family=best, target=target, features=spec.to_dict(), candidates=candidates, metrics=candidates[best],
        evaluation="cross_validation",
        calibration=f"sigmoid, cross-fitted on {CALIBRATION_FOLDS} shuffled stratified folds of the training rows",
        seed=seed, training_seconds=round(time.perf_counter() - started, 3),
        rows={"train": len(data)}, positive_rate={"train": float(y.mean())},
        baseline_row=baseline_row(data, spec=spec),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        notes={"source": Path(path).name, "cv_folds": cv_folds, "excluded": excluded,
               "dropped_unlabelled_rows": int((~labelled).sum()),
               "chosen_by": "cross-validated pr_auc among candidates with ROC-AUC >= 0.5 whose calibration "
                            "kept their ranking"},
    )
    report.model = LeadScoringModel(estimator=estimator, card=card)
    return report


def run_evaluate(csv: str | Path, *, target: str, exclude: Sequence[str] = (), id_column: str | None = None,
                 registry_dir: str | Path, max_rows: int | None = None, seed: int = 0,
                 cv_folds: int = 5, families: Sequence[Family] = FAMILIES, delimiter: str | None = None,
                 encoding: str | None = None) -> EvaluationReport:
    """`revorc leads evaluate`: evaluate the CSV and register the best model (champion only if none yet).

    Nothing is saved when every candidate was refused (`report.best` is None).
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(f"unknown model families {unknown}; choose from {', '.join(FAMILIES)}")
    report = evaluate_csv(csv, target=target, exclude=exclude, id_column=id_column, max_rows=max_rows,
                          seed=seed, cv_folds=cv_folds, families=families, delimiter=delimiter, encoding=encoding)
    if report.model is None:
        return report
    decision = ModelRegistry(registry_dir).register(report.model)
    report.version = decision.version
    report.promotion = decision.to_dict()
    return report


def render_report(report: EvaluationReport) -> Group:
    """Rich renderable for the CLI: summary, metrics per candidate, lift by decile, exclusions."""
    summary = Text(f"{report.source}: {report.rows:,} rows, target {report.target!r} "
                   f"(positive rate {report.positive_rate:.1%}), {report.cv_folds}-fold cross-validation, "
                   f"{len(report.features['numeric'])} numeric + {len(report.features['categorical'])} "
                   "categorical features")
    metrics = Table(title="Cross-validated metrics (pooled out-of-fold predictions; mean ± sd over folds)")
    for column in ("candidate", "ROC-AUC", "uncalibrated ROC-AUC", "PR-AUC", "Brier", "top-decile lift"):
        metrics.add_column(column, justify="left" if column == "candidate" else "right")
    for family, m in report.candidates.items():
        folds = m["folds"]
        metrics.add_row(
            family + (" (best)" if family == report.best else " (refused)" if m.get("refused") else ""),
            f"{m['roc_auc']:.3f} ± {folds['roc_auc_sd']:.3f}",
            f"{m['roc_auc_uncalibrated']:.3f} ± {folds['roc_auc_uncalibrated_sd']:.3f}",
            f"{m['pr_auc']:.3f} ± {folds['pr_auc_sd']:.3f}",
            f"{m['brier']:.3f} ± {folds['brier_sd']:.3f}", f"{m['top_decile_lift']:.2f}")
    lift = Table(title="Lift and conversion rate by score decile (1 = top 10 %)")
    lift.add_column("decile", justify="right")
    for family in report.candidates:
        lift.add_column(f"{family} lift", justify="right")
        lift.add_column("conv. rate", justify="right")
    for i in range(len(next(iter(report.candidates.values()))["deciles"])):
        cells = [str(i + 1)]
        for m in report.candidates.values():
            d = m["deciles"][i]
            cells += [f"{d['lift']:.2f}", f"{d['conversion_rate']:.1%}"]
        lift.add_row(*cells)
    excluded = Table(title="Excluded columns")
    excluded.add_column("column")
    excluded.add_column("reason")
    for column, reason in report.excluded.items():
        excluded.add_row(column, reason)
    parts: list[Any] = [summary, metrics, lift, excluded]
    for family, m in report.candidates.items():
        if m.get("refused"):
            parts.append(Text(f"Refused {family}: {m['refused']}", style="yellow"))
    if report.best is None:
        parts.append(Text("Nothing saved: no candidate is usable (a model must rank better than chance and "
                          "rank like its uncalibrated pipeline).", style="bold red"))
    if report.version:
        promoted = (report.promotion or {}).get("promoted")
        parts.append(Text(f"Saved {report.best} as {report.version}"
                          + (" (champion)" if promoted else " (candidate; promote it explicitly)")))
    return Group(*parts)


def _excluded_columns(frame: pd.DataFrame, *, target: str, exclude: Sequence[str], id_column: str | None,
                      keep: Sequence[str], detect_leakage: bool, known_leakage: Sequence[str],
                      seed: int) -> dict[str, str]:
    missing = [c for c in (*exclude, *keep, *([id_column] if id_column else [])) if c not in frame.columns]
    if missing:
        raise ValueError(f"unknown column(s): {', '.join(missing)}")
    excluded: dict[str, str] = {}
    if id_column:
        excluded[id_column] = "id column"
    for column in exclude:
        excluded.setdefault(column, "excluded by request")
    for column in frame.columns:
        values = frame[column]
        if column == target or column in excluded:
            continue
        if values.nunique(dropna=True) <= 1:
            excluded[column] = "constant"
        elif _id_like(column, values):
            excluded[column] = "unique per row (ID-like)"
    if detect_leakage:
        rest = frame.drop(columns=list(excluded))
        for column, reason in leakage_columns(rest, target=target, known=known_leakage, seed=seed).items():
            if column not in keep:
                excluded[column] = reason
    return excluded


def _id_like(column: str, values: pd.Series) -> bool:
    """Unique per row and either text or an integer whose name says it is an identifier; a unique
    integer measure (revenue, seconds on site) in a small file is not an ID."""
    if pd.api.types.is_float_dtype(values) or values.isna().any() or not values.is_unique:
        return False
    return not pd.api.types.is_numeric_dtype(values) or bool(ID_NAME.search(_words(column)))


def _words(column: str) -> str:
    """"dealStage", "Deal_Stage" and "Deal Stage" all become "deal stage"."""
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"([a-z])([A-Z])", r"\1 \2", str(column)).lower()).strip()


def _infer_spec(frame: pd.DataFrame, *, target: str, id_column: str | None) -> FeatureSpec:
    features = []
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not numeric and values.notna().any():
            # a text column that is almost all numbers is numeric; prepare_frame turns the rest into missing
            numeric = pd.to_numeric(values, errors="coerce").notna().sum() >= 0.95 * values.notna().sum()
        features.append(Feature(column, "numeric" if numeric else "categorical", label=str(column)))
    return FeatureSpec(features=tuple(features), target=target, date_column=None,
                       id_columns=(id_column,) if id_column else ())


def _calibrated(family: Family, spec: FeatureSpec, seed: int) -> CalibratedClassifierCV:
    # No time axis in a generic export, so calibration is cross-fitted; ensemble=False leaves one
    # pipeline inside, which the explanations need. The inner folds must be shuffled: exports are often
    # in time order, and an unshuffled StratifiedKFold cuts each class into contiguous blocks, so with a
    # drifting positive rate the held-out negatives come from months whose training rows are mostly
    # positives (and the reverse). A model that learns the month from drifting columns then scores its
    # held-out rows backwards, Platt scaling fits a negative slope and inverts the final model (issue 10:
    # ROC-AUC 0.20 instead of 0.80 on a time-ordered telemarketing history).
    # Sigmoid rather than isotonic: with a positive slope it keeps the ranking exactly and has no ties.
    inner = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(build_pipeline(family=family, spec=spec, seed=seed), method="sigmoid",
                                  cv=inner, ensemble=False)


def _cross_validate(family: Family, spec: FeatureSpec, X: pd.DataFrame, y: np.ndarray,
                    folds: list[tuple[np.ndarray, np.ndarray]], seed: int) -> dict[str, Any]:
    """Pooled out-of-fold metrics of the calibrated candidate, and per fold the ROC-AUC of its own
    uncalibrated pipeline and the Platt slope; `refused` says why the candidate must not be used."""
    started = time.perf_counter()
    oof, oof_uncalibrated = np.empty(len(y)), np.empty(len(y))
    per_fold, problems = [], []
    for number, (train_idx, test_idx) in enumerate(folds, start=1):
        model = _calibrated(family, spec, seed).fit(X.iloc[train_idx], y[train_idx])
        oof[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
        oof_uncalibrated[test_idx] = uncalibrated_probability(model, X.iloc[test_idx])
        fold = classification_metrics(y_true=y[test_idx], probability=oof[test_idx])
        uncalibrated = classification_metrics(y_true=y[test_idx], probability=oof_uncalibrated[test_idx])
        slope = calibration_slope(model)
        per_fold.append({**{k: fold[k] for k in ("roc_auc", "pr_auc", "brier")},
                         "roc_auc_uncalibrated": uncalibrated["roc_auc"], "calibration_slope": slope})
        problem = calibration_problem(slope=slope, roc_auc=fold["roc_auc"],
                                      roc_auc_uncalibrated=uncalibrated["roc_auc"])
        if problem:
            problems.append(f"fold {number}: {problem}")
    metrics = classification_metrics(y_true=y, probability=oof)
    metrics["roc_auc_uncalibrated"] = classification_metrics(y_true=y, probability=oof_uncalibrated)["roc_auc"]
    table = pd.DataFrame(per_fold).drop(columns=["calibration_slope"])
    metrics["folds"] = {**{f"{k}_mean": float(table[k].mean()) for k in table},
                        **{f"{k}_sd": float(table[k].std(ddof=1)) for k in table}, "per_fold": per_fold}
    # the chance floor applies to the pooled figure, not to one small fold
    below_chance = chance_problem(metrics["roc_auc"])
    metrics["refused"] = "; ".join(problems + ([below_chance] if below_chance else [])) or None
    metrics["fit_seconds"] = round(time.perf_counter() - started, 3)
    return metrics


def _refit_best(candidates: dict[str, dict[str, Any]], spec: FeatureSpec, X: pd.DataFrame, y: np.ndarray,
                seed: int) -> tuple[str | None, CalibratedClassifierCV | None]:
    """Refit the best usable candidate on all rows; a refit whose calibration inverts the model is refused
    too (recorded on its candidate) and the next one is tried. (None, None) when nothing is usable."""
    while True:
        try:
            best = choose_best(candidates)
        except NoUsableCandidateError:
            return None, None
        estimator = _calibrated(best, spec, seed).fit(X, y)
        problem = calibration_problem(slope=calibration_slope(estimator))
        if problem is None:
            return best, estimator
        candidates[best]["refused"] = f"refit on all rows: {problem}"


def _require_both_classes(y: pd.Series, *, folds: int, source: str) -> None:
    """Cross-validation needs every fold to hold both outcomes: say so in our words, not scikit-learn's."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if min(positives, negatives) < folds:
        raise ValueError(f"{source} has {len(y)} labelled rows ({positives} positive, {negatives} negative); "
                         f"{folds}-fold cross-validation needs at least {folds} of each")


def _binary_target(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(int)
    if pd.api.types.is_numeric_dtype(values):
        if not values.dropna().isin([0, 1]).all():
            raise ValueError(f"target {values.name!r} must be 0/1, yes/no or true/false")
        return values.astype(int)
    text = values.astype("str").str.strip().str.lower()
    unknown = sorted(set(text.dropna()) - POSITIVE_LABELS - NEGATIVE_LABELS)
    if unknown:
        raise ValueError(f"target {values.name!r} has values that are neither positive nor negative: "
                         f"{unknown[:5]}")
    return text.isin(POSITIVE_LABELS).astype(int)


def _single_column_auc(values: pd.Series, y: pd.Series, *, seed: int) -> float:
    """How well one column ranks the target on its own (categories target-encoded with cross-fitting)."""
    if values.notna().sum() < 20:
        return 0.5
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        score = values.fillna(values.median()).to_numpy(dtype=float)
    else:
        encoder = TargetEncoder(target_type="binary", cv=StratifiedKFold(5, shuffle=True, random_state=seed))
        score = encoder.fit_transform(values.astype("str").fillna("missing").to_frame(), y)[:, 0]
    auc = roc_auc_score(y, score)
    return float(max(auc, 1 - auc))
