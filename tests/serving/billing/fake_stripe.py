"""A local Stripe: a threaded HTTP server speaking the REST API's wire format (form-encoded requests with
bracketed keys, JSON objects shaped like Stripe's own stripe-mock fixtures, error bodies `{"error": {type, code,
message, param}}`), so the official `stripe` SDK runs unchanged against it (`STRIPE_API_BASE`)."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from tests.local_http import QuietHandler, serving

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stripe"
RESOURCES = json.loads((FIXTURES / "stripe_openapi_fixtures3_resources.json").read_text())
DECLINED = "pm_card_chargeDeclined"  # Stripe's test payment method that is always declined


def parse_form(body: str) -> dict:
    """`items[0][price]=p&metadata[plan]=pro` → {"items": [{"price": "p"}], "metadata": {"plan": "pro"}}."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            default = value if last else ([] if nxt.isdigit() else {})
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append([] if (nxt and nxt.isdigit()) else {} if not last else None)
                if last:
                    node[index] = value
                node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, default)
    return result


@dataclass
class Call:
    method: str
    path: str
    params: dict
    idempotency_key: str | None


@dataclass
class FakeStripe:
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    customers: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    meter_events: list[dict] = field(default_factory=list)
    # the status a new subscription gets (Stripe: `incomplete` until the first invoice is paid)
    new_status: str = "active"
    down: bool = False
    _n: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_id(self, prefix: str) -> str:
        # unique across fakes (several run against one test database, as Stripe's ids are unique everywhere)
        self._n += 1
        return f"{prefix}_{self.port}x{self._n:06d}"

    def called(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    # -- resources ---------------------------------------------------------------------------------------------
    def _subscription(self, customer: str, price: str, params: dict) -> dict:
        sub = copy.deepcopy(RESOURCES["subscription"])
        now = int(time.time())
        item = copy.deepcopy(sub["items"]["data"][0])
        item.update(id=self.next_id("si"), current_period_start=now, current_period_end=now + 30 * 86400)
        item["price"] = {**item["price"], "id": price}
        sub.update(id=self.next_id("sub"), customer=customer, status=self.new_status, cancel_at_period_end=False,
                   canceled_at=None, ended_at=None, cancel_at=None, metadata=params.get("metadata", {}),
                   created=now, default_payment_method=self.customers[customer].get("default_pm"))
        sub["items"] = {**sub["items"], "data": [item]}
        return sub

    def handle(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if self.down:
            return 500, {"error": {"type": "api_error", "message": "fake Stripe is down"}}
        if method == "POST" and path == "/v1/customers":
            customer = {**copy.deepcopy(RESOURCES["customer"]), "id": self.next_id("cus"),
                        "email": params.get("email"), "name": params.get("name"),
                        "metadata": params.get("metadata", {})}
            self.customers[customer["id"]] = customer
            return 200, customer
        if m := re.fullmatch(r"/v1/customers/(cus_\w+)", path):
            if m[1] not in self.customers:
                return 404, _missing("customer", m[1])
            if method == "POST":
                pm = (params.get("invoice_settings") or {}).get("default_payment_method")
                if pm:
                    self.customers[m[1]]["default_pm"] = pm
            return 200, self.customers[m[1]]
        if method == "POST" and path == "/v1/subscriptions":
            customer = params["customer"]
            if customer not in self.customers:
                return 400, _missing("customer", customer)
            sub = self._subscription(customer, params["items"][0]["price"], params)
            self.subscriptions[sub["id"]] = sub
            return 200, sub
        if m := re.fullmatch(r"/v1/subscriptions/(sub_\w+)", path):
            sub = self.subscriptions.get(m[1])
            if sub is None:
                return 404, _missing("subscription", m[1])
            if method == "POST":
                for change in params.get("items", []):
                    item = next(i for i in sub["items"]["data"] if i["id"] == change["id"])
                    item["price"] = {**item["price"], "id": change["price"]}
                if "cancel_at_period_end" in params:
                    sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
                if "default_payment_method" in params:
                    sub["default_payment_method"] = params["default_payment_method"]
                sub["metadata"] = {**sub.get("metadata", {}), **params.get("metadata", {})}
            elif method == "DELETE":
                sub.update(status="canceled", canceled_at=int(time.time()), ended_at=int(time.time()))
            return 200, sub
        if m := re.fullmatch(r"/v1/payment_methods/(pm_\w+)/attach", path):
            if m[1] == DECLINED:
                return 402, {"error": {"type": "card_error", "code": "card_declined", "decline_code":
                                       "generic_decline", "message": "Your card was declined.", "param": ""}}
            return 200, {"id": m[1], "object": "payment_method", "type": "card", "customer": params["customer"],
                         "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}}
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return 200, {"id": self.next_id("bps"), "object": "billing_portal.session",
                         "customer": params["customer"], "return_url": params.get("return_url"),
                         "url": f"https://billing.stripe.com/p/session/test_{params['customer']}"}
        if method == "POST" and path == "/v1/billing/meter_events":
            self.meter_events.append(params)
            return 200, {"object": "billing.meter_event", "event_name": params["event_name"],
                         "identifier": params.get("identifier"), "payload": params["payload"],
                         "timestamp": int(params.get("timestamp", time.time())), "livemode": False,
                         "created": int(time.time())}
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: "
                                                                           f"{path})."}}


def _missing(kind: str, ident: str) -> dict:
    return {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "id",
                      "message": f"No such {kind}: '{ident}'"}}


@contextmanager
def running() -> Iterator[FakeStripe]:
    state = FakeStripe()

    class Handler(QuietHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = parse_form(body or query)
            if not (self.headers.get("Authorization") or "").startswith("Bearer sk_test_"):
                status, payload = 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
            else:
                state.calls.append(Call(method, path, params, self.headers.get("Idempotency-Key")))
                status, payload = state.handle(method, path, params)
            self.send_json(status, payload, {"Request-Id": "req_fake"})

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_DELETE(self):
            self._serve("DELETE")

    with serving(Handler) as server:
        state.port = server.server_port
        yield state
