"""Declarative spec of the lead-scoring features (dbt mart `ml_lead_features`) and the leakage guard."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

FeatureKind = Literal["numeric", "flag", "categorical"]

INTENT_TIERS = ("low", "warm", "hot", "burning")  # seed 3.6: 0–25, 26–50, 51–75, 76–100
INTENT_TRENDS = ("increasing", "stable", "decreasing")
SENIORITIES = ("c_level", "vp", "director", "manager", "individual")
DEPARTMENTS = ("sales", "marketing", "operations", "engineering", "finance", "other")
EMPLOYEE_BANDS = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+")
REVENUE_BANDS = ("<1M", "1M-10M", "10M-50M", "50M-250M", "250M-1B", "1B+")


@dataclass(frozen=True)
class Feature:
    """One model input; `group` names the explanation factor it belongs to.

    `phrase` is the plain-word template for the factor, with `{value}` standing for the row's value;
    `zero` and `missing` replace it when the value is 0 / absent ("No web sessions", "Never engaged").
    """

    name: str
    kind: FeatureKind
    label: str
    description: str = ""
    group: str = ""
    categories: tuple[str, ...] | None = None
    optional: bool = False
    phrase: str | None = None
    zero: str | None = None
    missing: str | None = None

    @property
    def factor(self) -> str:
        return self.group or self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        categories = data.get("categories")
        return cls(**{**data, "categories": tuple(categories) if categories is not None else None})


@dataclass(frozen=True)
class FeatureSpec:
    """The columns a model reads; ids, date and label are carried but never used as features."""

    features: tuple[Feature, ...]
    target: str = "converted"
    date_column: str | None = "snapshot_date"
    id_columns: tuple[str, ...] = ("prospect_id", "organization_id")
    context_columns: tuple[str, ...] = ()
    label_window_days: int = 0
    deny_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        """Numeric and 0/1 flag columns, in spec order."""
        return [f.name for f in self.features if f.kind != "categorical"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def groups(self) -> dict[str, list[str]]:
        """Explanation factor → its feature columns, in spec order."""
        groups: dict[str, list[str]] = {}
        for f in self.features:
            groups.setdefault(f.factor, []).append(f.name)
        return groups

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features], "target": self.target,
                "date_column": self.date_column, "id_columns": list(self.id_columns),
                "context_columns": list(self.context_columns), "label_window_days": self.label_window_days,
                "deny_columns": list(self.deny_columns)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(features=tuple(Feature.from_dict(f) for f in data["features"]), target=data["target"],
                   date_column=data.get("date_column"), id_columns=tuple(data.get("id_columns", ())),
                   context_columns=tuple(data.get("context_columns", ())),
                   label_window_days=int(data.get("label_window_days", 0)),
                   deny_columns=tuple(data.get("deny_columns", ())))


# Columns that only exist once the outcome is known (or are our own scores); a training frame that
# carries one of them is refused outright, whatever its timestamp.
POST_OUTCOME_COLUMNS = (
    "converted_at", "conversion_date", "meeting_booked_at", "opportunity_id", "opportunity_created_at",
    "deal_id", "deal_stage", "deal_amount", "closed_at", "won", "lost_reason", "status", "lead_status",
    "relationship_stage", "priority_score", "qualification_score", "lead_score",
)

LEAD_FEATURES = FeatureSpec(
    target="converted",
    date_column="snapshot_date",
    id_columns=("prospect_id", "organization_id"),
    context_columns=("title",),
    label_window_days=30,
    deny_columns=POST_OUTCOME_COLUMNS,
    features=(
        Feature("title_seniority", "categorical", "Seniority", "Seniority derived from the job title.",
                categories=SENIORITIES, phrase="Seniority {value}", missing="Seniority unknown"),
        Feature("department", "categorical", "Department", "Department derived from the job title.",
                categories=DEPARTMENTS, phrase="Department {value}", missing="Department unknown"),
        Feature("industry", "categorical", "Industry", "Account industry.", phrase="Industry {value}",
                missing="Industry unknown"),
        Feature("employee_band", "categorical", "Company size", "Account employee count band.",
                categories=EMPLOYEE_BANDS, phrase="{value} employees", missing="Company size unknown"),
        Feature("revenue_band", "categorical", "Revenue", "Account annual revenue band (USD).",
                categories=REVENUE_BANDS, phrase="Revenue {value}", missing="Revenue unknown"),
        Feature("emails_sent", "numeric", "Emails sent",
                "Emails sent to the prospect, 90 days before the snapshot.",
                group="email_replies"),
        Feature("emails_replied", "numeric", "Email replies",
                "Replies received, 90 days before the snapshot.",
                group="email_replies"),
        Feature("emails_opened", "numeric", "Email opens", "Email opens, 90 days before the snapshot.",
                phrase="Opened emails {value} times", zero="No email opens"),
        Feature("emails_clicked", "numeric", "Email clicks",
                "Email link clicks, 90 days before the snapshot.",
                phrase="Clicked email links {value} times", zero="No email clicks"),
        Feature("meetings_held", "numeric", "Meetings", "Meetings held, 90 days before the snapshot.",
                phrase="{value} meetings held", zero="No meetings held"),
        Feature("web_sessions", "numeric", "Web sessions", "Website sessions, 30 days before the snapshot.",
                phrase="{value} web sessions", zero="No web sessions"),
        Feature("days_since_last_engagement", "numeric", "Recency",
                "Days from the last engagement of any kind to the snapshot; empty if never engaged.",
                phrase="Last engaged {value} days ago", zero="Engaged on the snapshot day",
                missing="Never engaged"),
        Feature("intent_score", "numeric", "Intent score", "Intent score 0–100 at the snapshot.",
                group="intent"),
        Feature("intent_tier", "categorical", "Intent tier", "Intent tier from the score.", group="intent",
                categories=INTENT_TIERS),
        Feature("intent_trend", "categorical", "Intent trend", "Intent trend over the last 14 days.",
                categories=INTENT_TRENDS, phrase="Intent {value}", missing="Intent trend unknown"),
        Feature("intent_spike", "flag", "Intent spike",
                "1 if an intent spike was detected in the last 7 days.",
                phrase="Intent spike detected", zero="No intent spike", missing="Intent spike unknown"),
        Feature("technology_count", "numeric", "Technographics", "Known technologies in the account's stack.",
                optional=True, phrase="{value} known technologies", zero="No known technologies",
                missing="Tech stack unknown"),
    ),
)


class LeakageError(ValueError):
    """A frame carries information from after its snapshot date; `column` names the culprit."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def observation_columns(columns: Iterable[str]) -> list[str]:
    """Timestamp columns that say when a feature value was observed (checked by the leakage guard)."""
    return [c for c in columns if c.endswith("_observed_at") or c in ("last_event_at", "last_engagement_at")]


def assert_no_leakage(frame: pd.DataFrame, *, spec: FeatureSpec = LEAD_FEATURES,
                      deny: Sequence[str] | None = None) -> None:
    """Raise `LeakageError` if a column is post-outcome or a feature was observed after the snapshot date.

    A value observed at any time on the snapshot date itself counts as known at the snapshot.
    """
    denied = {d.lower() for d in (spec.deny_columns if deny is None else deny)}
    for column in frame.columns:
        if str(column).lower() in denied:
            raise LeakageError(str(column), f"column {column!r} is only known after the outcome (deny-list "
                                            "of post-outcome columns); drop it from the feature frame")
    if spec.date_column is None:
        return
    if spec.date_column not in frame.columns:
        raise ValueError(f"frame has no {spec.date_column!r} column")
    day_end = _naive(frame[spec.date_column]).dt.normalize() + pd.Timedelta(days=1)
    for column in observation_columns(frame.columns):
        observed = _naive(frame[column])
        late = (observed >= day_end).to_numpy()
        if late.any():
            first = int(np.flatnonzero(late)[0])
            row = frame.iloc[first]
            id_column = spec.id_columns[0] if spec.id_columns else None
            who = f"prospect {row[id_column]}" if id_column in frame.columns else f"row {first}"
            raise LeakageError(column, f"feature timestamp {column!r} is after {spec.date_column!r} in "
                                       f"{int(late.sum())} row(s), e.g. {who}: {observed.iloc[first]} > "
                                       f"{row[spec.date_column]}; features must be observed on or before the "
                                       "snapshot date")


def prepare_frame(frame: Any, *, spec: FeatureSpec = LEAD_FEATURES) -> pd.DataFrame:
    """Check and coerce a feature frame (pandas or polars): numeric as float, categories as text.

    Optional features that are absent are added as missing; a required feature that is absent raises.
    Text that does not parse as a number in a numeric feature becomes missing (typed marts never have
    any; exported CSVs do).
    """
    if not isinstance(frame, pd.DataFrame):
        frame = frame.to_pandas()  # polars and pyarrow tables
    missing = [f.name for f in spec.features if f.name not in frame.columns and not f.optional]
    if missing:
        raise ValueError(f"feature frame lacks required columns: {', '.join(missing)}")
    out = frame.copy(deep=False)  # copy-on-write: new columns never touch the caller's frame
    for f in spec.features:
        if f.name not in out.columns:
            out[f.name] = np.nan
        if f.kind == "categorical":
            out[f.name] = _as_text(out[f.name])
        else:
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype("float64")
    if spec.date_column and spec.date_column in out.columns:
        out[spec.date_column] = pd.to_datetime(out[spec.date_column])
    return out


def _as_text(values: pd.Series) -> pd.Series:
    """Categories as object-dtype text with NaN for missing, so a value hashes and encodes the same
    whether it came from Postgres, polars or a CSV (bools as yes/no, integral floats without ".0")."""
    if pd.api.types.is_bool_dtype(values):
        values = values.map({True: "yes", False: "no"})
    elif pd.api.types.is_numeric_dtype(values):
        integral = values.dropna().mod(1).eq(0).all()
        values = values.astype("Int64" if integral else "float64").astype("str")
    else:
        values = values.astype("str")
    return values.astype(object)


def _naive(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None) if stamps.dt.tz is not None else stamps


def matching_columns(columns: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """Columns matching any glob pattern, case-insensitively (e.g. `Asymmetrique*`)."""
    lowered = [p.lower() for p in patterns]
    return [c for c in columns if any(fnmatch.fnmatchcase(str(c).lower(), p) for p in lowered)]
