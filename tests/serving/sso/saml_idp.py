"""A SAML 2.0 identity provider for the SSO tests: it answers an AuthnRequest (HTTP-Redirect binding, decoded as
the spec says: base64 of raw DEFLATE) with a Response whose Assertion is signed with `signxml` — an implementation
independent of the xmlsec library our service provider verifies with — under its own RSA key and self-signed
certificate. Knobs make the attacks: another audience, an expired assertion, a tampered one after signing."""

from __future__ import annotations

import base64
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def self_signed(common_name: str) -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class SamlIdp:
    entity_id: str = "https://idp.example.test/saml"
    sso_url: str = "https://idp.example.test/saml/sso"
    key: rsa.RSAPrivateKey = field(init=False)
    cert_pem: str = field(init=False)

    def __post_init__(self) -> None:
        self.key, self.cert_pem = self_signed("Test IdP")

    @property
    def cert_body(self) -> str:
        """The certificate as SAML metadata carries it (base64 DER, no PEM armour)."""
        return "".join(line for line in self.cert_pem.splitlines() if "CERTIFICATE" not in line)

    @staticmethod
    def read_request(redirect_url: str) -> tuple[str, str, str | None]:
        """(AuthnRequest ID, its AssertionConsumerServiceURL, RelayState) from the SP's redirect."""
        query = parse_qs(urlparse(redirect_url).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
        request = etree.fromstring(xml)
        return request.get("ID"), request.get("AssertionConsumerServiceURL"), query.get("RelayState", [None])[0]

    def response(self, *, acs_url: str, audience: str, in_response_to: str | None, email: str,
                 attributes: dict[str, list[str]] | None = None, now: datetime | None = None,
                 lifetime: timedelta = timedelta(minutes=5), tamper_email: str | None = None,
                 sign_with: rsa.RSAPrivateKey | None = None) -> str:
        """A signed Response, base64-encoded as the HTTP-POST binding sends it."""
        now = now or datetime.now(UTC)
        assertion_id, response_id = f"_a{uuid.uuid4().hex}", f"_r{uuid.uuid4().hex}"
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        attrs = "".join(
            f'<saml:Attribute Name="{escape(name)}">'
            + "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>" for name, values in (attributes or {}).items())
        if not attrs:
            attrs = (f'<saml:Attribute Name="email"><saml:AttributeValue>{escape(email)}</saml:AttributeValue>'
                     "</saml:Attribute>")
        until = _instant(now + lifetime)
        assertion_xml = (
            f'<saml:Assertion xmlns:saml="{NS["saml"]}" ID="{assertion_id}" Version="2.0" '
            f'IssueInstant="{_instant(now)}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            # signxml puts the enveloped signature here: right after the Issuer, where the schema wants it
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"></ds:Signature>'
            "<saml:Subject>"
            f'<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{escape(email)}'
            "</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs_url}"{irt}/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(now - timedelta(minutes=1))}" NotOnOrAfter="{until}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            "</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(now)}" SessionIndex="_s{uuid.uuid4().hex}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )
        signer = XMLSigner(c14n_algorithm=EXC_C14N)
        signed = signer.sign(etree.fromstring(assertion_xml), key=sign_with or self.key, cert=self.cert_pem,
                             reference_uri=assertion_id)
        if tamper_email:
            signed.find(".//saml:NameID", NS).text = tamper_email
        response = etree.fromstring(
            f'<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="{response_id}" '
            f'Version="2.0" IssueInstant="{_instant(now)}" Destination="{acs_url}"{irt}>'
            f'<saml:Issuer>{self.entity_id}</saml:Issuer><samlp:Status><samlp:StatusCode '
            f'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>')
        response.append(signed)
        return base64.b64encode(etree.tostring(response)).decode()
