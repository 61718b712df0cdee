"""Where the `ml` assets keep artifacts: `REVORC_HOME` (models under `models/lead_scoring/<org>/`)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class RevorcHomeResource(ConfigurableResource):
    """The state folder shared with the API, which loads champion artifacts from the same place."""

    path: str = Field(description="REVORC_HOME: model registry artifacts and training sets live under it")
    # OpenMP threads per sklearn call; 1 keeps gradient boosting predictable on shared cores
    threads: int = Field(default=1)

    @property
    def home(self) -> Path:
        return Path(self.path).expanduser().resolve()
