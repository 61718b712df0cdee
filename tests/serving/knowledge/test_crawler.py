"""The website crawler on a real local site served by the test (http.server in a thread): robots.txt, sitemap
index, off-domain links and redirects, the depth cap, a non-HTML file; pages stored as embedded documents (API
role, row-level security on) and found by meaning; a re-crawl re-embeds only the changed page; buying signals;
SSRF refused by default; tenancy."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from serving.accounts.models import CompanyProfile
from serving.core.db import session_factory
from serving.knowledge import crawler, service
from tests.conftest import make_settings

URL = "/api/v1/knowledge"
CHROME = "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav><footer>© Acme Solar Pumps</footer>"
ABOUT = ("Acme builds solar-powered irrigation pumps for smallholder farms. Each pump draws groundwater with energy "
         "from a single photovoltaic panel, so farmers need neither diesel nor a grid connection. The pumps are "
         "assembled in Nairobi and serviced by local technicians across East Africa.")
ABOUT_CHANGED = ("Acme builds wind-driven desalination units for coastal villages. Each unit turns seawater into "
                 "drinking water with no fuel and no grid connection.")
CAREERS = ("We are hiring twenty field engineers and three sales managers to support our growth in Kenya and "
           "Tanzania. Join our team and help farmers grow more food.")
PRESS = ("Acme announced today that it raised a 12 million dollar Series B funding round led by Green Ventures. "
         "The new capital will fund manufacturing.")
NEWS = ("Acme appointed Jane Okafor as its new Chief Technology Officer, succeeding the founder who remains on "
        "the board. She previously led engineering at a large energy company.")


def page(title: str, body: str, links: str = "", description: str | None = None) -> bytes:
    meta = f"<meta name='description' content='{description}'>" if description else ""
    return (f"<html><head><title>{title}</title>{meta}<script>var tracking = 1;</script></head><body>{CHROME}"
            f"<main><h1>{title}</h1><p>{body}</p>{links}</main></body></html>").encode()


class Site:
    """A small company website on 127.0.0.1; `pages` may be edited between crawls; `requested` logs each GET."""

    def __init__(self) -> None:
        self.requested: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requested.append((self.path, self.headers.get("User-Agent", "")))
                found = site.pages.get(self.path)
                if found is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                status, content_type, body, headers = found
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        html = "text/html; charset=utf-8"
        self.pages = {
            "/robots.txt": (200, "text/plain", (f"User-agent: *\nDisallow: /private/\n"
                                                f"Sitemap: {self.base}/sitemap_index.xml\n").encode(), {}),
            "/sitemap_index.xml": (200, "application/xml", (
                "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<sitemap><loc>{self.base}/sitemap-pages.xml</loc></sitemap></sitemapindex>").encode(), {}),
            "/sitemap-pages.xml": (200, "application/xml", (
                "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"<url><loc>{self.base}/news/series-b</loc></url>"
                f"<url><loc>{self.base}/private/sitemapped</loc></url></urlset>").encode(), {}),
            "/": (200, html, page("Acme", "Welcome to our website. Read our story and meet the people behind it.", (
                "<a href='/about'>About</a> <a href='/careers'>Careers</a> <a href='/private/secret'>Secret</a>"
                " <a href='/deep/1'>Deep</a> <a href='/brochure.pdf'>Brochure</a> <a href='/leave'>Leave</a>"
                f" <a href='http://localhost:{self.port}/elsewhere'>Elsewhere</a>"
                " <a href='https://partner.example/'>Partner</a>")), {}),
            "/about": (200, html, page("About Acme", ABOUT, description="Solar irrigation pumps"),
                       {"Last-Modified": "Mon, 01 Jan 2018 00:00:00 GMT"}),
            "/careers": (200, html, page("Careers", CAREERS), {}),
            "/news/series-b": (200, html, page("Acme raises Series B", PRESS), {}),
            "/deep/1": (200, html, page("Deep one", "The first page of a long chain of pages about pumps.",
                                        "<a href='/deep/2'>next</a>"), {}),
            "/deep/2": (200, html, page("Deep two", "The second page of a long chain of pages about pumps.",
                                        "<a href='/deep/3'>next</a>"), {}),
            "/deep/3": (200, html, page("Deep three", "Too deep to be crawled at the default depth.", ""), {}),
            "/private/secret": (200, html, page("Secret", "Robots.txt forbids this page."), {}),
            "/private/sitemapped": (200, html, page("Sitemapped secret", "Robots.txt forbids this one too."), {}),
            "/brochure.pdf": (200, "application/pdf", b"%PDF-1.4 not a web page", {}),
            "/leave": (302, html, b"", {"Location": f"http://localhost:{self.port}/"}),
        }
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    served = Site()
    yield served
    served.close()


@pytest.fixture(scope="module")
def crawl_settings(database, state_dir):
    return make_settings(database, state_dir, CRAWLER_ALLOW_PRIVATE_NETWORKS="true")


@pytest.fixture(scope="module")
def factory(crawl_settings):
    return session_factory(crawl_settings.api_database_url)  # the worker's role: row-level security applies


def _website(client, member, url: str, **extra) -> dict:
    response = client.post(f"{URL}/websites", json={"url": url, **extra}, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _stored(tenant, website_id) -> dict[str, list]:
    with tenant.session() as session, session.begin():
        rows = session.execute(text(
            "select s.url, d.id from app.company_research_sources s join app.knowledge_documents d"
            " on d.source_id = s.id where s.website_id = :w order by s.url, d.chunk_index"), {"w": website_id}).all()
    found: dict[str, list] = {}
    for url, document_id in rows:
        found.setdefault(url, []).append(document_id)
    return found


def test_a_crawl_stores_exactly_the_allowed_pages_and_they_are_found_by_meaning(
        client, tenant, other_tenant, site, crawl_settings, factory):
    profile = tenant.add(CompanyProfile, name="Acme", domain="acme-solar.example")
    website = _website(client, tenant.user, site.url("/"), companyProfileId=str(profile.id), maxDepth=2,
                       maxPages=20)
    assert website["status"] == "pending" and website["url"] == site.url("/")

    summary = service.crawl_website(factory=factory, settings=crawl_settings, organization_id=tenant.organization_id,
                                    website_id=uuid.UUID(website["id"]))
    stored = _stored(tenant, website["id"])
    assert set(stored) == {site.url(p) for p in ("/", "/about", "/careers", "/news/series-b", "/deep/1", "/deep/2")}
    assert summary.status == "done" and summary.pages == 6 and summary.changed == 6
    requested = [path for path, _ in site.requested]
    assert not [p for p in requested if p.startswith("/private/")]  # robots.txt honoured, even for the sitemap's
    assert "/deep/3" not in requested  # beyond max_depth
    assert {agent for _, agent in site.requested} == {crawler.USER_AGENT}
    assert summary.skipped["robots"] == 2 and summary.skipped["not_html"] == 1
    assert summary.skipped["redirect_off_domain"] == 1 and summary.skipped["off_domain"] == 2
    assert summary.skipped["depth"] == 1

    detail = client.get(f"{URL}/websites/{website['id']}", headers=tenant.viewer.headers).json()
    assert detail["status"] == "done" and detail["pagesCrawled"] == 6 and detail["lastCrawledAt"]
    assert detail["lastError"] is None

    with tenant.session() as session, session.begin():
        sources = {row.url: row for row in session.execute(text(
            "select url, title, quality_score, metadata from app.company_research_sources where website_id = :w"),
            {"w": website["id"]})}
        content = session.scalar(text("select string_agg(content, ' ') from app.knowledge_documents d join "
                                      "app.company_research_sources s on s.id = d.source_id where s.url = :u"),
                                 {"u": site.url("/about")})
    about = sources[site.url("/about")]
    assert about.title == "About Acme" and about.metadata["description"] == "Solar irrigation pumps"
    assert about.metadata["last_modified"].startswith("2018-01-01")
    assert "tracking" not in content and "© Acme" not in content and "photovoltaic panel" in content
    # a long first-party page outranks the one-line home page
    assert about.quality_score > sources[site.url("/")].quality_score

    body = client.post(f"{URL}/search", json={"query": "machines that water crops using sunlight", "threshold": 0,
                                              "limit": 3}, headers=tenant.user.headers).json()
    assert body["matches"][0]["url"] == site.url("/about")
    other = client.post(f"{URL}/search", json={"query": "machines that water crops using sunlight",
                                               "threshold": -1}, headers=other_tenant.user.headers).json()
    assert other["matches"] == []


def test_a_recrawl_re_embeds_only_the_changed_page_and_drops_vanished_ones(
        client, tenant, site, crawl_settings, factory):
    website = _website(client, tenant.user, site.url("/"), maxDepth=2, maxPages=20)
    crawl = dict(factory=factory, settings=crawl_settings, organization_id=tenant.organization_id,
                 website_id=uuid.UUID(website["id"]))
    service.crawl_website(**crawl)
    before = _stored(tenant, website["id"])

    site.pages["/about"] = (200, "text/html", page("About Acme", ABOUT_CHANGED), {})
    del site.pages["/deep/2"]
    summary = service.crawl_website(**crawl)
    after = _stored(tenant, website["id"])
    assert summary.changed == 1 and summary.removed == 1 and summary.pages == 5
    assert site.url("/deep/2") not in after
    assert set(after[site.url("/about")]).isdisjoint(before[site.url("/about")])  # re-embedded
    for url in after.keys() - {site.url("/about")}:
        assert after[url] == before[url], url  # untouched: the same chunk rows
    body = client.post(f"{URL}/search", json={"query": "turning sea water into something people can drink",
                                              "threshold": 0, "limit": 1}, headers=tenant.user.headers).json()
    assert body["matches"][0]["url"] == site.url("/about")


def test_signals_from_crawled_pages_land_as_intent_signals_and_on_the_profile(
        client, tenant, site, crawl_settings, factory, owner_session):
    profile = tenant.add(CompanyProfile, name="Acme", domain="acme-solar.example")
    website = _website(client, tenant.user, site.url("/"), companyProfileId=str(profile.id))
    summary = service.crawl_website(factory=factory, settings=crawl_settings, organization_id=tenant.organization_id,
                                    website_id=uuid.UUID(website["id"]))
    assert summary.signals >= 2
    with tenant.session() as session, session.begin():
        signals, quality = session.execute(text(
            "select buying_signals, research_quality_score from app.company_profiles where id = :id"),
            {"id": profile.id}).one()
    kinds = {(s["kind"], s["url"]) for s in signals}
    assert ("hiring", site.url("/careers")) in kinds and ("funding", site.url("/news/series-b")) in kinds
    hiring = next(s for s in signals if s["kind"] == "hiring")
    assert "hiring twenty field engineers" in hiring["sentence"] and hiring["date"]
    assert 0 <= quality <= 100
    rows = owner_session.execute(text(
        "select signal_type, topic, account_domain, provider, payload from raw.intent_signals"
        " where organization_id = :org order by topic"), {"org": tenant.organization_id}).all()
    assert {(r.signal_type, r.topic) for r in rows} >= {("job_posting", "hiring"), ("funding", "funding")}
    assert {r.account_domain for r in rows} == {"acme-solar.example"}
    assert all(r.provider == "knowledge_base" and r.payload["url"] for r in rows)

    # the same text crawled again adds no signal twice
    before = len(rows)
    site.pages["/careers"] = (200, "text/html", page("Careers", CAREERS + " Benefits include solar lamps."), {})
    service.crawl_website(factory=factory, settings=crawl_settings, organization_id=tenant.organization_id,
                          website_id=uuid.UUID(website["id"]))
    again = owner_session.execute(text("select count(*) from raw.intent_signals where organization_id = :org"),
                                  {"org": tenant.organization_id}).scalar()
    assert again == before


def test_a_news_item_is_read_for_signals(client, tenant, other_tenant, owner_session):
    profile = tenant.add(CompanyProfile, name="Acme", domain="acme-solar.example")
    response = client.post(f"{URL}/sources", json={
        "title": "Acme names a new CTO", "text": NEWS, "sourceType": "news", "url": "https://news.example/acme-cto",
        "companyProfileId": str(profile.id), "publishedAt": "2026-11-20T09:00:00Z"}, headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["kind"] for s in body["signals"]] == ["leadership"]
    assert body["signals"][0]["url"] == "https://news.example/acme-cto" and body["signals"][0]["date"] == "2026-11-20"
    assert 0 < body["qualityScore"] <= 100
    row = owner_session.execute(text(
        "select signal_type, topic, strength, occurred_at::date::text as day from raw.intent_signals"
        " where organization_id = :org"), {"org": tenant.organization_id}).one()
    assert (row.signal_type, row.topic, row.day) == ("news", "leadership", "2026-11-20") and row.strength > 0.5

    plain = client.post(f"{URL}/sources", json={"title": "Pricing", "sourceType": "news", "text": (
        "The weather in Nairobi was mild this week, with light rain in the evenings and sunny mornings."),
        "companyProfileId": str(profile.id)}, headers=tenant.user.headers).json()
    assert plain["signals"] == []
    # another organization cannot attach a source to this company
    foreign = client.post(f"{URL}/sources", json={"title": "x", "text": NEWS, "sourceType": "news",
                                                  "companyProfileId": str(profile.id)},
                          headers=other_tenant.user.headers)
    assert foreign.status_code == 422 and foreign.json()["error"]["code"] == "VALIDATION_ERROR"


def test_websites_api_crawl_queue_validation_and_tenancy(client, tenant, other_tenant, owner_session):
    website = _website(client, tenant.user, "https://www.acme-solar.example/", maxDepth=1, maxPages=5)
    assert (website["maxDepth"], website["maxPages"]) == (1, 5)
    duplicate = client.post(f"{URL}/websites", json={"url": "https://www.acme-solar.example"},
                            headers=tenant.user.headers)
    assert duplicate.status_code == 409
    for bad in ({"url": "ftp://acme.example/"}, {"url": "not a url"}, {"url": "http://[::1"},
                {"url": "http://acme.example:99999/"}, {"url": "https://a.example", "maxDepth": 9},
                {"url": "https://a.example", "maxPages": 0}, {"url": "https://a.example", "depth": 1}):
        response = client.post(f"{URL}/websites", json=bad, headers=tenant.user.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR", bad
    assert client.post(f"{URL}/websites", json={"url": "https://b.example"},
                       headers=tenant.viewer.headers).status_code == 403

    queued = client.post(f"{URL}/websites/{website['id']}/crawl", headers=tenant.user.headers)
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    assert client.post(f"{URL}/websites/{website['id']}/crawl", headers=tenant.user.headers).status_code == 202
    jobs = owner_session.execute(text(
        "select args from procrastinate.procrastinate_jobs where task_name = :task and args->>'website_id' = :id"),
        {"task": service.CRAWL_TASK, "id": website["id"]}).scalars().all()
    assert jobs == [{"organization_id": str(tenant.organization_id), "website_id": website["id"]}]  # one, coalesced

    listed = client.get(f"{URL}/websites", headers=tenant.viewer.headers).json()
    assert [w["id"] for w in listed["data"]] == [website["id"]]
    assert client.get(f"{URL}/websites", headers=other_tenant.user.headers).json()["data"] == []
    assert client.get(f"{URL}/websites/{website['id']}", headers=other_tenant.user.headers).status_code == 404
    assert client.post(f"{URL}/websites/{website['id']}/crawl",
                       headers=other_tenant.user.headers).status_code == 404


def test_the_default_settings_refuse_private_addresses(client, tenant, site, settings):
    assert settings.crawler_allow_private_networks is False
    website = _website(client, tenant.user, site.url("/"))
    summary = service.crawl_website(factory=session_factory(settings.api_database_url), settings=settings,
                                    organization_id=tenant.organization_id, website_id=uuid.UUID(website["id"]))
    assert summary.status == "failed" and site.requested == []
    detail = client.get(f"{URL}/websites/{website['id']}", headers=tenant.user.headers).json()
    assert detail["status"] == "failed" and "non-public address" in detail["lastError"]
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/", "http://localhost/",
                "http://[::1]/", "file:///etc/passwd", "http://user:pw@example.com/"):
        with pytest.raises(crawler.CrawlRefused):
            crawler.check_target(url, allow_private=False)


def test_the_api_role_lands_intent_signals_only_for_its_own_organization(tenant, other_tenant, settings):
    factory = session_factory(settings.api_database_url)
    statement = text("insert into raw.intent_signals (organization_id, signal_type, account_domain, strength,"
                     " occurred_at, source) values (:org, 'news', 'acme.example', 0.5, now(), 'knowledge')")
    with pytest.raises(DBAPIError, match="row-level security"), factory() as session, session.begin():
        session.execute(text("select set_config('app.organization_id', :o, true)"),
                        {"o": str(tenant.organization_id)})
        session.execute(statement, {"org": other_tenant.organization_id})
    with factory() as session, session.begin():  # its own organization's row goes in
        session.execute(text("select set_config('app.organization_id', :o, true)"),
                        {"o": str(tenant.organization_id)})
        session.execute(statement, {"org": tenant.organization_id})


def test_registrable_domains_and_html_cleaning():
    assert crawler.registrable_domain("www.acme.co.uk") == crawler.registrable_domain("blog.acme.co.uk")
    assert crawler.registrable_domain("acme.co.uk") != crawler.registrable_domain("other.co.uk")
    assert crawler.same_site("https://shop.acme.com/x", "acme.com")
    assert not crawler.same_site("https://acme.com.evil.example/", "acme.com")
    parsed = crawler.parse_html(
        "<html><head><meta name='robots' content='noindex'><title> A  page </title></head><body><p>One <b>bold"
        "</b> word.</p><p>Two.</p><script>x()</script><nav><a href='next#frag'>n</a></nav></body></html>", "https://a.com/d/")
    assert parsed.title == "A page" and parsed.text == "One bold word.\nTwo." and parsed.noindex
    assert crawler.normalise(parsed.links[0]) == "https://a.com/d/next"
    assert crawler.normalise("HTTP://Example.COM:80") == "http://example.com/"
    assert crawler.normalise("http://[::1]:8080/x#f") == "http://[::1]:8080/x"
    assert [crawler.normalise(u) for u in ("http://[::1", "http://a:99999/", "mailto:a@b.c", "http://a b/")] == [
        None] * 4


def test_size_cap_in_site_redirects_noindex_and_the_page_cap(site):
    html = "text/html"
    site.pages["/"] = (200, html, page("Acme", "Welcome to our website and our story.", (
        "<a href='/huge'>Huge</a> <a href='/moved'>Moved</a> <a href='/hidden'>Hidden</a>")), {})
    site.pages["/huge"] = (200, html, page("Huge", "pump " * 5000), {})
    site.pages["/moved"] = (301, html, b"", {"Location": "/about"})
    site.pages["/hidden"] = (200, html, page("Hidden", "Not for indexes. <meta name='robots' content='noindex'>"),
                             {})
    site.pages["/robots.txt"] = (200, "text/plain", b"User-agent: *\nAllow: /\n", {})
    limits = crawler.Limits(max_depth=1, max_pages=10, max_bytes=5_000, allow_private=True)
    result = crawler.crawl(site.url("/"), limits)
    assert {p.url for p in result.pages} == {site.url("/"), site.url("/about")}  # /moved arrived at /about
    assert result.skipped[site.url("/huge")] == "too_large" and result.skipped[site.url("/hidden")] == "noindex"
    assert result.sitemap_urls == 0  # no sitemap named and /sitemap.xml is a 404

    capped = crawler.crawl(site.url("/"), crawler.Limits(max_depth=1, max_pages=1, allow_private=True))
    assert [p.url for p in capped.pages] == [site.url("/")]
    assert "page_cap" in capped.skipped.values()


def test_the_worker_job_crawls_through_the_queue_runtime(client, tenant, site, crawl_settings):
    from serving.core import queue
    from serving.knowledge import jobs

    website = _website(client, tenant.user, site.url("/"), maxDepth=0, maxPages=5)
    queue.configure(crawl_settings)  # what the worker does at start
    try:
        summary = jobs.crawl_website(organization_id=str(tenant.organization_id), website_id=website["id"])
    finally:
        queue._runtime = None  # the next test's runtime comes from its own settings
    assert summary["status"] == "done" and summary["pages"] == 1
    # depth 0: the start page alone (sitemap pages count as one link away)
    assert set(_stored(tenant, website["id"])) == {site.url("/")}
