"""HubSpot CRM v3 and Salesforce REST stand-ins: real local HTTP servers answering in the vendors' documented JSON
(search/list paging with `after`, SOQL `nextRecordsUrl` paging, batch update, sObject create/PATCH, 429 with
Retry-After, 401 on an expired token and the OAuth refresh that cures it)."""

from __future__ import annotations

import itertools
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import QuietHandler

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeCrm:
    """State shared by a fake's handler: records per object, the valid token, what was asked."""

    page_cap = 2  # the fake pages small so the client's paging is exercised

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.modified: dict[tuple[str, str], datetime] = {}
        self.clock = START
        self.token = "token-1"
        self.refreshes = 0
        self.throttle = 0  # answer this many next calls with 429
        self.requests: list[tuple[str, str, Any]] = []
        self.ids = itertools.count(1001)
        self.archived: dict[str, set[str]] = {}  # deleted in the CRM: listed no more, refused on update

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def put(self, obj: str, values: dict[str, Any], *, remote_id: str | None = None,
            modified: datetime | None = None) -> str:
        remote_id = remote_id or self.new_id(obj)
        self.records.setdefault(obj, {}).setdefault(remote_id, {}).update(values)
        self.modified[(obj, remote_id)] = modified or self.tick()
        return remote_id

    def new_id(self, obj: str) -> str:
        return str(next(self.ids))

    def expire_token(self) -> None:
        self.token = f"expired-{self.token}"

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] in ("POST", "PATCH") and "/search" not in r[1]
                and "/token" not in r[1]]


def handler_for(fake: FakeCrm, route) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            return json.loads(raw) if raw else None

        def _handle(self) -> None:
            body = self._body()
            with fake.lock:
                fake.requests.append((self.command, self.path, body))
                if fake.throttle:
                    fake.throttle -= 1
                    self.send_json(429, {"status": "error", "message": "You have reached your secondly limit.",
                                         "errorType": "RATE_LIMIT"}, headers={"Retry-After": "2"})
                    return
                if "/token" not in self.path and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    route.unauthorized(self)
                    return
                route(fake, self, body)

        do_GET = do_POST = do_PATCH = _handle

    return Handler


def _page(items: list[Any], after: str | None, limit: int) -> tuple[list[Any], str | None]:
    start = int(after or 0)
    size = min(limit, FakeCrm.page_cap)
    rest = items[start:start + size]
    return rest, str(start + size) if start + size < len(items) else None


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class HubSpotRoutes:
    """https://developers.hubspot.com/docs/api/crm/understanding-the-crm — objects, search, batch, OAuth v1."""

    MODIFIED = {"contacts": "lastmodifieddate"}

    @staticmethod
    def unauthorized(handler: QuietHandler) -> None:
        handler.send_json(401, {"status": "error", "message": "The OAuth token used to make this call expired.",
                                "category": "EXPIRED_AUTHENTICATION", "correlationId": "c0ffee"})

    def _result(self, fake: FakeCrm, obj: str, rid: str) -> dict[str, Any]:
        moment = fake.modified[(obj, rid)]
        props = dict(fake.records[obj][rid])
        props[self.MODIFIED.get(obj, "hs_lastmodifieddate")] = moment.isoformat().replace("+00:00", "Z")
        props["hs_object_id"] = rid
        return {"id": rid, "properties": props, "createdAt": START.isoformat().replace("+00:00", "Z"),
                "updatedAt": moment.isoformat().replace("+00:00", "Z"), "archived": False}

    def __call__(self, fake: FakeCrm, handler: QuietHandler, body: Any) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/oauth/v1/token":
            assert body["grant_type"] == "refresh_token"
            fake.refreshes += 1
            fake.token = f"token-{fake.refreshes + 1}"
            handler.send_json(200, {"token_type": "bearer", "refresh_token": "refresh-1",
                                    "access_token": fake.token, "expires_in": 1800})
            return
        match = re.fullmatch(r"/crm/v3/objects/(\w+)(/search|/batch/update)?", url.path)
        if not match:
            handler.send_json(404, {"status": "error", "message": "not found"})
            return
        obj, action = match.groups()
        ids = sorted((rid for rid in fake.records.get(obj, {}) if rid not in fake.archived.get(obj, set())),
                     key=lambda rid: (fake.modified[(obj, rid)], rid))
        if handler.command == "GET":
            page, after = _page(ids, query.get("after"), int(query.get("limit", 10)))
            self._send_page(fake, handler, obj, page, after)
        elif action == "/search":
            flt = body["filterGroups"][0]["filters"][0]
            assert flt["operator"] == "GTE" and flt["propertyName"] == self.MODIFIED.get(obj, "hs_lastmodifieddate")
            since = int(flt["value"])
            ids = [rid for rid in ids if int(_ms(fake.modified[(obj, rid)])) >= since]
            page, after = _page(ids, body.get("after"), body.get("limit", 10))
            self._send_page(fake, handler, obj, page, after, total=len(ids))
        elif action == "/batch/update":
            gone = [item["id"] for item in body["inputs"] if item["id"] in fake.archived.get(obj, set())]
            if gone:
                handler.send_json(404, {"status": "error", "message": f"Could not get some {obj} objects, they may "
                                        f"be deleted or not exist. Check that ids are valid. {gone}",
                                        "category": "OBJECT_NOT_FOUND", "correlationId": "c0ffee"})
                return
            results = []
            for item in body["inputs"]:
                fake.put(obj, item["properties"], remote_id=item["id"])
                results.append(self._result(fake, obj, item["id"]))
            handler.send_json(200, {"status": "COMPLETE", "results": results,
                                    "startedAt": fake.clock.isoformat(), "completedAt": fake.clock.isoformat()})
        else:
            rid = fake.put(obj, body["properties"])
            handler.send_json(201, self._result(fake, obj, rid))

    def _send_page(self, fake, handler, obj, page, after, total=None) -> None:
        payload: dict[str, Any] = {"results": [self._result(fake, obj, rid) for rid in page]}
        if total is not None:
            payload["total"] = total
        if after:
            payload["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        handler.send_json(200, payload)


class SalesforceRoutes:
    """https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta — query, sObject rows, OAuth token."""

    REQUIRED = {"Contact": ["LastName"], "Account": ["Name"], "Opportunity": ["Name", "StageName", "CloseDate"]}
    PREFIX = {"Contact": "003", "Account": "001", "Opportunity": "006"}

    def __init__(self) -> None:
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.instance_url = ""  # set by the test once the server has a port

    @staticmethod
    def unauthorized(handler: QuietHandler) -> None:
        handler.send_json(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])

    def _record(self, fake: FakeCrm, obj: str, rid: str) -> dict[str, Any]:
        stamp = fake.modified[(obj, rid)].strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return {"attributes": {"type": obj, "url": f"/services/data/v60.0/sobjects/{obj}/{rid}"}, "Id": rid,
                **fake.records[obj][rid], "LastModifiedDate": stamp}

    def _send_page(self, handler, key: str, records: list[dict[str, Any]], start: int) -> None:
        page = records[start:start + FakeCrm.page_cap]
        done = start + FakeCrm.page_cap >= len(records)
        payload: dict[str, Any] = {"totalSize": len(records), "done": done, "records": page}
        if not done:
            payload["nextRecordsUrl"] = f"/services/data/v60.0/query/{key}-{start + FakeCrm.page_cap}"
        handler.send_json(200, payload)

    def __call__(self, fake: FakeCrm, handler: QuietHandler, body: Any) -> None:
        url = urlsplit(handler.path)
        if url.path == "/services/oauth2/token":
            assert body["grant_type"] == "refresh_token"
            fake.refreshes += 1
            fake.token = f"token-{fake.refreshes + 1}"
            handler.send_json(200, {"access_token": fake.token, "instance_url": self.instance_url,
                                    "id": "https://login.salesforce.com/id/00D/005", "token_type": "Bearer",
                                    "issued_at": "1700000000000", "signature": "sig"})
            return
        if url.path == "/services/data/v60.0/limits":
            handler.send_json(200, {"DailyApiRequests": {"Max": 15000, "Remaining": 14998}})
            return
        if url.path == "/services/data/v60.0/query":
            soql = parse_qs(url.query)["q"][0]
            obj = re.search(r"FROM (\w+)", soql).group(1)
            since = re.search(r"LastModifiedDate > (\S+)", soql)
            ids = sorted(fake.records.get(obj, {}), key=lambda rid: (fake.modified[(obj, rid)], rid))
            if since:
                moment = datetime.fromisoformat(since.group(1).replace("Z", "+00:00"))
                ids = [rid for rid in ids if fake.modified[(obj, rid)] > moment]
            key = f"01gD0000002HU6K{len(self.cursors)}"
            self.cursors[key] = [self._record(fake, obj, rid) for rid in ids]
            self._send_page(handler, key, self.cursors[key], 0)
            return
        match = re.fullmatch(r"/services/data/v60.0/query/(\w+)-(\d+)", url.path)
        if match:
            self._send_page(handler, match.group(1), self.cursors[match.group(1)], int(match.group(2)))
            return
        match = re.fullmatch(r"/services/data/v60.0/sobjects/(\w+)/(\w*)", url.path)
        if not match:
            handler.send_json(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
            return
        obj, rid = match.groups()
        if handler.command == "PATCH":
            fake.put(obj, body, remote_id=rid)
            handler.send_response(204)
            handler.end_headers()
            return
        missing = [f for f in self.REQUIRED[obj] if not body.get(f)]
        if missing:
            handler.send_json(400, [{"message": f"Required fields are missing: [{', '.join(missing)}]",
                                     "errorCode": "REQUIRED_FIELD_MISSING", "fields": missing}])
            return
        rid = f"{self.PREFIX[obj]}{fake.new_id(obj).zfill(15)}"
        fake.put(obj, body, remote_id=rid)
        handler.send_json(201, {"id": rid, "success": True, "errors": []})
