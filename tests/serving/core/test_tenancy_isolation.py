"""Tenant isolation through the API, and underneath it the row-level security of the database itself."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from serving.core.config import APP_ROLE
from serving.core.db import set_tenant
from tests.factories import unique_email

PROSPECTS = "/api/v1/prospects"
KEYS = "/api/v1/api-keys"


@pytest.fixture
def theirs(client, other_tenant) -> dict:
    """A prospect with a timeline and an API key in the other organization."""
    prospect = client.post(PROSPECTS, json={"email": unique_email("theirs"), "company": "Umbrella"},
                           headers=other_tenant.user.headers).json()
    client.put(f"{PROSPECTS}/{prospect['id']}", json={"status": "contacted"},
               headers=other_tenant.user.headers)
    key = client.post(KEYS, json={"name": "theirs", "scopes": ["prospects:read", "prospects:write"]},
                      headers=other_tenant.admin.headers).json()
    return {"prospect": prospect, "key": key}


def test_prospects_of_another_org_are_404_for_every_member(client, tenant, theirs):
    pid = theirs["prospect"]["id"]
    for member in (tenant.admin, tenant.user, tenant.viewer):
        for method, path, kwargs in (
            ("GET", f"{PROSPECTS}/{pid}", {}),
            ("GET", f"{PROSPECTS}/{pid}/activities", {}),
            ("GET", f"{PROSPECTS}/{pid}/insights", {}),
            ("PUT", f"{PROSPECTS}/{pid}", {"json": {"title": "pwned"}}),
            ("DELETE", f"{PROSPECTS}/{pid}", {}),
        ):
            response = client.request(method, path, headers=member.headers, **kwargs)
            expected = 403 if member is tenant.viewer and method in ("PUT", "DELETE") else 404
            assert response.status_code == expected, (member.role, method, path, response.text)
            assert "Umbrella" not in response.text


def test_rows_of_another_org_never_appear_in_lists_or_exports(client, tenant, other_tenant, theirs):
    mine = client.post(PROSPECTS, json={"email": unique_email("mine"), "company": "Umbrella"},
                       headers=tenant.user.headers).json()
    for params in ({}, {"q": "Umbrella"}, {"company": "umbrella"}, {"status": "contacted"},
                   {"ownerId": str(other_tenant.user.id)}):
        listed = client.get(PROSPECTS, params=params, headers=tenant.admin.headers).json()
        assert theirs["prospect"]["id"] not in {p["id"] for p in listed["data"]}, params
        exported = client.get(f"{PROSPECTS}/export", params=params, headers=tenant.admin.headers).text
        assert theirs["prospect"]["email"] not in exported, params
    listed = client.get(PROSPECTS, headers=tenant.admin.headers).json()
    assert [p["id"] for p in listed["data"]] == [mine["id"]]
    assert listed["pagination"]["total"] == 1
    exported = client.get(f"{PROSPECTS}/export", headers=tenant.admin.headers).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["email"] for r in rows] == [mine["email"]]
    # their data is untouched
    still = client.get(f"{PROSPECTS}/{theirs['prospect']['id']}", headers=other_tenant.user.headers).json()
    assert still["title"] is None and still["status"] == "contacted"


def test_import_never_touches_another_orgs_prospect_with_the_same_email(client, tenant, other_tenant, theirs):
    content = f"email,title\n{theirs['prospect']['email']},Hijacked\n".encode()
    result = client.post(f"{PROSPECTS}/import", files={"file": ("p.csv", content, "text/csv")},
                         headers=tenant.user.headers).json()
    assert (result["created"], result["updated"]) == (1, 0)
    still = client.get(f"{PROSPECTS}/{theirs['prospect']['id']}", headers=other_tenant.user.headers).json()
    assert still["title"] is None


def test_references_to_another_orgs_rows_are_refused(client, tenant, other_tenant, theirs):
    mine = client.post(PROSPECTS, json={"email": unique_email()}, headers=tenant.user.headers).json()
    for field, value in (("ownerId", other_tenant.user.id), ("teamId", other_tenant.team_id)):
        created = client.post(PROSPECTS, json={"email": unique_email(), field: str(value)},
                              headers=tenant.admin.headers)
        assert created.status_code == 422 and created.json()["error"]["details"]["field"] == field
        updated = client.put(f"{PROSPECTS}/{mine['id']}", json={field: str(value)},
                             headers=tenant.admin.headers)
        assert updated.status_code == 422 and updated.json()["error"]["details"]["field"] == field


def test_api_keys_of_another_org_are_404_and_unlisted(client, tenant, theirs):
    kid = theirs["key"]["id"]
    for method, path in (("DELETE", f"{KEYS}/{kid}"), ("PUT", f"{KEYS}/{kid}/rotate"),
                         ("GET", f"{KEYS}/{kid}/usage")):
        response = client.request(method, path, headers=tenant.admin.headers)
        assert response.status_code == 404, (method, path)
    assert kid not in {k["id"] for k in client.get(KEYS, headers=tenant.admin.headers).json()["data"]}
    # the key was neither revoked nor rotated
    assert client.get(PROSPECTS, headers={"X-API-Key": theirs["key"]["key"]}).status_code == 200


def test_an_api_key_only_reaches_its_own_org(client, tenant, theirs):
    mine = client.post(PROSPECTS, json={"email": unique_email()}, headers=tenant.user.headers).json()
    headers = {"X-API-Key": theirs["key"]["key"]}
    listed = client.get(PROSPECTS, headers=headers).json()["data"]
    assert [p["id"] for p in listed] == [theirs["prospect"]["id"]]
    assert client.get(f"{PROSPECTS}/{mine['id']}", headers=headers).status_code == 404
    assert client.delete(f"{PROSPECTS}/{mine['id']}", headers=headers).status_code == 404
    assert client.get(f"{PROSPECTS}/{mine['id']}", headers=tenant.user.headers).status_code == 200


# -- the database itself ---------------------------------------------------------------------------


@pytest.fixture
def app_engine(settings):
    """A connection as the API's role, which does not own the tables: row-level security applies."""
    engine = create_engine(settings.api_database_url)
    yield engine
    engine.dispose()


INSERT = text("insert into app.prospects (id, organization_id, email) values (:id, :org, :email)")


def _seed(tenant, n: int) -> None:
    with tenant.session() as session, session.begin():
        for _ in range(n):
            session.execute(INSERT, {"id": uuid.uuid4(), "org": tenant.organization_id,
                                     "email": unique_email("rls")})


def test_app_role_sees_nothing_without_a_tenant(app_engine, tenant, other_tenant):
    _seed(tenant, 3)
    _seed(other_tenant, 2)
    with Session(app_engine) as session:
        assert session.scalar(text("select current_user")) == APP_ROLE
        assert session.scalar(text("select count(*) from app.prospects")) == 0
        assert session.scalar(text("select count(*) from app.users")) == 0
        assert session.scalar(text("select count(*) from app.organizations")) == 0


def test_app_role_sees_only_the_bound_tenant(app_engine, tenant, other_tenant):
    _seed(tenant, 3)
    _seed(other_tenant, 2)
    with Session(app_engine) as session, session.begin():
        set_tenant(session, tenant.organization_id)
        assert session.scalar(text("select count(*) from app.prospects")) == 3
        orgs = session.scalars(text("select distinct organization_id from app.prospects")).all()
        assert orgs == [tenant.organization_id]
        assert session.scalar(text("select count(*) from app.users")) == 3
        assert session.scalars(text("select id from app.organizations")).all() == [tenant.organization_id]
    with Session(app_engine) as session, session.begin():
        set_tenant(session, other_tenant.organization_id)
        assert session.scalar(text("select count(*) from app.prospects")) == 2
    # the binding lasts one transaction only
    with Session(app_engine) as session:
        assert session.scalar(text("select count(*) from app.prospects")) == 0


def test_app_role_cannot_write_into_another_tenant(app_engine, tenant, other_tenant):
    _seed(other_tenant, 1)
    with Session(app_engine) as session, session.begin():
        set_tenant(session, tenant.organization_id)
        foreign = {"id": uuid.uuid4(), "org": other_tenant.organization_id, "email": unique_email()}
        with pytest.raises(DBAPIError, match="row-level security"), session.begin_nested():
            session.execute(INSERT, foreign)
        mine = {"id": uuid.uuid4(), "org": tenant.organization_id, "email": unique_email()}
        session.execute(INSERT, mine)
        with pytest.raises(DBAPIError, match="row-level security"), session.begin_nested():
            session.execute(text("update app.prospects set organization_id = :other where id = :id"),
                            {"other": other_tenant.organization_id, "id": mine["id"]})
        # updates and deletes of the other tenant's rows silently match nothing
        assert session.execute(text("update app.prospects set title = 'x' where organization_id = :o"),
                               {"o": other_tenant.organization_id}).rowcount == 0
        assert session.execute(text("delete from app.prospects where organization_id = :o"),
                               {"o": other_tenant.organization_id}).rowcount == 0
    with tenant.session() as owner, owner.begin():
        assert owner.scalar(text("select count(*) from app.prospects where organization_id = :o"),
                            {"o": other_tenant.organization_id}) == 1


def test_app_role_is_not_privileged(app_engine):
    with Session(app_engine) as session:
        role = session.execute(
            text("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")).one()
        assert tuple(role) == (False, False)
        owned = session.scalar(text(
            "select count(*) from pg_tables where schemaname = 'app' and tableowner = current_user"))
        assert owned == 0


def test_every_tenant_table_has_row_level_security(owner_session):
    tables = owner_session.execute(text("""
        select c.relname, c.relrowsecurity,
               exists (select 1 from pg_policies p where p.schemaname = 'app' and p.tablename = c.relname
                       and p.qual like '%current_org_id()%' and p.with_check like '%current_org_id()%')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and c.relkind in ('r', 'p')
          and exists (select 1 from information_schema.columns col where col.table_schema = 'app'
                      and col.table_name = c.relname and col.column_name = 'organization_id')
        order by c.relname
    """)).all()
    assert len(tables) >= 15
    assert {"prospects", "api_keys", "users", "activities", "audit_log"} <= {t[0] for t in tables}
    missing = [name for name, enabled, has_policy in tables if not (enabled and has_policy)]
    assert missing == [], f"tables without a tenant policy: {missing}"
    organizations = owner_session.scalar(text(
        "select relrowsecurity from pg_class where oid = 'app.organizations'::regclass"))
    assert organizations is True


def test_every_app_table_is_tenant_scoped_or_explicitly_global(owner_session):
    """A new table without organization_id must be a conscious decision, listed here."""
    unscoped = set(owner_session.scalars(text("""
        select t.table_name from information_schema.tables t
        where t.table_schema = 'app' and t.table_type = 'BASE TABLE'
          and not exists (select 1 from information_schema.columns c where c.table_schema = 'app'
                          and c.table_name = t.table_name and c.column_name = 'organization_id')
    """)).all())
    # search_indexing_jobs: one row per full reindex of a collection shared by every organization (no tenant data)
    # integration_marketplace: the product's catalogue of integrations, the same for everyone (no tenant data)
    assert unscoped <= {"organizations", "search_indexing_jobs", "integration_marketplace"}, unscoped
