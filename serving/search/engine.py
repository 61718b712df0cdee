"""The Typesense side of search: collections behind aliases, document writes, the search-only parent key and
the per-organization scoped keys every search runs with.

Tenancy: the API never searches with the admin key. It searches with a key scoped by Typesense itself
(an HMAC over embedded parameters) whose `filter_by` pins the organization by its search tenant, the number every
one of its documents carries (`organizations.search_tenant`, unique); Typesense ANDs that embedded filter with
whatever filter the request carries, so no filter string, hostile or not, can widen it. A number and not the id:
Typesense 0.24 checks an exact string filter against every matching document's token positions, which cost a
search 72 ms at an organization of 1,000,000 documents; the numeric filter is a lookup (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

import aiohttp
import httpx
import typesense
from typesense import exceptions as ts_errors

from serving.core.config import Settings
from serving.core.errors import ServiceUnavailable
from serving.search.collections import ENTITIES, Entity

logger = logging.getLogger(__name__)

# a scoped key is refused by Typesense after this; the API makes a new one well before
SCOPED_KEY_TTL = 3600


class SearchUnavailable(ServiceUnavailable):
    """Typesense is not configured, or did not answer: a 503 in the error envelope, whoever raises it."""

    code = "SEARCH_UNAVAILABLE"


class IndexWriteError(RuntimeError):
    """Typesense refused some documents of an import (the first reasons are in the message)."""


def _nodes(url: str) -> list[dict]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return [{"host": parts.hostname, "port": str(port), "protocol": parts.scheme or "http"}]


@dataclass
class SearchIndex:
    url: str
    admin_key: str
    prefix: str = "revorc"
    timeout: float = 5.0
    # (search tenant, expiry) -> its scoped key: generating one is an HMAC and two JSON encodings per search
    _scoped: dict[tuple[int, int], str] = field(default_factory=dict, init=False, repr=False)
    _scoped_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # the event loop of the API's async client, and the client (a client belongs to the loop it was made on)
    _async_http: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = field(default=None, init=False,
                                                                                  repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchIndex:
        configured = settings.typesense
        if configured is None:
            raise SearchUnavailable("search is not configured: set TYPESENSE_URL and TYPESENSE_API_KEY")
        url, key = configured
        return cls(url=url, admin_key=key, prefix=settings.search_collection_prefix)

    # -- clients ---------------------------------------------------------------------------------------------

    @cached_property
    def http(self) -> httpx.Client:
        # one connection pool for the admin client and every organization's scoped client
        return httpx.Client(timeout=self.timeout, limits=httpx.Limits(max_connections=64,
                                                                       max_keepalive_connections=32))

    def client(self, api_key: str | None = None) -> typesense.Client:
        return typesense.Client({"api_key": api_key or self.admin_key, "nodes": _nodes(self.url),
                                 "connection_timeout_seconds": self.timeout, "num_retries": 1},
                                http_client=self.http)

    @cached_property
    def admin(self) -> typesense.Client:
        return self.client()

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()

    def async_http(self) -> aiohttp.ClientSession:
        """The kept-alive connection pool the API's searches use on the running event loop (made on first use;
        an app served on a new loop, as a test client may be, gets a new one). aiohttp rather than httpx: it
        spends about a third of httpx's CPU per request (profiled under load), and the API shares its CPU with
        Typesense."""
        loop = asyncio.get_running_loop()
        if self._async_http is None or self._async_http[0] is not loop:
            self._async_http = (loop, aiohttp.ClientSession(
                base_url=self.url, timeout=aiohttp.ClientTimeout(total=self.timeout),
                # identity: the answers travel over loopback or a LAN; compressing them costs Typesense CPU
                headers={"Accept-Encoding": "identity", "Content-Type": "application/json"},
                connector=aiohttp.TCPConnector(limit=64)))
        return self._async_http[1]

    async def aclose(self) -> None:
        if self._async_http is not None:
            _, session = self._async_http
            self._async_http = None
            await session.close()

    # -- collections and aliases ----------------------------------------------------------------------------

    def alias(self, entity: str) -> str:
        return f"{self.prefix}_{entity}"

    def collection_for(self, entity: str) -> str | None:
        """The collection the entity's alias points at, or None before the first index."""
        try:
            return self.admin.aliases[self.alias(entity)].retrieve()["collection_name"]
        except ts_errors.ObjectNotFound:
            return None

    def create_collection(self, entity: Entity) -> str:
        name = f"{self.alias(entity.name)}_{time.time_ns()}"
        self.admin.collections.create(entity.schema(name))
        return name

    def swap(self, entity: str, collection: str) -> str | None:
        """Point the alias at `collection` (atomic for searches) and drop the one it replaced."""
        previous = self.collection_for(entity)
        self.admin.aliases.upsert(self.alias(entity), {"collection_name": collection})
        if previous and previous != collection:
            self.drop(previous)
        return previous

    def drop(self, collection: str) -> None:
        with contextlib.suppress(ts_errors.ObjectNotFound):
            self.admin.collections[collection].delete()

    def ensure(self, entities: Iterable[Entity] | None = None) -> None:
        """Create the collection behind each alias that has none yet (first start, a fresh Typesense)."""
        try:
            for entity in entities or ENTITIES.values():
                if self.collection_for(entity.name) is None:
                    self.swap(entity.name, self.create_collection(entity))
            self.ensure_search_key()
        except (ts_errors.TypesenseClientError, httpx.HTTPError) as exc:
            raise SearchUnavailable(f"the search engine is not reachable: {exc}") from exc

    def outdated(self, entities: Iterable[Entity] | None = None) -> list[str]:
        """The entities whose collection lacks a field of the current schema: built by an older release, they need a
        full reindex (`serving.search.reindex`) before searches can use it (a worker's first search job runs one)."""
        names = []
        for entity in entities or ENTITIES.values():
            collection = self.collection_for(entity.name)
            if collection is None:
                continue
            present = {f["name"] for f in self.admin.collections[collection].retrieve()["fields"]}
            if {f["name"] for f in entity.schema_fields} - present:
                names.append(entity.name)
        return names

    def collections(self) -> list[dict]:
        return self.admin.collections.retrieve()

    # -- documents ------------------------------------------------------------------------------------------

    def upsert(self, target: str, documents: Sequence[dict], *, action: str = "upsert") -> int:
        """Import documents into a collection or alias; returns how many Typesense refused (`create` refuses
        existing ids, which the reindex relies on)."""
        if not documents:
            return 0
        results = self.admin.collections[target].documents.import_(list(documents), {"action": action})
        refused = [r for r in results if not r.get("success")]
        if refused and action == "upsert":
            reasons = "; ".join(str(r.get("error")) for r in refused[:3])
            raise IndexWriteError(f"Typesense refused {len(refused)} of {len(documents)} documents: {reasons}")
        return len(refused)

    def delete(self, target: str, ids: Iterable[str]) -> None:
        documents = self.admin.collections[target].documents
        for document_id in ids:
            with contextlib.suppress(ts_errors.ObjectNotFound):
                documents[document_id].delete()

    def delete_organization(self, organization_id: str) -> int:
        deleted = 0
        for entity in ENTITIES.values():
            try:
                result = self.admin.collections[self.alias(entity.name)].documents.delete(
                    {"filter_by": f"organization_id:={organization_id}"})
                deleted += int(result.get("num_deleted", 0))
            except ts_errors.ObjectNotFound:
                continue
        return deleted

    def counts_by_organization(self, entity: str) -> dict[str, int]:
        """Documents per organization behind the entity's alias, in one faceted query."""
        params = {"q": "*", "per_page": 0, "facet_by": "organization_id", "max_facet_values": 1_000_000}
        try:
            result = self.admin.collections[self.alias(entity)].documents.search(params)
        except ts_errors.ObjectNotFound:
            return {}
        counts = next((f["counts"] for f in result.get("facet_counts", []) if f["field_name"] == "organization_id"),
                      [])
        return {c["value"]: int(c["count"]) for c in counts}

    # -- keys -----------------------------------------------------------------------------------------------

    @cached_property
    def search_key(self) -> str:
        """The search-only parent key, derived from the admin key so every process agrees on it without
        storing it; `ensure_search_key` makes Typesense know it."""
        digest = hmac.new(self.admin_key.encode(), f"revorc-search-only:{self.prefix}".encode(), hashlib.sha256)
        return digest.hexdigest()

    def ensure_search_key(self) -> None:
        description = f"revorc search-only key ({self.prefix})"
        existing = self.admin.keys.retrieve().get("keys", [])
        if any(k.get("description") == description and self.search_key.startswith(k.get("value_prefix", "-"))
               for k in existing):
            return
        # another worker may make the same key between the look and the create: it exists then, as wanted
        with contextlib.suppress(ts_errors.ObjectAlreadyExists):
            self.admin.keys.create({"description": description, "actions": ["documents:search"],
                                    "collections": [f"{self.prefix}_.*"], "value": self.search_key})

    def scoped_key(self, tenant: int, *, now: float | None = None) -> tuple[str, int]:
        """A key that can only search the documents of the organization whose search tenant is `tenant`, and its
        expiry (epoch seconds).

        The expiry is the end of the next hour bucket, so one key serves an organization for an hour and still has
        at least an hour to live when handed out: it is made once per organization and bucket and kept (keys of
        past buckets are dropped when a new bucket starts)."""
        tenant = int(tenant)
        expires_at = int((now or time.time()) // SCOPED_KEY_TTL * SCOPED_KEY_TTL + 2 * SCOPED_KEY_TTL)
        cached = self._scoped.get((tenant, expires_at))
        if cached is not None:
            return cached, expires_at
        params = {"filter_by": f"tenant:={tenant}", "expires_at": expires_at}
        key = self.admin.keys.generate_scoped_search_key(self.search_key, params)
        key = key.decode() if isinstance(key, bytes) else key
        with self._scoped_lock:  # the event loop and the thread pool (suggestions) both make keys
            kept = {k: v for k, v in self._scoped.items() if k[1] == expires_at}
            kept[(tenant, expires_at)] = key
            self._scoped = kept  # replaced, never changed in place: a lookup without the lock stays safe
        return key, expires_at

    # -- search ---------------------------------------------------------------------------------------------

    def multi_search(self, api_key: str, searches: list[dict]) -> list[dict]:
        try:
            response = self.client(api_key).multi_search.perform({"searches": searches}, {})
        except (ts_errors.TypesenseClientError, httpx.HTTPError) as exc:
            raise SearchUnavailable(f"the search engine did not answer: {exc}") from exc
        return response["results"]

    async def multi_search_async(self, api_key: str, searches: list[dict]) -> list[dict]:
        """`multi_search` on the event loop, over the kept-alive async pool: what the search API uses (the sync
        client cost a thread-pool hop and a blocking wait per search). Same errors: Typesense down, slow beyond
        the timeout or answering other than 200 is SEARCH_UNAVAILABLE; a kept-alive connection Typesense closed
        meanwhile is tried once more, as the sync client's one retry does."""
        session = self.async_http()
        body = json.dumps({"searches": searches})
        for attempt in range(2):
            try:
                async with session.post("/multi_search", data=body,
                                        headers={"X-TYPESENSE-API-KEY": api_key}) as response:
                    payload = await response.read()
                    status = response.status
                break
            except aiohttp.ClientConnectionError as exc:
                if attempt:
                    raise SearchUnavailable(f"the search engine did not answer: {exc!r}") from exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise SearchUnavailable(f"the search engine did not answer: {exc!r}") from exc
        if status != 200:
            raise SearchUnavailable(f"the search engine answered {status}: {payload[:200].decode(errors='replace')}")
        return json.loads(payload)["results"]
