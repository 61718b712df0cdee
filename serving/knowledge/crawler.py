"""Crawl a company's website into plain-text pages (the fetching half; `service.crawl_website` stores them).

Rules, each because a public crawler that ignores it is a nuisance or a hole:
- robots.txt of every host visited is honoured (`urllib.robotparser`, our user agent); a robots.txt that answers
  401/403 forbids the host, another 4xx allows it (as `RobotFileParser.read` does); `<meta name="robots">`
  noindex/nofollow are honoured too.
- Only the start URL's registrable domain (public suffix list: `www.acme.co.uk` and `blog.acme.co.uk` are one
  site, `acme.com` is another); redirects are followed by hand, one hop at a time, and only inside it.
- SSRF: every host is resolved before it is fetched and refused when any address is not globally routable
  (loopback, private, link-local, reserved), unless `allow_private` (tests and self-hosters crawling an intranet).
  httpx resolves again when it connects, so a DNS answer that changes between the two is the one gap left.
- Caps: depth (links from the start page), pages stored, bytes per page (bigger pages are skipped, not cut),
  timeouts per request and for the whole crawl; only text/html and XHTML are read.
- sitemap.xml (and sitemap indexes, and the sitemaps robots.txt names) seeds the crawl at depth 1, parsed with
  defusedxml (a sitemap is untrusted XML).
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.robotparser
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import httpx
from defusedxml import DefusedXmlException, ElementTree
from publicsuffixlist import PublicSuffixList
from selectolax.lexbor import LexborHTMLParser

USER_AGENT = "AIRevenueOrcBot/0.1 (+self-hosted)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# removed before the text is taken: code, chrome and forms carry no research value
DROP_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "form", "nav", "header", "footer", "aside",
             "button", "select"]
BLOCK_TAGS = ("p, h1, h2, h3, h4, h5, h6, li, dt, dd, tr, td, th, blockquote, pre, figcaption, div, section, "
              "article, main, br, hr, table, ul, ol")
PUBLISHED_META = ("article:published_time", "og:published_time", "datePublished", "date", "dc.date",
                  "pubdate", "article:modified_time")
MAX_REDIRECTS = 5
MAX_SITEMAPS = 10
MAX_SITEMAP_URLS = 5000


class CrawlRefused(Exception):
    """The URL may not be crawled at all (bad scheme, private address, …): a client error, not a crawl failure."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 2
    max_pages: int = 50
    max_bytes: int = 2_000_000
    timeout: float = 10.0
    total_seconds: float = 300.0
    allow_private: bool = False


@dataclass
class Page:
    url: str
    depth: int
    title: str | None
    description: str | None
    text: str
    published_at: datetime | None
    last_modified: datetime | None


@dataclass
class CrawlResult:
    pages: list[Page] = field(default_factory=list)
    # url → why it was not stored (robots, off_domain, not_html, too_large, depth, http_<status>, error, …)
    skipped: dict[str, str] = field(default_factory=dict)
    sitemap_urls: int = 0


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped in the package: no download


def registrable_domain(host: str) -> str:
    """`www.acme.co.uk` → `acme.co.uk`; an IP address or a single label (`localhost`) is its own site."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _suffixes().privatesuffix(host) or host


def same_site(url: str, domain: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return bool(host) and registrable_domain(host) == domain


def normalise(url: str) -> str | None:
    """Absolute http(s) URL without fragment, host lower-cased, default port dropped; None if not crawlable."""
    try:
        url = urldefrag(url.strip())[0]
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:  # "http://[::1", "http://a:99999": a broken link, not a crash
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):  # unstorable or a mangled link
        return None
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"  # an IPv6 literal keeps its brackets
    if port and port != {"http": 80, "https": 443}[parts.scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to an address that is not globally routable (SSRF)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CrawlRefused(f"not a valid URL: {url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CrawlRefused(f"only http(s) URLs can be crawled: {url!r}")
    if parts.username or parts.password:
        raise CrawlRefused("URLs with credentials are not crawled")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CrawlRefused(f"{parts.hostname} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise CrawlRefused(f"{parts.hostname} resolves to a non-public address ({address}); crawling private "
                               "networks is off (CRAWLER_ALLOW_PRIVATE_NETWORKS)")


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Parsed:
    title: str | None
    description: str | None
    text: str
    links: list[str]
    published_at: datetime | None
    noindex: bool
    nofollow: bool


def parse_html(html: str, base_url: str) -> Parsed:
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node else None
    description = published = None
    robots = ""
    for meta in tree.css("meta"):
        attrs = meta.attributes
        key = (attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").strip()
        content = (attrs.get("content") or "").strip()
        if key.lower() in ("description", "og:description") and content and not description:
            description = " ".join(content.split())
        elif key.lower() == "robots":
            robots += "," + content.lower()
        elif key in PUBLISHED_META or key.lower() in PUBLISHED_META:
            published = published or _iso_date(content)
    if published is None:
        time_node = tree.css_first("time[datetime]")
        published = _iso_date(time_node.attributes.get("datetime")) if time_node else None
    base = tree.css_first("base[href]")
    base_url = urljoin(base_url, base.attributes.get("href") or "") if base else base_url
    links = [urljoin(base_url, a.attributes.get("href") or "") for a in tree.css("a[href]")
             if "nofollow" not in (a.attributes.get("rel") or "")]
    tree.strip_tags(DROP_TAGS)
    for node in tree.css(BLOCK_TAGS):
        node.insert_after("\n")  # block boundaries become line breaks, inline markup stays inside its sentence
    body = tree.body
    raw = body.text(separator="", strip=False) if body else ""
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    return Parsed(title=title or None, description=description, text="\n".join(line for line in lines if line),
                  links=links, published_at=published, noindex="noindex" in robots or "none" in robots,
                  nofollow="nofollow" in robots or "none" in robots)


class Crawler:
    def __init__(self, limits: Limits, *, transport: httpx.BaseTransport | None = None) -> None:
        self.limits = limits
        self.client = httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False,
                                   timeout=httpx.Timeout(limits.timeout), transport=transport)
        self.robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self.domain = ""

    def close(self) -> None:
        self.client.close()

    # -- fetching -------------------------------------------------------------------------------------------
    def _get(self, url: str) -> tuple[httpx.Response | None, bytes, str]:
        """GET with redirects followed by hand inside the site; (response, body, final url) or a skip reason in
        place of the url when the response is None."""
        for _ in range(MAX_REDIRECTS + 1):
            check_target(url, allow_private=self.limits.allow_private)
            with self.client.stream("GET", url) as response:
                if response.is_redirect:
                    target = normalise(urljoin(url, response.headers.get("location", "")))
                    if target is None or not same_site(target, self.domain):
                        return None, b"", "redirect_off_domain"
                    url = target
                    continue
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.limits.max_bytes:
                    return None, b"", "too_large"
                body = bytearray()
                for piece in response.iter_bytes():
                    body.extend(piece)
                    if len(body) > self.limits.max_bytes:
                        return None, b"", "too_large"
                return response, bytes(body), url
        return None, b"", "too_many_redirects"

    def _robots(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.robots:
            parser = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
            try:
                response, body, _ = self._get(f"{origin}/robots.txt")
            except (httpx.HTTPError, CrawlRefused):
                response, body = None, b""
            if response is None:
                parser.allow_all = True  # none to be had (unreachable, redirected away): nothing forbids
            elif response.status_code >= 500 or response.status_code in (401, 403):
                parser.disallow_all = True  # the site is failing or guarding it: stay away, as search engines do
                parser.disallow_all = True
            elif response.status_code >= 400:
                parser.allow_all = True
            else:
                parser.parse(body.decode("utf-8", "replace").splitlines())
            self.robots[origin] = parser
        return self.robots[origin]

    def allowed(self, url: str) -> bool:
        return self._robots(url).can_fetch(USER_AGENT, url)

    def _sitemap_urls(self, start: str) -> list[str]:
        parts = urlsplit(start)
        queue = list(self._robots(start).site_maps() or []) or [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]
        found: list[str] = []
        seen: set[str] = set()
        while queue and len(seen) < MAX_SITEMAPS and len(found) < MAX_SITEMAP_URLS:
            sitemap = normalise(queue.pop(0))
            if sitemap is None or sitemap in seen or not same_site(sitemap, self.domain):
                continue
            seen.add(sitemap)
            try:
                response, body, _ = self._get(sitemap)
                if response is None or response.status_code != 200:
                    continue
                root = ElementTree.fromstring(body)
            except (httpx.HTTPError, CrawlRefused, ElementTree.ParseError, DefusedXmlException):
                continue  # a broken or hostile sitemap only means no seeds from it
            locations = [(el.text or "").strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc"]
            if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
                queue.extend(locations)
            else:
                found.extend(loc for loc in locations if loc)
        return found[:MAX_SITEMAP_URLS]

    # -- the crawl ------------------------------------------------------------------------------------------
    def crawl(self, start_url: str) -> CrawlResult:
        start = normalise(start_url)
        if start is None:
            raise CrawlRefused(f"only http(s) URLs can be crawled: {start_url!r}")
        check_target(start, allow_private=self.limits.allow_private)
        self.domain = registrable_domain(urlsplit(start).hostname or "")
        deadline = time.monotonic() + self.limits.total_seconds
        result = CrawlResult()
        frontier: deque[tuple[str, int]] = deque([(start, 0)])
        seen = {start}
        # sitemap pages count as one link from the start page: a depth of 0 means the start page alone
        sitemap = self._sitemap_urls(start) if self.limits.max_depth >= 1 else []
        result.sitemap_urls = len(sitemap)
        for url in sitemap:
            url = normalise(url)
            if url and url not in seen:
                seen.add(url)
                frontier.append((url, 1))
        while frontier and len(result.pages) < self.limits.max_pages:
            if time.monotonic() > deadline:
                result.skipped.update({url: "time_budget" for url, _ in frontier})
                break
            url, depth = frontier.popleft()
            if not same_site(url, self.domain):
                result.skipped[url] = "off_domain"
                continue
            if not self.allowed(url):
                result.skipped[url] = "robots"
                continue
            try:
                response, body, final = self._get(url)
            except CrawlRefused:
                result.skipped[url] = "refused"
                continue
            except httpx.HTTPError as exc:
                result.skipped[url] = f"error: {type(exc).__name__}"
                continue
            if response is None:
                result.skipped[url] = final
                continue
            if response.status_code != 200:
                result.skipped[url] = f"http_{response.status_code}"
                continue
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in HTML_TYPES:
                result.skipped[url] = "not_html"
                continue
            if final != url:
                if final in seen and final != url:
                    result.skipped[url] = "duplicate"
                    continue
                seen.add(final)
            parsed = parse_html(body.decode(response.encoding or "utf-8", "replace"), final)
            if not parsed.nofollow:
                for link in parsed.links:
                    link = normalise(link)
                    if link is None or link in seen:
                        continue
                    seen.add(link)
                    if not same_site(link, self.domain):
                        result.skipped[link] = "off_domain"
                    elif depth + 1 > self.limits.max_depth:
                        result.skipped[link] = "depth"
                    else:
                        frontier.append((link, depth + 1))
            if parsed.noindex:
                result.skipped[final] = "noindex"
                continue
            if not parsed.text.strip():
                result.skipped[final] = "empty"
                continue
            result.pages.append(Page(url=final, depth=depth, title=parsed.title, description=parsed.description,
                                     text=parsed.text, published_at=parsed.published_at,
                                     last_modified=_http_date(response.headers.get("last-modified"))))
        for url, _ in frontier:
            result.skipped.setdefault(url, "page_cap")
        return result


def crawl(start_url: str, limits: Limits, *, transport: httpx.BaseTransport | None = None) -> CrawlResult:
    crawler = Crawler(limits, transport=transport)
    try:
        return crawler.crawl(start_url)
    finally:
        crawler.close()
