"""`RegistryStore` on Postgres: version metadata, model cards and the champion pointer of one organization
live in `app.ml_models`; the skops artifacts stay on disk under `REVORC_HOME/models/lead_scoring/<org>/`.

The library's `ModelRegistry` writes the artifact, then calls `save_metadata` / `set_champion` here, so
champion, promotion and rollback state is transactional with the rest of the app. The store never commits:
the caller's unit of work (a request, an asset step) does.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.lead_scoring.registry import CARD_FILE, ModelRegistry
from serving.scoring.models import LEAD_SCORING, ModelStatus

_VERSION_NUMBER = re.compile(r"^v(\d+)$")


def registry_root(home: Path, organization_id: uuid.UUID | str) -> Path:
    """Where one organization's lead-scoring artifacts live."""
    return Path(home) / "models" / LEAD_SCORING / str(organization_id)


class PostgresRegistryStore:
    """One organization's registry metadata in `app.ml_models` (works on an owner or a tenant session)."""

    def __init__(self, session: Session, organization_id: uuid.UUID | str, *, root: Path,
                 name: str = LEAD_SCORING) -> None:
        self.session = session
        self.organization_id = str(organization_id)
        self.root = Path(root)
        self.name = name

    def _params(self, **values: Any) -> dict[str, Any]:
        return {"org": self.organization_id, "name": self.name, **values}

    def list_versions(self) -> list[dict[str, Any]]:
        rows = self.session.execute(text(
            "select * from app.ml_models where organization_id = :org and name = :name"
            " order by version_number nulls last, registered_at, version"), self._params()).mappings().all()
        return [_metadata(row) for row in rows]

    def get(self, version: str) -> dict[str, Any] | None:
        row = self.session.execute(text(
            "select * from app.ml_models where organization_id = :org and name = :name and version = :version"),
            self._params(version=version)).mappings().first()
        return _metadata(row) if row else None

    def save_metadata(self, version: str, metadata: dict[str, Any]) -> None:
        card_path = self.root / metadata.get("path", version) / CARD_FILE
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        headline = {k: metadata.get(k) for k in ("roc_auc", "pr_auc", "brier", "top_decile_lift", "rows",
                                                 "evaluation")}
        match = _VERSION_NUMBER.match(version)
        self.session.execute(text("""
            insert into app.ml_models (id, organization_id, name, version, version_number, family, status,
                metrics, model_card, artifact_path, artifact_sha256, data_window, trained_at)
            values (:id, :org, :name, :version, :number, :family, 'candidate', cast(:metrics as jsonb),
                cast(:card as jsonb), :path, :sha, cast(:window as jsonb), cast(:trained_at as timestamptz))
            on conflict (organization_id, name, version) do update set
                family = excluded.family, metrics = excluded.metrics, model_card = excluded.model_card,
                artifact_path = excluded.artifact_path, artifact_sha256 = excluded.artifact_sha256,
                data_window = excluded.data_window, trained_at = excluded.trained_at
        """), self._params(
            id=uuid.uuid4(), version=version, number=int(match.group(1)) if match else None,
            family=metadata.get("family"), metrics=json.dumps(headline), card=json.dumps(card),
            path=str(metadata.get("path", version)), sha=metadata["sha256"],
            window=json.dumps(metadata.get("data_window")),
            trained_at=metadata.get("created_at") or metadata.get("registered_at")))

    def set_champion(self, version: str, *, reason: str) -> None:
        previous = self.get_champion()
        # Lock this organization's rows so two promotions cannot both leave a champion behind.
        self.session.execute(text(
            "select id from app.ml_models where organization_id = :org and name = :name for update"), self._params())
        self.session.execute(text(
            "update app.ml_models set is_champion = false, status = :retired"
            " where organization_id = :org and name = :name and is_champion"),
            self._params(retired=ModelStatus.retired.value))
        entry = json.dumps([{"reason": reason, "previous": previous}])
        updated = self.session.execute(text("""
            update app.ml_models set is_champion = true, status = :champion, promoted_at = now(),
                champion_history = champion_history
                    || jsonb_set(cast(:entry as jsonb), '{0,at}', to_jsonb(now()))
            where organization_id = :org and name = :name and version = :version
        """), self._params(champion=ModelStatus.champion.value, entry=entry, version=version)).rowcount
        if not updated:
            raise LookupError(f"unknown model version {version!r}")

    def clear_champion(self) -> None:
        """No champion at all (a first model that failed the quality floor): scoring waits for a good one."""
        self.session.execute(text(
            "update app.ml_models set is_champion = false, status = :retired"
            " where organization_id = :org and name = :name and is_champion"),
            self._params(retired=ModelStatus.retired.value))

    def get_champion(self) -> str | None:
        return self.session.execute(text(
            "select version from app.ml_models where organization_id = :org and name = :name and is_champion"),
            self._params()).scalar()


def _metadata(row: Any) -> dict[str, Any]:
    """The shape `ModelRegistry` expects (version, path, sha256, headline metrics) plus the table's columns."""
    metrics = row["metrics"] or {}
    return {
        **metrics,
        "version": row["version"], "path": row["artifact_path"], "sha256": row["artifact_sha256"],
        "family": row["family"], "status": row["status"], "is_champion": row["is_champion"],
        "data_window": row["data_window"], "evaluation_detail": row["evaluation"],
        "registered_at": row["registered_at"].isoformat() if row["registered_at"] else None,
        "trained_at": row["trained_at"].isoformat() if row["trained_at"] else None,
        "promoted_at": row["promoted_at"].isoformat() if row["promoted_at"] else None,
        "champion_history": row["champion_history"] or [],
    }


def organization_registry(session: Session, organization_id: uuid.UUID | str, *, home: Path) -> ModelRegistry:
    """The library's registry for one organization, backed by `app.ml_models`."""
    root = registry_root(home, organization_id)
    return ModelRegistry(root, store=PostgresRegistryStore(session, organization_id, root=root))
