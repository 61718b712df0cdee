"""Walk the landing zone (any fsspec URL) and load every new file of a source.

Layout: `<root>/<source>/<organization slug or id>/<any sub-folders>/<file>`. Paths in the ledger are
relative to the root, so moving the landing zone (local → s3://) does not reload everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import psycopg

from pipelines.ingest.ledger import LoadResult, load_file
from pipelines.ingest.sources import Source

SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")


@dataclass(frozen=True)
class LandingFile:
    relative_path: str
    full_path: str
    size: int


class Landing:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")

    def files(self, source: str) -> list[LandingFile]:
        base = f"{self.root}/{source}"
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base, detail=True)
        files = [LandingFile(path[len(self.root) + 1:], path, int(info.get("size") or 0))
                 for path, info in found.items() if path.lower().endswith(SUFFIXES)]
        return sorted(files, key=lambda f: f.relative_path)

    def read(self, file: LandingFile) -> bytes:
        with self.fs.open(file.full_path, "rb") as handle:
            return handle.read()

    def write(self, relative_path: str, data: bytes) -> str:
        path = f"{self.root}/{relative_path}"
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as handle:
            handle.write(data)
        return path

    def fingerprint(self, sources: list[str]) -> list[tuple[str, int]]:
        return [(f.relative_path, f.size) for source in sources for f in self.files(source)]


def organization_ids(conn: psycopg.Connection) -> dict[str, str]:
    """Landing folder name → organization id (folders may be named by slug or by id)."""
    mapping: dict[str, str] = {}
    for org_id, slug in conn.execute("select id, slug from app.organizations").fetchall():
        mapping[slug] = str(org_id)
        mapping[str(org_id)] = str(org_id)
    return mapping


def organization_folder(relative_path: str) -> str | None:
    parts = relative_path.split("/")
    return parts[1] if len(parts) >= 3 else None


def ingest_source(conn: psycopg.Connection, landing: Landing, source: Source) -> Iterator[LoadResult]:
    orgs = organization_ids(conn)
    conn.commit()
    for file in landing.files(source.name):
        folder = organization_folder(file.relative_path)
        org = orgs.get(folder or "")
        if org is None and folder:
            try:
                org = orgs.get(str(uuid.UUID(folder)))
            except ValueError:
                org = None
        yield load_file(conn, source, path=file.relative_path, data=landing.read(file), organization_id=org)
