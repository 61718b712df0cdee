"""Where a webhook may be sent (SSRF protection): the URL's host is resolved and every address must be public —
not private, loopback, link-local, multicast, reserved, unspecified or shared (CGNAT) space, and never a cloud
metadata address. Checked when an endpoint is saved and again before each delivery (the name may now resolve
elsewhere: DNS rebinding), and the delivery connects to the address checked here, not to a second lookup.

An admin may allow private targets for one endpoint (a self-hosted receiver on the same network) only while the
setting WEBHOOKS_ALLOW_PRIVATE_TARGETS is on; metadata addresses stay refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS IPv6; Alibaba; Oracle).
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192",
))
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeTarget(ValueError):
    """The URL may not be called; the message says why (shown to the user)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: Address  # the checked address the delivery connects to


def refusal(address: Address) -> str | None:
    """Why this address is not a public one, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    if address in METADATA:
        return "a cloud metadata address"
    for label, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                        ("multicast", address.is_multicast), ("unspecified", address.is_unspecified),
                        ("private", address.is_private), ("reserved", address.is_reserved)):
        if flag:
            return f"a {label} address"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host!r} does not resolve") from exc
    found: list[Address] = []
    for info in infos:
        # drop an IPv6 zone ("fe80::1%eth0") before parsing: the address alone decides
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UnsafeTarget(f"the host {host!r} does not resolve")
    return found


def check(url: str, *, allow_private: bool) -> Target:
    """The URL's target if it may be called: http(s), a host, and (unless `allow_private`) only public addresses —
    every address the name resolves to, so that a second lookup cannot pick a refused one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("the URL must be http or https")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL may not carry credentials")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(parts.hostname, port)
    for address in addresses:
        reason = refusal(address)
        if reason is None:
            continue
        if address in METADATA or not allow_private:
            raise UnsafeTarget(f"{parts.hostname} resolves to {address}, {reason}; webhooks go to public "
                               "addresses only")
    return Target(url=url, scheme=parts.scheme, host=parts.hostname, port=port, address=addresses[0])


def read_capped(response: httpx.Response, cap: int) -> str:
    """A streamed response's body, at most `cap` bytes read (the rest never is), as text Postgres can store
    (undecodable bytes replaced, NULs dropped); the response is closed."""
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= cap:
                break
    finally:
        response.close()
    return b"".join(chunks)[:cap].decode("utf-8", "replace").replace("\x00", "")
