"""Versioned model registry: skops artifacts + model cards on disk, metadata behind `RegistryStore`.

Layout under the registry directory (the platform passes `REVORC_HOME/models/lead_scoring`)::

    index.json              FileRegistryStore: versions, champion, champion history
    v1/model.skops          the fitted estimator (skops; never pickle)
    v1/model_card.json      the ModelCard

Promotion rule: a challenger becomes champion only if its PR-AUC on the *same* holdout frame beats
the champion's by at least `min_gain` (default 0.001: a tie keeps the incumbent, so two equivalent
models do not flap), and never when its holdout ROC-AUC is below 0.5. A model whose card records a
refusal (below chance, or calibration that changed its ranking) is not even saved. `promote` forces a
version; `rollback` returns to an earlier one.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import skops.io as sio

from models.lead_scoring.evaluate import ModelCard, classification_metrics
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.train import LeadScoringModel, chance_problem

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
PROMOTION_METRIC = "pr_auc"
PROMOTION_MIN_GAIN = 0.001
# Types skops does not trust by default but a lead-scoring model legitimately contains. Everything
# else must be a class from scikit-learn or numpy; functions and other libraries are refused.
ALLOWED_EXTRA_TYPES = frozenset({"functools.partial", "sklearn.utils.validation.check_array"})
ALLOWED_MODULE_PREFIXES = ("sklearn.", "numpy.")


class UntrustedArtifactError(RuntimeError):
    """The artifact contains types outside the allow-list (or does not match its recorded checksum)."""


class RefusedModelError(ValueError):
    """The model's own evaluation says it must not be used (it is not saved)."""


class RegistryStore(Protocol):
    """Where version metadata and the champion pointer live (a JSON file here, Postgres later)."""

    def list_versions(self) -> list[dict[str, Any]]: ...  # oldest first

    def get(self, version: str) -> dict[str, Any] | None: ...

    def save_metadata(self, version: str, metadata: dict[str, Any]) -> None: ...

    def set_champion(self, version: str, *, reason: str) -> None: ...

    def get_champion(self) -> str | None: ...


class FileRegistryStore:
    """`index.json` in the registry directory, rewritten atomically on every change."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "index.json"

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"versions": {}, "champion": None, "history": []}
        return json.loads(self.path.read_text())

    def _write(self, index: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".index-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(index, handle, indent=2)
        os.replace(tmp, self.path)

    def list_versions(self) -> list[dict[str, Any]]:
        return list(self._read()["versions"].values())

    def get(self, version: str) -> dict[str, Any] | None:
        return self._read()["versions"].get(version)

    def save_metadata(self, version: str, metadata: dict[str, Any]) -> None:
        index = self._read()
        index["versions"][version] = metadata
        self._write(index)

    def set_champion(self, version: str, *, reason: str) -> None:
        index = self._read()
        index["champion"] = version
        index["history"].append({"version": version, "reason": reason, "at": _now()})
        self._write(index)

    def get_champion(self) -> str | None:
        return self._read()["champion"]


@dataclass(frozen=True)
class PromotionDecision:
    version: str
    promoted: bool
    reason: str
    champion_version: str | None = None
    challenger_metric: float | None = None
    champion_metric: float | None = None
    metric: str = PROMOTION_METRIC
    min_gain: float = PROMOTION_MIN_GAIN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelRegistry:
    """Save, load, compare and promote lead-scoring models kept under one directory."""

    def __init__(self, root: str | Path, *, store: RegistryStore | None = None) -> None:
        self.root = Path(root)
        self.store = store or FileRegistryStore(self.root)

    def versions(self) -> list[dict[str, Any]]:
        return self.store.list_versions()

    def champion(self) -> str | None:
        return self.store.get_champion()

    def register(self, model: LeadScoringModel, *, holdout: pd.DataFrame | None = None,
                 min_gain: float = PROMOTION_MIN_GAIN) -> PromotionDecision:
        """Save the model as a new version (written into `model.card.version`), then decide whether it
        becomes champion.

        With a holdout frame (features + label), the challenger rule applies. Without one, the model
        becomes champion only if there is none yet. A model whose card records a refusal or an ROC-AUC
        below chance raises RefusedModelError and nothing is written.
        """
        metrics = model.card.metrics or {}
        refused = metrics.get("refused") or (chance_problem(metrics["roc_auc"]) if "roc_auc" in metrics else None)
        if refused:  # the last line of defence: callers choose among usable candidates already
            raise RefusedModelError(f"{model.card.family} is not registered: {refused}")
        version = self._save(model)
        if holdout is not None:
            return self.challenge(version, holdout=holdout, min_gain=min_gain)
        if self.champion() is None:
            self.store.set_champion(version, reason="first model")
            return PromotionDecision(version=version, promoted=True, reason="first model")
        return PromotionDecision(version=version, promoted=False, champion_version=self.champion(),
                                 reason="no holdout given; the champion is kept (promote explicitly)")

    def challenge(self, version: str, *, holdout: pd.DataFrame,
                  min_gain: float = PROMOTION_MIN_GAIN) -> PromotionDecision:
        """Evaluate `version` and the champion on the same holdout; promote `version` if it is better."""
        champion = self.champion()
        challenger = self.evaluate(version, holdout=holdout)
        challenger_metric = challenger[PROMOTION_METRIC]
        below_chance = chance_problem(challenger["roc_auc"])
        if below_chance:
            return PromotionDecision(version=version, promoted=False, champion_version=champion,
                                     reason=f"not promoted: holdout {below_chance}",
                                     challenger_metric=challenger_metric)
        if champion == version:
            return PromotionDecision(version=version, promoted=False, reason="already champion",
                                     champion_version=champion, challenger_metric=challenger_metric)
        if champion is None:
            self.store.set_champion(version, reason="first model")
            return PromotionDecision(version=version, promoted=True, reason="first model",
                                     challenger_metric=challenger_metric)
        incumbent = self.load(champion)
        required = [f.name for f in incumbent.spec.features if not f.optional]
        lacking = [name for name in required if name not in holdout.columns]
        if lacking:  # e.g. a bring-your-own-history model: it cannot score the data we now train on
            reason = f"champion {champion} cannot score this holdout (lacks {', '.join(lacking[:5])})"
            self.store.set_champion(version, reason=reason)
            return PromotionDecision(version=version, promoted=True, reason=reason, champion_version=champion,
                                     challenger_metric=challenger_metric)
        champion_metric = _holdout_metrics(incumbent, holdout)[PROMOTION_METRIC]
        promoted = challenger_metric >= champion_metric + min_gain
        reason = (f"{PROMOTION_METRIC} {challenger_metric:.4f} vs champion {champion} {champion_metric:.4f} "
                  f"on the same holdout ({len(holdout)} rows, min gain {min_gain})")
        if promoted:
            self.store.set_champion(version, reason=f"beat champion: {reason}")
        return PromotionDecision(version=version, promoted=promoted, reason=reason, champion_version=champion,
                                 challenger_metric=challenger_metric, champion_metric=champion_metric,
                                 min_gain=min_gain)

    def evaluate(self, version: str, *, holdout: pd.DataFrame) -> dict[str, Any]:
        """Metrics of `version` on a labelled frame."""
        return _holdout_metrics(self.load(version), holdout)

    def promote(self, version: str, *, reason: str = "forced promotion") -> None:
        """Make `version` champion regardless of metrics."""
        self._require(version)
        self.store.set_champion(version, reason=reason)

    def rollback(self, version: str) -> None:
        """Make an earlier version (registered before the current champion) champion again."""
        order = [m["version"] for m in self.versions()]
        self._require(version)
        champion = self.champion()
        if champion is None or order.index(version) >= order.index(champion):
            raise ValueError(f"rollback target {version} must be older than the champion {champion}")
        self.store.set_champion(version, reason=f"rollback from {champion}")

    def load(self, version: str | None = None) -> LeadScoringModel:
        """Load `version` (default: the champion) after checking its checksum and the types it holds."""
        version = version or self.champion()
        if version is None:
            raise LookupError("the registry has no champion yet")
        metadata = self._require(version)
        folder = self.root / version
        path = folder / MODEL_FILE
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != metadata["sha256"]:
            raise UntrustedArtifactError(f"{path} does not match the checksum recorded at registration")
        estimator = load_artifact(data)
        card = ModelCard.from_dict(json.loads((folder / CARD_FILE).read_text()))
        return LeadScoringModel(estimator=estimator, card=card)

    def _save(self, model: LeadScoringModel) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        number = len(self.versions()) + 1
        while True:  # exclusive mkdir: two writers never share a version folder
            version = f"v{number}"
            try:
                (self.root / version).mkdir()
                break
            except FileExistsError:
                number += 1
        folder = self.root / version
        model.card.version = version
        sio.dump(model.estimator, folder / MODEL_FILE)
        (folder / CARD_FILE).write_text(json.dumps(model.card.to_dict(), indent=2))
        self.store.save_metadata(version, {
            "version": version, "registered_at": _now(), "path": version,
            "sha256": hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest(),
            **_headline(model.card)})
        return version

    def _require(self, version: str) -> dict[str, Any]:
        metadata = self.store.get(version)
        if metadata is None:
            raise LookupError(f"unknown model version {version!r}")
        return metadata


def _holdout_metrics(model: LeadScoringModel, holdout: pd.DataFrame) -> dict[str, Any]:
    prepared = prepare_frame(holdout, spec=model.spec)
    return classification_metrics(y_true=prepared[model.spec.target].astype(int),
                                  probability=model.predict_proba(prepared))


def load_artifact(data: bytes) -> Any:
    """skops-load with an explicit trusted list, once every untrusted type passed the allow-list."""
    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not _allowed(t)]
    if refused:
        raise UntrustedArtifactError("artifact holds types outside the allow-list: "
                                     f"{', '.join(sorted(refused))}")
    return sio.load(io.BytesIO(data), trusted=untrusted)


def _allowed(type_name: str) -> bool:
    if type_name in ALLOWED_EXTRA_TYPES:
        return True
    if not type_name.startswith(ALLOWED_MODULE_PREFIXES):
        return False
    module_name, _, attribute = type_name.rpartition(".")
    try:  # importing an installed sklearn/numpy module is safe; we only look, never call
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type)


def _headline(card: ModelCard) -> dict[str, Any]:
    summary = card.summary()
    summary.pop("version", None)
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in summary.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
