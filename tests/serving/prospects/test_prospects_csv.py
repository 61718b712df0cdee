"""CSV import (row-level errors, whole-file rejection, upsert on e-mail) and export (filters, escaping)."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.main import create_app
from serving.prospects.csv_io import EXPORT_COLUMNS
from serving.prospects.models import Prospect
from tests.conftest import make_settings

URL = "/api/v1/prospects"


def upload(client, member, content: str | bytes, name: str = "prospects.csv", params=None):
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"{URL}/import", files={"file": (name, data, "text/csv")}, headers=member.headers,
                       params=params)


def count_prospects(owner_session, tenant) -> int:
    return owner_session.scalar(
        select(func.count()).select_from(Prospect).where(Prospect.organization_id == tenant.organization_id)
    )


def export(client, member, **params) -> list[dict[str, str]]:
    response = client.get(f"{URL}/export", params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


def test_mixed_file_lands_valid_rows_and_reports_each_invalid_one(client, tenant, owner_session):
    good = [email("a"), email("b"), email("c")]
    content = (
        "Email,First Name,Last Name,Phone,LinkedIn URL,Status,custom.region\n"   # line 1
        f"{good[0]},Ada,Lovelace,415-555-2671,https://linkedin.com/in/ada,new,EMEA\n"  # 2 ok
        "not-an-email,Bad,Email,,,,\n"                                            # 3 email
        f"{good[1]},Grace,Hopper,,,contacted,\n"                                  # 4 ok
        "\n"                                                                      # 5 blank: skipped
        f"{email('x')},Bad,Phone,12345,,,\n"                                      # 6 phone
        f"{email('y')},Bad,Status,,,sleeping,\n"                                  # 7 status
        f"{email('z')},Bad,Url,,not a url,,\n"                                    # 8 linkedin
        f"{email('w')},Too,Few\n"                                                 # 9 column count
        ",No,Email,,,,\n"                                                         # 10 missing email
        f"{good[2]},Alan,Turing,+44 20 7946 0958,,,APAC\n"                        # 11 ok
    )
    response = upload(client, tenant.user, content)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["totalRows"] == 9
    assert (result["created"], result["updated"], result["unchanged"], result["failed"]) == (3, 0, 0, 6)
    errors = {(e["row"], e["field"]) for e in result["errors"]}
    assert errors == {(3, "email"), (6, "phone"), (7, "status"), (8, "linkedin_url"), (9, None),
                      (10, "email")}
    by_row = {e["row"]: e for e in result["errors"]}
    assert by_row[3]["value"] == "not-an-email"
    assert by_row[6]["value"] == "12345"
    assert by_row[8]["value"] == "not a url"
    assert "expected 7 columns, found 3" in by_row[9]["reason"]
    assert all(e["reason"] for e in result["errors"])

    assert count_prospects(owner_session, tenant) == 3
    rows = {r["email"]: r for r in export(client, tenant.user)}
    assert set(rows) == set(good)
    assert rows[good[0]]["phone"] == "+14155552671"
    assert rows[good[2]]["phone"] == "+442079460958"
    assert rows[good[1]]["status"] == "contacted"
    ada = owner_session.scalar(select(Prospect).where(Prospect.email == good[0]))
    assert ada.custom_fields == {"region": "EMEA"}
    assert ada.owner_id == tenant.user.id and ada.team_id == tenant.team_id


def test_duplicate_emails_inside_one_file_are_reported(client, tenant, owner_session):
    first = email("dup")
    content = f"email,first_name\n{first},One\n{first.upper()},Two\n{email('ok')},Three\n"
    result = upload(client, tenant.user, content).json()
    assert (result["created"], result["failed"]) == (2, 1)
    assert result["errors"] == [{"row": 3, "field": "email", "value": first,
                                 "reason": "duplicate of row 2 in this file"}]
    kept = owner_session.scalar(select(Prospect).where(Prospect.email == first))
    assert kept.first_name == "One"


def test_reimport_of_the_same_file_changes_nothing(client, tenant, owner_session):
    content = "email,first_name,company,custom.tier\n" + "".join(
        f"{email('re')},Name{i},Co {i},gold\n" for i in range(5)
    )
    first = upload(client, tenant.user, content).json()
    assert (first["created"], first["updated"], first["unchanged"]) == (5, 0, 0)
    stamps = dict(owner_session.execute(
        select(Prospect.email, Prospect.updated_at).where(Prospect.organization_id == tenant.organization_id)
    ).all())
    second = upload(client, tenant.user, content).json()
    assert (second["created"], second["updated"], second["unchanged"], second["failed"]) == (0, 0, 5, 0)
    owner_session.expire_all()
    assert dict(owner_session.execute(
        select(Prospect.email, Prospect.updated_at).where(Prospect.organization_id == tenant.organization_id)
    ).all()) == stamps
    assert count_prospects(owner_session, tenant) == 5


def test_import_updates_existing_prospects_by_email_and_keeps_other_fields(client, tenant, owner_session):
    existing = client.post(URL, json={"email": email("upd"), "firstName": "Old", "title": "Engineer",
                                      "phone": "+14155552671", "customFields": {"a": "1"}},
                           headers=tenant.admin.headers).json()
    content = f"email,first_name,custom.b\n{existing['email'].upper()},New,2\n{email('new')},Fresh,\n"
    result = upload(client, tenant.user, content).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 0)
    after = client.get(f"{URL}/{existing['id']}", headers=tenant.user.headers).json()
    assert after["firstName"] == "New"
    assert after["title"] == "Engineer" and after["phone"] == "+14155552671"
    assert after["customFields"] == {"a": "1", "b": "2"}
    assert after["ownerId"] == str(tenant.admin.id)  # the importer does not take over ownership


@pytest.mark.parametrize("header, reason", [
    ("first_name,last_name", "no email column"),
    ("email,first_name,shoe_size", "unknown columns"),
    ("email,Email Address", "both map to email"),
    ("email,first_name,First Name", "both map to first_name"),
    ("email,custom.x,custom:x", "both map to custom:x"),
    (",,", "no header row"),
])
def test_bad_header_rejects_the_whole_file(client, tenant, owner_session, header, reason):
    width = header.count(",") + 1
    row = ",".join([email("h")] + ["v"] * (width - 1))
    response = upload(client, tenant.user, f"{header}\n{row}\n")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_CSV_HEADER"
    assert reason in error["message"]
    assert count_prospects(owner_session, tenant) == 0


def test_unknown_column_error_lists_what_is_accepted(client, tenant):
    error = upload(client, tenant.user, "email,Shoe Size\nx@example.com,9\n").json()["error"]
    assert error["details"]["unknownColumns"] == ["Shoe Size"]
    assert "first_name" in error["details"]["accepted"]


def test_latin1_file_is_read_and_a_wrong_explicit_encoding_rejects_it(client, tenant, owner_session):
    address = email("enc")
    content = f"email,first_name\n{address},Jos\xe9\n".encode("latin-1")
    response = upload(client, tenant.user, content, params={"encoding": "utf-8"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_ENCODING" and "not valid utf-8" in error["message"]
    assert count_prospects(owner_session, tenant) == 0
    assert upload(client, tenant.user, content).json()["created"] == 1
    assert owner_session.scalar(select(Prospect.first_name).where(Prospect.email == address)) == "José"


def _european_export(emails: list[str]) -> str:
    """What Excel in a French or German locale writes: semicolons, every field quoted, a field holding
    the delimiter, a quote and a line break, typographic apostrophes and euro signs."""
    return (
        '"Email";"First Name";"Company";"Title";"custom.budget"\r\n'
        f'"{emails[0]}";"Renée";"L’Oréal; Paris";"Head of\r\nSales ""EMEA""";"12 500,50 €"\r\n'
        f'"{emails[1]}";"José";"Café Müller";"CEO";"1,5"\r\n'
        '"not-an-email";"Zoë";"x";"y";"z"\r\n'
    )


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
def test_semicolon_export_with_quoted_fields_imports(client, tenant, owner_session, encoding):
    emails = [email("eu"), email("eu")]
    response = upload(client, tenant.user, _european_export(emails).encode(encoding))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["failed"]) == (2, 1)
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(5, "email")]  # the record after a 2-line one
    renee = owner_session.scalar(select(Prospect).where(Prospect.email == emails[0]))
    assert (renee.first_name, renee.company, renee.title) == ("Renée", "L’Oréal; Paris", 'Head of\r\nSales "EMEA"')
    assert renee.custom_fields == {"budget": "12 500,50 €"}


def test_tab_delimited_file_imports(client, tenant, owner_session):
    address = email("tab")
    content = f"email\tfirst_name\tcompany\n{address}\tAda\tEngines, Ltd; London\n"
    assert upload(client, tenant.user, content).json()["created"] == 1
    assert owner_session.scalar(select(Prospect.company).where(Prospect.email == address)) == "Engines, Ltd; London"


def test_delimiter_and_encoding_overrides(client, tenant, owner_session):
    address = email("pipe")
    content = f"email|company\n{address}|Caf\xe9 \x80; Co, Ltd\n".encode("latin-1")
    result = upload(client, tenant.user, content, params={"delimiter": "|", "encoding": "cp1252"}).json()
    assert result["created"] == 1, result
    assert owner_session.scalar(select(Prospect.company).where(Prospect.email == address)) == "Café €; Co, Ltd"
    # overriding with the wrong delimiter: one column, named after the whole header line
    wrong = upload(client, tenant.user, content, params={"delimiter": ";"}).json()["error"]
    assert wrong["code"] == "INVALID_CSV_HEADER"


@pytest.mark.parametrize(("params", "code"), [
    ({"encoding": "klingon"}, "INVALID_ENCODING"),
    ({"encoding": "base64"}, "INVALID_ENCODING"),      # a codec, but bytes to bytes
    ({"encoding": "undefined"}, "INVALID_ENCODING"),   # a codec that refuses everything
    ({"encoding": "punycode"}, "INVALID_ENCODING"),
    ({"delimiter": "ab"}, "INVALID_DELIMITER"),
    ({"delimiter": '"'}, "INVALID_DELIMITER"),
])
def test_bad_overrides_are_422(client, tenant, params, code):
    response = upload(client, tenant.user, f"email\n{email('o')}\n", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_missing_email_column_lists_the_columns_found(client, tenant, owner_session):
    response = upload(client, tenant.user, '"First Name";"Company"\r\n"Ada";"Engines; Ltd"\r\n'.encode("cp1252"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_CSV_HEADER"
    assert error["details"]["columnsFound"] == ["First Name", "Company"]
    assert "no email column; columns found: 'First Name', 'Company' (read with delimiter ';'" in error["message"]
    unknown = upload(client, tenant.user, "email;Shoe Size\nx@example.com;9\n").json()["error"]
    assert unknown["details"]["columnsFound"] == ["email", "Shoe Size"]
    assert count_prospects(owner_session, tenant) == 0


def test_import_documents_the_overrides(client):
    operation = client.get("/openapi.json").json()["paths"][f"{URL}/import"]["post"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(params) == {"delimiter", "encoding"}
    assert not params["delimiter"]["required"] and "tab" in params["delimiter"]["description"]


def test_utf8_bom_and_crlf_are_accepted(client, tenant):
    content = f"\ufeffemail,first_name\r\n{email('bom')},Zoë\r\n".encode()
    result = upload(client, tenant.user, content).json()
    assert result["created"] == 1 and result["failed"] == 0


def test_empty_file_and_header_only_file(client, tenant):
    empty = upload(client, tenant.user, b"  \n")
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "INVALID_CSV"
    header_only = upload(client, tenant.user, "email,first_name\n").json()
    assert header_only == {"totalRows": 0, "created": 0, "updated": 0, "unchanged": 0, "failed": 0,
                           "errors": []}


def test_broken_quoting_rejects_the_file(client, tenant, owner_session):
    response = upload(client, tenant.user, f'email,first_name\n{email("q")},"Unclosed\n')
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_CSV"
    assert count_prospects(owner_session, tenant) == 0


def test_row_numbers_are_the_line_where_the_record_starts(client, tenant):
    content = (
        "email,title\n"
        f'{email("m")},"Head of\nSales"\n'        # lines 2-3
        'broken,"Multi\nline\ntitle"\n'            # lines 4-6
        "also-broken,CTO\n"                        # line 7
    )
    result = upload(client, tenant.user, content).json()
    assert result["created"] == 1
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(4, "email"), (7, "email")]


def test_missing_file_field_is_422(client, tenant):
    response = client.post(f"{URL}/import", headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "file"


def test_oversize_file_is_413(settings, state_dir, tenant, owner_session):
    small = make_settings(settings.owner_database_url, state_dir, IMPORT_MAX_BYTES=200)
    with TestClient(create_app(small)) as small_client:
        content = "email\n" + "".join(f"{email('big')}\n" for _ in range(20))
        response = upload(small_client, tenant.user, content)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert response.json()["error"]["details"] == {"maxBytes": 200}
        assert upload(small_client, tenant.user, f"email\n{email('fits')}\n").status_code == 200
    assert count_prospects(owner_session, tenant) == 1


def test_export_has_a_header_and_applies_filters(client, tenant, other_tenant):
    for status in ("new", "contacted", "contacted"):
        client.post(URL, json={"email": email("exp"), "status": status, "company": "Initech"},
                    headers=tenant.user.headers)
    client.post(URL, json={"email": email("theirs")}, headers=other_tenant.user.headers)
    response = client.get(f"{URL}/export", headers=tenant.user.headers)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="prospects.csv"' in response.headers["content-disposition"]
    assert next(csv.reader(io.StringIO(response.text))) == EXPORT_COLUMNS
    assert len(export(client, tenant.user)) == 3
    contacted = export(client, tenant.viewer, status="contacted")
    assert [r["status"] for r in contacted] == ["contacted", "contacted"]
    assert export(client, tenant.user, q="zzz-nothing") == []
    bad = client.get(f"{URL}/export", params={"sort": "nope"}, headers=tenant.user.headers)
    assert bad.status_code == 422


def test_export_neutralises_formula_cells(client, tenant):
    evil = {"=HYPERLINK(\"http://evil.example\",\"x\")": "'=HYPERLINK(\"http://evil.example\",\"x\")",
            "@SUM(A1:A9)": "'@SUM(A1:A9)", "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
            "-2+3": "'-2+3"}
    for company in evil:
        client.post(URL, json={"email": email("f"), "company": company, "phone": "+1 415 555 2671"},
                    headers=tenant.user.headers)
    rows = export(client, tenant.user)
    assert sorted(r["company"] for r in rows) == sorted(evil.values())
    assert {r["phone"] for r in rows} == {"+14155552671"}  # phone numbers are not mangled


def test_export_then_import_round_trips_unchanged(client, tenant, other_tenant, owner_session):
    payloads = [
        {"email": email("rt"), "firstName": "Ada", "lastName": "Lovelace", "phone": "+44 20 7946 0958",
         "linkedinUrl": "https://www.linkedin.com/in/ada", "title": "CTO", "company": "=Engines, \"Ltd\"",
         "department": "engineering", "seniority": "c_level", "city": "London", "country": "UK",
         "timezone": "Europe/London", "source": "event", "status": "engaged", "relationshipStage": "aware"},
        {"email": email("rt"), "company": "-minus corp", "title": "@handle"},
        {"email": email("rt"), "company": "'=already quoted", "firstName": "Zoë\nNewline"},
        {"email": email("rt")},
    ]
    for payload in payloads:
        assert client.post(URL, json=payload, headers=tenant.user.headers).status_code == 201
    exported = client.get(f"{URL}/export", headers=tenant.user.headers).content
    before = owner_session.execute(select(Prospect.__table__).where(
        Prospect.organization_id == tenant.organization_id).order_by(Prospect.email)).mappings().all()
    result = upload(client, tenant.user, exported).json()
    counts = (result["created"], result["updated"], result["unchanged"], result["failed"])
    assert counts == (0, 0, 4, 0), result
    owner_session.expire_all()
    after = owner_session.execute(select(Prospect.__table__).where(
        Prospect.organization_id == tenant.organization_id).order_by(Prospect.email)).mappings().all()
    assert [dict(r) for r in after] == [dict(r) for r in before]

    # into an empty organization the same file recreates the same values
    other = upload(client, other_tenant.user, exported).json()
    assert (other["created"], other["failed"]) == (4, 0)
    per_org = [{r["email"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in export(client, member)}
               for member in (tenant.user, other_tenant.user)]
    assert per_org[0] == per_org[1]


VOLATILE = {"id", "owner_id", "created_at", "updated_at"}
