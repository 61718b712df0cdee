"""HubSpot CRM v3 and Salesforce REST clients over httpx, in the vendors' documented wire formats.

Both speak through `CrmHttp`, which retries a 429 after its Retry-After and a 401 once after refreshing the
OAuth token; the connectors hand it their context's tracked client and token refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

MAX_RETRY_AFTER = 60.0  # seconds; a longer ask ends this sync (the next scheduled one resumes from the cursor)
MAX_ATTEMPTS = 4
PAGE_SIZE = 100  # HubSpot's search and batch maximum
SALESFORCE_API = "v60.0"


class CrmError(Exception):
    """The remote refused a request; `status` and the vendor's message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass
class RemoteRecord:
    id: str
    properties: dict[str, Any]
    modified_at: datetime | None


class CrmHttp:
    """Bearer-authenticated JSON calls with 429 and expired-token handling.

    `refresh` returns a new access token (and may change `base_url`, as Salesforce's `instance_url` can);
    `sleep` is injectable so tests observe the Retry-After wait instead of spending it.
    """

    def __init__(self, client: httpx.Client, *, base_url: str, access_token: str,
                 refresh: Callable[[], tuple[str, str | None]] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.refresh = refresh
        self.sleep = sleep

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        refreshed = False
        for _ in range(MAX_ATTEMPTS):
            url = path if path.startswith("http") else f"{self.base_url}{path}"
            response = self.client.request(method, url, json=json, params=params,
                                           headers={"Authorization": f"Bearer {self.access_token}"})
            if response.status_code == 401 and self.refresh is not None and not refreshed:
                refreshed = True
                self.access_token, base_url = self.refresh()
                if base_url:
                    self.base_url = base_url.rstrip("/")
                continue
            if response.status_code == 429:
                self.sleep(_retry_after(response))
                continue
            if response.status_code >= 400:
                raise CrmError(response.status_code, _message(response))
            return response.json() if response.content else None
        raise CrmError(response.status_code, f"gave up after {MAX_ATTEMPTS} attempts: {_message(response)}")


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    if seconds > MAX_RETRY_AFTER:
        raise CrmError(429, f"rate limited for {seconds:.0f} s")
    return max(seconds, 0.0)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Salesforce: [{"message", "errorCode"}]
        return "; ".join(f"{e.get('errorCode', '')}: {e.get('message', '')}" for e in body)[:500]
    if isinstance(body, dict):
        return str(body.get("message") or body)[:500]
    return str(body)[:500]


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    text = text.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # Salesforce's +0000
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text)


# HubSpot names the last-modified property differently on contacts.
HUBSPOT_MODIFIED = {"contacts": "lastmodifieddate"}


class HubSpotClient:
    """`/crm/v3/objects/{object}`: list and search (incremental), create, batch update."""

    provider = "hubspot"
    API_BASE = "https://api.hubapi.com"
    AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
    TOKEN_URL = "https://api.hubapi.com/oauth/v1/token"
    SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
              "crm.objects.companies.write", "crm.objects.deals.read", "crm.objects.deals.write")

    def __init__(self, http: CrmHttp) -> None:
        self.http = http

    def check(self) -> None:
        """Raises CrmError when the token cannot read contacts (revoked, missing scope)."""
        self.http.request("GET", "/crm/v3/objects/contacts", params={"limit": 1})

    def changed(self, obj: str, fields: list[str], since: datetime | None) -> Iterator[RemoteRecord]:
        modified = HUBSPOT_MODIFIED.get(obj, "hs_lastmodifieddate")
        properties = sorted({*fields, modified})
        after: str | None = None
        while True:
            if since is None:
                params: dict[str, Any] = {"limit": PAGE_SIZE, "properties": ",".join(properties)}
                if after:
                    params["after"] = after
                page = self.http.request("GET", f"/crm/v3/objects/{obj}", params=params)
            else:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": [{"propertyName": modified, "operator": "GTE",
                                                   "value": str(int(since.timestamp() * 1000))}]}],
                    "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                    "properties": properties, "limit": PAGE_SIZE,
                }
                if after:
                    body["after"] = after
                page = self.http.request("POST", f"/crm/v3/objects/{obj}/search", json=body)
            for result in page.get("results", []):
                props = result.get("properties") or {}
                yield RemoteRecord(id=str(result["id"]), properties=props,
                                   modified_at=_parse_time(props.get(modified) or result.get("updatedAt")))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def create(self, obj: str, properties: dict[str, Any]) -> str:
        created = self.http.request("POST", f"/crm/v3/objects/{obj}", json={"properties": _strings(properties)})
        return str(created["id"])

    def update(self, obj: str, remote_id: str, properties: dict[str, Any]) -> None:
        self.update_many(obj, {remote_id: properties})

    def update_many(self, obj: str, updates: dict[str, dict[str, Any]]) -> None:
        """One `/batch/update` call per hundred records."""
        inputs = [{"id": rid, "properties": _strings(props)} for rid, props in updates.items()]
        for start in range(0, len(inputs), PAGE_SIZE):
            self.http.request("POST", f"/crm/v3/objects/{obj}/batch/update",
                              json={"inputs": inputs[start:start + PAGE_SIZE]})


def _strings(properties: dict[str, Any]) -> dict[str, str]:
    # HubSpot property values are strings on the wire.
    return {key: str(value) for key, value in properties.items()}


class SalesforceClient:
    """REST API on the org's `instance_url`: SOQL query with `nextRecordsUrl` paging, sObject create and PATCH."""

    provider = "salesforce"
    AUTHORIZE_URL = "https://login.salesforce.com/services/oauth2/authorize"
    TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
    SCOPES = ("api", "refresh_token")

    def __init__(self, http: CrmHttp) -> None:
        self.http = http

    def check(self) -> None:
        """Raises CrmError when the session cannot use the REST API (revoked, API disabled for the user)."""
        self.http.request("GET", f"/services/data/{SALESFORCE_API}/limits")

    def changed(self, obj: str, fields: list[str], since: datetime | None) -> Iterator[RemoteRecord]:
        # Field and object names are validated API names (mapping.REMOTE_NAME), never user text in the SOQL.
        columns = ", ".join(sorted({"Id", "LastModifiedDate", *fields}))
        soql = f"SELECT {columns} FROM {obj}"
        if since is not None:
            soql += f" WHERE LastModifiedDate > {since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        soql += " ORDER BY LastModifiedDate"
        page = self.http.request("GET", f"/services/data/{SALESFORCE_API}/query", params={"q": soql})
        while True:
            for record in page.get("records", []):
                props = {k: v for k, v in record.items() if k != "attributes"}
                yield RemoteRecord(id=str(record["Id"]), properties=props,
                                   modified_at=_parse_time(record.get("LastModifiedDate")))
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.http.request("GET", next_url)

    def create(self, obj: str, properties: dict[str, Any]) -> str:
        created = self.http.request("POST", f"/services/data/{SALESFORCE_API}/sobjects/{obj}/", json=properties)
        return str(created["id"])

    def update(self, obj: str, remote_id: str, properties: dict[str, Any]) -> None:
        self.http.request("PATCH", f"/services/data/{SALESFORCE_API}/sobjects/{obj}/{remote_id}", json=properties)


RemoteCrm = HubSpotClient | SalesforceClient
