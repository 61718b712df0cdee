"""The bulk path's address check gives exactly `EmailStr`'s verdicts: the same stored value or the same error."""

from __future__ import annotations

import email_validator
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from serving.core.schemas import Email
from serving.emails import address_syntax
from serving.emails.address_syntax import BulkEmail
from serving.emails.schemas import BulkJobIn

_reference = TypeAdapter(Email)
_bulk = TypeAdapter(BulkEmail)


def _verdict(adapter: TypeAdapter, value: object) -> tuple[str, object]:
    try:
        return "ok", adapter.validate_python(value)
    except ValidationError as exc:
        return "error", [(e["type"], e["msg"], e.get("ctx")) for e in exc.errors(include_url=False)]


CORPUS = [
    # plain, mixed case, sub-domains, common local-part characters
    "a@b.co", "Jane.Doe@Example.COM", "x_y+tag@mail.eu.example.org", "first-last@sub-domain.example.io",
    "a@b.c", "1@2.ab", "user@123.com", "user@a1.b2c", "user@domain.c0m", "user@domain.123",
    # dots
    ".a@b.co", "a.@b.co", "a..b@b.co", "a@.b.co", "a@b.co.", "a@b..co", "a@b.co..", "trailing.dot@example.com.",
    # no domain dot, no local, no @, two @
    "a@localhost", "@b.co", "a@", "ab.co", "a@b@c.co", "",
    # reserved and special-use names (and look-alikes that are fine)
    "a@x.test", "a@x.local", "a@x.localhost", "a@b.invalid", "a@1.in-addr.arpa", "a@onion", "a@x.onion",
    "a@example.com", "a@mytest.com", "a@notlocal.com", "a@test.co", "a@b.arpa.com",
    # hyphens and R-LDH / Punycode labels
    "a@-b.co", "a@b-.co", "a@b--c.co", "a@ab--c.co", "a@xn--bcher-kva.ch", "a@xn--x.com", "a@b.xn--p1ai",
    "a@a-b-c.co", "a@b.c-o", "a@b.co-",
    # ATEXT characters outside the fast pattern, quoting, comments, display names, literals
    "o'brien@example.com", "a!#$%&'*/=?^`{|}~@example.com", '"john doe"@example.com', '"a"@b.co',
    '"a\\"b"@b.co', "a(comment)@b.co", "John <john@example.com>", "<john@example.com>", '"J D" <j@b.co>',
    "a@[127.0.0.1]", "a@[IPv6:::1]", "a b@c.co", "a@b c.co",
    # whitespace and control characters
    " a@b.co", "a@b.co ", "\ta@b.co", "a@b.co\n", "a\r@b.co", "a@b.co\x00", "a\u200b@b.co",
    # internationalised local parts and domains (IDN), full-width and compatibility forms
    "josé@example.com", "用户@例子.广告", "a@bücher.de", "a@BÜCHER.de", "a@ｅxample.com", "ａ@b.co",
    "δοκιμή@παράδειγμα.δοκιμή", "a@münchen.de.", "a@xn--mnchen-3ya.de", "a@ß.de", "a@\u0301b.co",
    "a@日本.jp", "a@例え.テスト", "\u00e9@b.co", "e\u0301@b.co",
    # lengths: local 64/65, label 63/64, whole address 254/255, pydantic's 2048
    "a" * 64 + "@b.co", "a" * 65 + "@b.co", "a@" + "b" * 63 + ".co", "a@" + "b" * 64 + ".co",
    "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 59, "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 60,
    "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 61, "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".co",
    "a" * 2049 + "@b.co",
    # not strings
    5, None, b"a@b.co", ["a@b.co"],
]


@pytest.mark.parametrize("value", CORPUS, ids=range(len(CORPUS)))
def test_the_corpus_gets_the_same_verdict(value):
    assert _verdict(_bulk, value) == _verdict(_reference, value)


_ATOM = st.text(alphabet="aZ09_+-.!#'~ \"@éü日-", min_size=0, max_size=12)
_LABEL = st.one_of(st.text(alphabet="aZ09-", min_size=0, max_size=8), st.sampled_from(
    ["xn--bcher-kva", "ab--c", "test", "local", "arpa", "onion", "invalid", "localhost", "com", "b" * 64, "münchen",
     "123", "", "-", "co-"]))


@settings(max_examples=1500, deadline=None)
@given(local=_ATOM, labels=st.lists(_LABEL, min_size=0, max_size=4), tail=st.sampled_from(["", ".", " ", "\n", ">"]))
def test_near_misses_get_the_same_verdict(local, labels, tail):
    value = local + "@" + ".".join(labels) + tail
    assert _verdict(_bulk, value) == _verdict(_reference, value)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_gets_the_same_verdict(value):
    assert _verdict(_bulk, value) == _verdict(_reference, value)


def test_the_library_settings_are_read_at_call_time(monkeypatch):
    # The fast pattern must not outlive a change of email-validator's module settings.
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "co"])
    assert _verdict(_bulk, "a@b.co") == _verdict(_reference, "a@b.co")
    assert _verdict(_bulk, "a@b.co")[0] == "error"
    monkeypatch.setattr(email_validator, "TEST_ENVIRONMENT", True)
    assert address_syntax.normalize_address("a@b.test") == _reference.validate_python("a@b.test")


def test_a_bulk_request_reports_the_bad_address_where_it_is():
    body = {"name": "n", "subject": "s", "text": "t",
            "recipients": [{"email": "ok@example.com"}, {"email": "bad@@example.com"},
                           {"email": " Spaced@Example.com "}]}
    with pytest.raises(ValidationError) as caught:
        BulkJobIn.model_validate(body)
    (error,) = caught.value.errors(include_url=False)
    assert error["loc"] == ("recipients", 1, "email")
    assert error["msg"].startswith("value is not a valid email address")
    del body["recipients"][1]
    assert [r.email for r in BulkJobIn.model_validate(body).recipients] == ["ok@example.com", "spaced@example.com"]


def test_the_openapi_schema_of_the_field_is_unchanged():
    assert _bulk.json_schema() == _reference.json_schema()
