"""Champion models cached in-process by (organization, version, sha256), so real-time scoring loads an
artifact once, and a promotion or retraining (a new version or checksum) is picked up on the next request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from models.lead_scoring.compiled import compiled
from models.lead_scoring.train import LeadScoringModel
from serving.scoring.registry_store import organization_registry

MAX_MODELS = 32
_lock = threading.Lock()
_models: OrderedDict[tuple[str, str, str], LeadScoringModel] = OrderedDict()
_loading: dict[tuple[str, str, str], threading.Lock] = {}
_limited = False


def _limit_threads() -> None:
    # The API serves many small requests concurrently: one OpenMP thread per request avoids the
    # oversubscription that makes gradient boosting 10× slower on shared cores.
    global _limited
    if not _limited:
        threadpool_limits(limits=1, user_api="openmp")
        _limited = True


def cached(*, organization_id: str, version: str, sha256: str) -> LeadScoringModel | None:
    """The loaded model if this process has it (no database, no loading), else None."""
    key = (str(organization_id), version, sha256)
    with _lock:
        model = _models.get(key)
        if model is not None:
            _models.move_to_end(key)
        return model


def get_model(session: Session, *, organization_id: str, version: str, sha256: str, home: Path) -> LeadScoringModel:
    key = (str(organization_id), version, sha256)
    with _lock:
        model = _models.get(key)
        if model is not None:
            _models.move_to_end(key)
            return model
        loading = _loading.setdefault(key, threading.Lock())
    # One load per key (checksum + skops type check, the slowest part of a request): after a promotion the
    # concurrent requests of that organization wait for it instead of each loading the artifact again.
    try:
        with loading:
            with _lock:
                model = _models.get(key)
            if model is None:
                model = organization_registry(session, organization_id, home=home).load(version)
                # compiled into numpy and verified against scikit-learn here, once per load, rather than
                # on the first request (models/lead_scoring/compiled.py)
                compiled(model)
                with _lock:
                    _limit_threads()
                    _models[key] = model
                    while len(_models) > MAX_MODELS:
                        _models.popitem(last=False)
    finally:
        with _lock:
            _loading.pop(key, None)
    return model


def clear() -> None:
    with _lock:
        _models.clear()
