"""The enrichment vendors faked at the HTTP boundary: a local server answering each vendor's documented path with
its documented JSON (Clearbit Combined, Apollo people/match, PDL person/enrich, ZoomInfo enrich/contact, Hunter
email-verifier), logging every call."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from serving.core.config import Settings
from serving.enrichment import clients
from serving.enrichment.clients import Lookup
from tests.local_http import QuietHandler, serving

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LOOKUP = Lookup(email="ada@acme.io", first_name="Ada", last_name="Lovelace", company_domain="acme.io")

CLEARBIT = {"person": {"email": "ada@acme.io", "employment": {"title": "VP Engineering", "seniority": "executive",
                                                              "domain": "acme.io", "name": "Acme"},
                       "location": "London, UK"},
            "company": {"name": "Acme", "domain": "acme.io", "category": {"industry": "Software"},
                        "metrics": {"employees": 120}}}
APOLLO = {"person": {"email": "ada@acme.io", "title": "Head of Engineering", "seniority": "vp",
                     "phone_numbers": [{"sanitized_number": "+14155550123"}],
                     "organization": {"name": "Acme Inc", "primary_domain": "acme.io",
                                      "industry": "Computer Software"}}}
PDL = {"status": 200, "likelihood": 9, "data": {"work_email": "ada@acme.io", "mobile_phone": "+44 20 7946 0958",
                                                 "job_title": "Engineering Director", "job_company_name": "Acme Ltd"}}
ZOOMINFO = {"success": True, "data": {"outputFields": [], "result": [{
    "input": {"emailAddress": "ada@acme.io"}, "matchStatus": "FULL_MATCH",
    "data": [{"email": "ada@acme.io", "jobTitle": "CTO", "mobilePhone": "(415) 555-0199", "companyName": "ACME",
              "companyWebsite": "https://www.acme.io", "contactAccuracyScore": 95,
              "externalUrls": [{"type": "linkedin.com", "url": "https://www.linkedin.com/in/ada"}]}]}]}}
HUNTER_VERIFY = {"data": {"email": "ada@acme.io", "status": "valid", "result": "deliverable", "score": 96}}


class Vendor(QuietHandler):
    """Answers per vendor path; `answers[path] = (status, body)`; every request is logged in `calls`."""

    answers: dict[str, tuple[int, object]] = {}
    calls: list[tuple[str, str, dict, dict]] = []

    def _answer(self, body: dict) -> None:
        url = urlparse(self.path)
        self.calls.append((self.command, url.path, {k: v[0] for k, v in parse_qs(url.query).items()},
                           {"body": body, "auth": self.headers.get("Authorization"),
                            "x-api-key": self.headers.get("X-Api-Key")}))
        status, payload = self.answers.get(url.path, (404, {"error": {"type": "not_found"}}))
        self.send_json(status, payload, {"Retry-After": "30"} if status == 429 else None)

    def do_GET(self) -> None:
        self._answer({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(json.loads(self.rfile.read(length) or b"{}"))


PATHS = {"clearbit": "/v2/combined/find", "apollo": "/api/v1/people/match", "pdl": "/v5/person/enrich",
         "zoominfo": "/enrich/contact", "hunter": "/v2/email-verifier"}


@pytest.fixture()
def vendor() -> Iterator[tuple[type[Vendor], dict[str, str]]]:
    class Handler(Vendor):
        answers = {}
        calls = []

    with serving(Handler) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        settings = Settings(CLEARBIT_BASE_URL=base, ZOOMINFO_BASE_URL=base, APOLLO_BASE_URL=base,
                            HUNTER_BASE_URL=base, PDL_BASE_URL=base)
        yield Handler, clients.base_urls(settings)
