"""Two-way HubSpot and Salesforce sync against local servers speaking the vendors' JSON: pull creates and updates
prospects, accounts and deals through their services; push sends local edits; the conflict rule both ways; no
ping-pong; a bad record is reported while the rest sync; one organization's sync never touches another's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from serving.core.clock import utcnow
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.deals import service as deals
from serving.deals.schemas import DealCreate
from serving.integrations.crm_sync import mapping
from serving.integrations.crm_sync.clients import CrmError, CrmHttp, HubSpotClient, SalesforceClient
from serving.integrations.crm_sync.engine import push_deal, sync
from serving.prospects import service as prospects
from serving.prospects.schemas import ProspectCreate, ProspectUpdate
from tests.local_http import serving
from tests.serving.integrations.crm_fakes import FakeCrm, HubSpotRoutes, SalesforceRoutes, handler_for

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # a remote edit later than any local one
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a remote edit earlier than any local one


class Remote:
    def __init__(self, fake: FakeCrm, client: HubSpotClient | SalesforceClient, sleeps: list[float]) -> None:
        self.fake, self.client, self.sleeps = fake, client, sleeps
        self.integration_id = uuid.uuid4()


@contextmanager
def hubspot() -> Iterator[Remote]:
    fake = FakeCrm()
    with serving(handler_for(fake, HubSpotRoutes())) as server, httpx.Client(timeout=5) as http:
        base = f"http://127.0.0.1:{server.server_port}"

        def refresh() -> tuple[str, None]:
            answer = http.post(f"{base}/oauth/v1/token", data={
                "grant_type": "refresh_token", "refresh_token": "refresh-1", "client_id": "c", "client_secret": "s"})
            return answer.json()["access_token"], None

        sleeps: list[float] = []
        crm = CrmHttp(http, base_url=base, access_token=fake.token, refresh=refresh, sleep=sleeps.append)
        yield Remote(fake, HubSpotClient(crm), sleeps)


@contextmanager
def salesforce() -> Iterator[Remote]:
    fake = FakeCrm()
    routes = SalesforceRoutes()
    with serving(handler_for(fake, routes)) as server, httpx.Client(timeout=5) as http:
        base = f"http://127.0.0.1:{server.server_port}"
        routes.instance_url = base

        def refresh() -> tuple[str, str]:
            answer = http.post(f"{base}/services/oauth2/token", data={
                "grant_type": "refresh_token", "refresh_token": "r", "client_id": "c", "client_secret": "s"}).json()
            return answer["access_token"], answer["instance_url"]

        sleeps: list[float] = []
        crm = CrmHttp(http, base_url=base, access_token=fake.token, refresh=refresh, sleep=sleeps.append)
        yield Remote(fake, SalesforceClient(crm), sleeps)


def principal(tenant) -> Principal:
    return Principal(organization_id=tenant.organization_id, user_id=tenant.admin.id, role="admin",
                     team_id=tenant.team_id)


def run(tenant, remote: Remote, *, cursor=None, config=None):
    provider = remote.client.provider
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        return sync(db_session=session, principal=principal(tenant), integration_id=remote.integration_id,
                    remote=remote.client, mapping=mapping.resolve(provider, config), cursor=cursor, now=utcnow())


@contextmanager
def local(tenant):
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        yield session


def prospect(tenant, email: str):
    with local(tenant) as session:
        found = prospects.get_by_email(db_session=session, email=email)
        session.expunge_all()
        return found


def seed_hubspot(fake: FakeCrm) -> None:
    acme = fake.put("companies", {"name": "Acme", "domain": "acme.com", "industry": "SOFTWARE",
                                  "numberofemployees": "120"})
    for n in range(3):  # three contacts: two pages at the fake's page size
        fake.put("contacts", {"email": f"Ada{n}@Acme.com", "firstname": "Ada", "lastname": f"L{n}",
                              "jobtitle": "CTO", "phone": "", "company": "Acme", "associatedcompanyid": acme})
    fake.put("deals", {"dealname": "Acme expansion", "amount": "5000", "closedate": "2027-03-31T00:00:00Z",
                       "dealstage": "contractsent"})


def test_hubspot_pull_creates_then_updates_local_records(tenant):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        first = run(tenant, remote)
        assert (first.pulled_created, first.failed) == (5, 0), first.failures
        ada = prospect(tenant, "ada2@acme.com")
        assert (ada.first_name, ada.title, ada.company) == ("Ada", "CTO", "Acme")
        with local(tenant) as session:
            account = session.scalar(accounts_by_domain("acme.com"))
            assert (account.name, account.industry, account.employee_count) == ("Acme", "SOFTWARE", 120)
            assert ada.account_id == account.id  # the contact's associatedcompanyid, through the account link
            deal = deals.changed_since(db_session=session, since=None, limit=10)[0]
            assert (deal.name, deal.amount, deal.close_date, deal.stage) == (
                "Acme expansion", Decimal("5000.00"), date(2027, 3, 31), "negotiation")
        # the incremental read (search with lastmodifieddate GTE the cursor) brings the one remote edit
        contact_id = next(rid for rid, v in remote.fake.records["contacts"].items() if v["lastname"] == "L2")
        remote.fake.put("contacts", {"jobtitle": "CEO"}, remote_id=contact_id)
        remote.fake.expire_token()
        remote.fake.throttle = 1
        second = run(tenant, remote, cursor=first.cursor)
        assert (second.pulled_created, second.pulled_updated) == (0, 1)
        assert remote.fake.refreshes == 1 and remote.sleeps == [2.0]  # 429 waited out, expired token renewed
        assert prospect(tenant, "ada2@acme.com").title == "CEO"
        assert any("/contacts/search" in path for _, path, _ in remote.fake.requests)


def accounts_by_domain(domain: str):
    from sqlalchemy import select

    from serving.accounts.models import Account

    return select(Account).where(Account.domain == domain)


def test_push_sends_local_edits_once_and_no_ping_pong(tenant):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        cursor = run(tenant, remote).cursor
        with local(tenant) as session:
            ada = prospects.get_by_email(db_session=session, email="ada0@acme.com")
            prospects.update(db_session=session, prospect=ada, data=ProspectUpdate(title="VP Engineering"))
            prospects.create(db_session=session, principal=principal(tenant),
                             data=ProspectCreate(email="new@acme.com", first_name="Grace", last_name="H"))
        writes_before = len(remote.fake.writes())
        pushed = run(tenant, remote, cursor=cursor)
        assert (pushed.pushed_updated, pushed.pushed_created, pushed.pulled_updated) == (1, 1, 0)
        sent = remote.fake.writes()[writes_before:]
        update = next(body for method, path, body in sent if path.endswith("/contacts/batch/update"))
        assert update["inputs"][0]["properties"]["jobtitle"] == "VP Engineering"
        created = next(body for method, path, body in sent if path == "/crm/v3/objects/contacts")
        assert created["properties"]["email"] == "new@acme.com"
        # The remote now reports those records as modified; reading them back changes nothing and sends nothing.
        writes_after = len(remote.fake.writes())
        echo = run(tenant, remote, cursor=pushed.cursor)
        assert (echo.pulled_created, echo.pulled_updated, echo.pushed_created, echo.pushed_updated) == (0, 0, 0, 0)
        assert len(remote.fake.writes()) == writes_after


def test_hubspot_updates_go_in_one_batch_and_a_refused_batch_is_retried_one_by_one(tenant):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        cursor = run(tenant, remote).cursor
        ids = {v["lastname"]: rid for rid, v in remote.fake.records["contacts"].items()}

        def edit(title: str) -> None:
            with local(tenant) as session:
                for n in range(3):
                    ada = prospects.get_by_email(db_session=session, email=f"ada{n}@acme.com")
                    prospects.update(db_session=session, prospect=ada, data=ProspectUpdate(title=f"{title} {n}"))

        edit("Batch")
        before = len(remote.fake.requests)
        pushed = run(tenant, remote, cursor=cursor)
        assert pushed.pushed_updated == 3
        batches = [b for _, p, b in remote.fake.requests[before:] if p.endswith("/contacts/batch/update")]
        assert len(batches) == 1 and len(batches[0]["inputs"]) == 3

        remote.fake.archived["contacts"] = {ids["L1"]}  # deleted in HubSpot since
        edit("Again")
        outcome = run(tenant, remote, cursor=pushed.cursor)
        assert outcome.pushed_updated == 2 and outcome.failed == 1
        assert outcome.failures[0]["remoteId"] == ids["L1"] and \
            "deleted" in outcome.failures[0]["error"]
        assert remote.fake.records["contacts"][ids["L2"]]["jobtitle"] == "Again 2"


@pytest.mark.parametrize(("rule", "remote_at", "winner"), [
    ("remote_wins", LONG_AGO, "remote"),
    ("local_wins", FAR_FUTURE, "local"),
    ("latest_wins", FAR_FUTURE, "remote"),
    ("latest_wins", LONG_AGO, "local"),
])
def test_conflict_rule(tenant, rule, remote_at, winner):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        run(tenant, remote)
        contact_id = next(rid for rid, v in remote.fake.records["contacts"].items() if v["lastname"] == "L1")
        remote.fake.put("contacts", {"jobtitle": "Remote title"}, remote_id=contact_id, modified=remote_at)
        with local(tenant) as session:
            ada = prospects.get_by_email(db_session=session, email="ada1@acme.com")
            prospects.update(db_session=session, prospect=ada, data=ProspectUpdate(title="Local title"))
        # the remote edit is older than the cursor in two cases: a full read makes sure it is seen
        outcome = run(tenant, remote, cursor=None, config={"conflictRule": rule})
        assert outcome.conflicts == 1
        expected = "Remote title" if winner == "remote" else "Local title"
        assert prospect(tenant, "ada1@acme.com").title == expected
        assert remote.fake.records["contacts"][contact_id]["jobtitle"] == expected


def test_a_failed_listing_is_reported_and_keeps_its_cursor_while_other_objects_sync(tenant):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        first = run(tenant, remote)
        remote.client.http.refresh = None
        real_changed = remote.client.changed

        def deals_unreadable(obj, fields, since):
            if obj == "deals":
                remote.fake.expire_token()  # the vendor answers 401 for this listing only
            return real_changed(obj, fields, since)

        remote.client.changed = deals_unreadable
        with local(tenant) as session:
            ada = prospects.get_by_email(db_session=session, email="ada0@acme.com")
            prospects.update(db_session=session, prospect=ada, data=ProspectUpdate(title="Pushed anyway"))
        second = run(tenant, remote, cursor=first.cursor)
        assert second.failed == 1 and second.failures[0]["object"] == "deals" and "401" in second.failures[0]["error"]
        assert second.pushed_updated == 1  # contacts went on
        assert second.cursor["remote:deals"] == first.cursor["remote:deals"]


def test_a_remote_value_the_domain_normalises_is_not_reapplied_on_every_run(tenant):
    with hubspot() as remote:
        remote.fake.put("contacts", {"email": "Lin@Example.com", "lastname": "Lin", "phone": "(415) 555-0100"})
        assert run(tenant, remote).pulled_created == 1
        assert prospect(tenant, "lin@example.com").phone == "+14155550100"
        again = run(tenant, remote)  # a full read: the same record, unchanged
        assert (again.pulled_updated, again.pushed_updated, again.conflicts) == (0, 0, 0)


def test_a_bad_remote_record_is_reported_and_the_rest_sync(tenant):
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        bad = remote.fake.put("contacts", {"email": "not-an-email", "firstname": "Bad"})
        remote.fake.put("deals", {"dealname": "Odd stage", "amount": "1", "dealstage": "customstage7"})
        outcome = run(tenant, remote)
        assert outcome.pulled_created == 5
        assert outcome.failed == 2
        failure = next(f for f in outcome.failures if f["remoteId"] == bad)
        assert failure["direction"] == "pull" and failure["object"] == "contacts" and "email" in failure["error"]
        assert any("customstage7" in f["error"] for f in outcome.failures)
        assert prospect(tenant, "ada0@acme.com") is not None


def test_salesforce_pages_refreshes_an_expired_token_waits_out_429_and_pushes(tenant):
    with salesforce() as remote:
        fake = remote.fake
        acct = fake.put("Account", {"Name": "Globex", "Website": "https://www.globex.com", "Industry": "Energy",
                                    "NumberOfEmployees": 900})
        for n in range(3):
            fake.put("Contact", {"Email": f"hank{n}@globex.com", "FirstName": "Hank", "LastName": f"S{n}",
                                 "Title": "Ops", "Phone": None, "AccountId": acct})
        fake.put("Opportunity", {"Name": "Globex renewal", "Amount": 12000.5, "CloseDate": "2027-01-15",
                                 "StageName": "Proposal/Price Quote", "AccountId": acct})
        fake.expire_token()
        fake.throttle = 1
        first = run(tenant, remote)
        assert (first.pulled_created, first.failed) == (5, 0), first.failures
        assert fake.refreshes == 1 and remote.sleeps == [2.0]
        assert any("/query/01gD" in path for _, path, _ in fake.requests)  # nextRecordsUrl followed
        hank = prospect(tenant, "hank2@globex.com")
        assert hank.title == "Ops" and hank.account_id is not None  # AccountId through the account link
        soql = [path for _, path, _ in fake.requests if path.startswith("/services/data/v60.0/query?")]
        assert all("LastModifiedDate" in q for q in soql)

        with local(tenant) as session:
            deals.create(db_session=session, principal=principal(tenant),
                         data=DealCreate(name="Ready", amount=Decimal("100"), close_date=date(2027, 5, 1),
                                         account_id=hank.account_id))
            deals.create(db_session=session, principal=principal(tenant), data=DealCreate(name="No close date"))
        second = run(tenant, remote, cursor=first.cursor)
        assert second.pushed_created == 1 and second.failed == 1
        failure = second.failures[0]
        assert failure["direction"] == "push" and "REQUIRED_FIELD_MISSING" in failure["error"]
        created = next(body for method, path, body in fake.writes()
                       if path.endswith("/sobjects/Opportunity/") and body["Name"] == "Ready")
        assert (created["StageName"], created["CloseDate"], created["Amount"]) == ("Prospecting", "2027-05-01", 100.0)
        assert created["AccountId"] == acct
        since = [path for _, path, _ in fake.requests if "query?" in path][-1]
        assert "LastModifiedDate+%3E+" in since or "LastModifiedDate%20%3E%20" in since


def test_push_deal_creates_then_updates_the_remote_opportunity(tenant):
    with salesforce() as remote:
        with local(tenant) as session:
            deal = deals.create(db_session=session, principal=principal(tenant),
                                data=DealCreate(name="Flow deal", amount=Decimal("10"), close_date=date(2027, 1, 1),
                                                stage="qualification"))
            deal_id = deal.id

        def push():
            with local(tenant) as session:
                return push_deal(db_session=session, principal=principal(tenant),
                                 integration_id=remote.integration_id, remote=remote.client,
                                 mapping=mapping.resolve("salesforce", None), deal_id=deal_id)

        remote_id = push()
        assert remote.fake.records["Opportunity"][remote_id]["StageName"] == "Qualification"
        with local(tenant) as session:
            from serving.deals.schemas import DealUpdate

            deals.update(db_session=session, principal=principal(tenant), deal=deals.get(db_session=session,
                         deal_id=deal_id), data=DealUpdate(name="Flow deal (renamed)"))
        assert push() == remote_id
        assert remote.fake.records["Opportunity"][remote_id]["Name"] == "Flow deal (renamed)"


def test_one_organizations_sync_never_touches_anothers_records(tenant, other_tenant):
    with local(other_tenant) as session:
        prospects.create(db_session=session, principal=principal(other_tenant),
                         data=ProspectCreate(email="ada0@acme.com", first_name="Theirs", title="Kept"))
        prospects.create(db_session=session, principal=principal(other_tenant),
                         data=ProspectCreate(email="private@other.example", first_name="Private"))
    with hubspot() as remote:
        seed_hubspot(remote.fake)
        outcome = run(tenant, remote)
        assert outcome.pulled_created == 5  # its own prospect with the same e-mail, not a match to the other's
        sent = " ".join(str(body) for _, _, body in remote.fake.writes())
        assert "private@other.example" not in sent and "Theirs" not in sent
    theirs = prospect(other_tenant, "ada0@acme.com")
    assert (theirs.first_name, theirs.title) == ("Theirs", "Kept")
    assert prospect(tenant, "ada0@acme.com").organization_id == tenant.organization_id


def test_check_answers_for_a_working_token_and_refuses_a_revoked_one():
    for make in (hubspot, salesforce):
        with make() as remote:
            remote.client.check()
            remote.client.http.refresh = None  # revoked: the expired token cannot be renewed
            remote.fake.expire_token()
            with pytest.raises(CrmError) as refused:
                remote.client.check()
            assert refused.value.status == 401


@pytest.mark.parametrize(("config", "complaint"), [
    ({"objects": {"contacts": {"bogus": "x", "email": "email"}}}, "not a mappable prospect field"),
    ({"objects": {"contacts": {"email": "Email FROM User --"}}}, "not an API field name"),
    ({"objects": {"contacts": {"title": "jobtitle"}}}, "must include 'email'"),
    ({"objects": {"tickets": {"email": "email"}}}, "unknown hubspot objects"),
    ({"stageMap": {"won": "champagne"}}, "stageMap"),
    ({"conflictRule": "coin_toss"}, "conflictRule"),
])
def test_a_bad_mapping_config_is_refused_with_the_reason(config, complaint):
    with pytest.raises(ValueError, match=complaint):
        mapping.resolve("hubspot", config)


def test_a_mapping_override_replaces_the_objects_fields_and_extends_the_stage_map():
    resolved = mapping.resolve("hubspot", {"objects": {"contacts": {"email": "email", "title": "hs_role"}},
                                           "stageMap": {"pilot": "proposal"}, "conflictRule": "local_wins"})
    contacts = next(o for o in resolved.objects if o.remote_object == "contacts")
    assert contacts.fields == {"email": "email", "title": "hs_role"}
    assert resolved.local_stage("pilot") == "proposal" and resolved.local_stage("closedwon") == "closed_won"
    assert resolved.conflict_rule == "local_wins"
