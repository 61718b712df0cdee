"""Vendor response bodies → the common field shape the waterfall merges.

Each mapper takes the JSON body of the vendor's documented endpoint and returns a `ProviderAnswer`
whose keys are `waterfall.FIELDS`; missing keys are simply absent. Confidence: vendors that score
their match (PDL `likelihood` 1-10, Hunter `score` 0-100) are scaled to 0-1; the rest count as 1.0.
"""
from __future__ import annotations

from typing import Any

from serving.enrichment.waterfall import ProviderAnswer


def _drop_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in (None, "", [])}


def from_clearbit(body: dict[str, Any]) -> ProviderAnswer:
    """`GET /v2/combined/find?email=` → {"person": {...}, "company": {...}}."""
    person, company = body.get("person") or {}, body.get("company") or {}
    employment = person.get("employment") or {}
    linkedin = (person.get("linkedin") or {}).get("handle")
    twitter = (person.get("twitter") or {}).get("handle")
    metrics = company.get("metrics") or {}
    return ProviderAnswer("clearbit", _drop_empty({
        "email": person.get("email"), "title": employment.get("title"),
        "seniority": employment.get("seniority"),
        "company_name": company.get("name") or employment.get("name"),
        "company_domain": company.get("domain") or employment.get("domain"),
        "industry": (company.get("category") or {}).get("industry"),
        "employee_count": metrics.get("employees"), "revenue": metrics.get("estimatedAnnualRevenue"),
        "technologies": company.get("tech") or [],
        "linkedin_url": f"https://www.linkedin.com/{linkedin}" if linkedin else None,
        "twitter_url": f"https://twitter.com/{twitter}" if twitter else None,
        "location": person.get("location"),
    }))


def from_apollo(body: dict[str, Any]) -> ProviderAnswer:
    """`POST /api/v1/people/match` → {"person": {..., "organization": {...}}}."""
    person = body.get("person") or {}
    org = person.get("organization") or {}
    phones = person.get("phone_numbers") or []
    location = ", ".join(p for p in (person.get("city"), person.get("state"), person.get("country")) if p)
    return ProviderAnswer("apollo", _drop_empty({
        "email": person.get("email"), "title": person.get("title"), "seniority": person.get("seniority"),
        "phone": (phones[0] or {}).get("sanitized_number") if phones else None,
        "company_name": org.get("name"), "company_domain": org.get("primary_domain"),
        "industry": org.get("industry"), "employee_count": org.get("estimated_num_employees"),
        "revenue": org.get("annual_revenue"), "technologies": org.get("technology_names") or [],
        "linkedin_url": person.get("linkedin_url"), "twitter_url": person.get("twitter_url"),
        "location": location or None,
    }))


def from_pdl(body: dict[str, Any]) -> ProviderAnswer:
    """`GET /v5/person/enrich` → {"status": 200, "likelihood": 1-10, "data": {...}}."""
    data = body.get("data") or {}
    levels = data.get("job_title_levels") or []
    return ProviderAnswer("pdl", _drop_empty({
        "email": data.get("work_email"), "phone": data.get("mobile_phone"), "title": data.get("job_title"),
        "seniority": levels[0] if levels else None, "company_name": data.get("job_company_name"),
        "company_domain": data.get("job_company_website"), "industry": data.get("job_company_industry"),
        "employee_count": data.get("job_company_size"), "linkedin_url": data.get("linkedin_url"),
        "twitter_url": data.get("twitter_url"), "location": data.get("location_name"),
    }), confidence=min(max(float(body.get("likelihood") or 0), 0.0), 10.0) / 10)


def from_hunter(body: dict[str, Any]) -> ProviderAnswer:
    """`GET /v2/email-finder` → {"data": {"email", "score", "position", ...}}."""
    data = body.get("data") or {}
    return ProviderAnswer("hunter", _drop_empty({
        "email": data.get("email"), "title": data.get("position"), "company_name": data.get("company"),
        "company_domain": data.get("domain"), "phone": data.get("phone_number"),
        "linkedin_url": data.get("linkedin_url"),
        "twitter_url": f"https://twitter.com/{data['twitter']}" if data.get("twitter") else None,
    }), confidence=min(max(float(data.get("score") or 0), 0.0), 100.0) / 100)


ZOOMINFO_OUTPUT_FIELDS = (
    "email", "phone", "mobilePhone", "jobTitle", "managementLevel", "companyName", "companyWebsite",
    "companyIndustry", "companyEmployeeCount", "companyRevenueNumeric", "externalUrls", "city", "state", "country",
    "contactAccuracyScore",
)


def from_zoominfo(body: dict[str, Any]) -> ProviderAnswer:
    """`POST /enrich/contact` → {"success": true, "data": {"result": [{"data": [{...}], "matchStatus"}]}}.
    `contactAccuracyScore` (70-99) becomes confidence; the first matched contact is used."""
    results = (body.get("data") or {}).get("result") or []
    contacts = (results[0].get("data") or []) if results else []
    person = contacts[0] if contacts else {}
    urls = {(u.get("type") or "").lower(): u.get("url")
            for u in person.get("externalUrls") or [] if isinstance(u, dict)}
    levels = person.get("managementLevel") or []
    location = ", ".join(p for p in (person.get("city"), person.get("state"), person.get("country")) if p)
    website = str(person.get("companyWebsite") or "").removeprefix("https://").removeprefix("http://").strip("/")
    score = person.get("contactAccuracyScore")
    return ProviderAnswer("zoominfo", _drop_empty({
        "email": person.get("email"), "phone": person.get("mobilePhone") or person.get("phone"),
        "title": person.get("jobTitle"), "seniority": levels[0] if isinstance(levels, list) and levels else levels,
        "company_name": person.get("companyName"), "company_domain": website or None,
        "industry": person.get("companyIndustry"), "employee_count": person.get("companyEmployeeCount"),
        "revenue": person.get("companyRevenueNumeric"), "linkedin_url": urls.get("linkedin.com"),
        "twitter_url": urls.get("twitter.com"), "location": location or None,
    }), confidence=min(max(float(score), 0.0), 100.0) / 100 if score is not None else 1.0)
