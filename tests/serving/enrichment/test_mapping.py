from datetime import UTC, datetime

from serving.enrichment.mapping import from_apollo, from_clearbit, from_hunter, from_pdl
from serving.enrichment.waterfall import merge

# Trimmed from each vendor's documented response examples (Clearbit Combined API, Apollo People Match,
# People Data Labs Person Enrich, Hunter Email Finder).
CLEARBIT = {"person": {"email": "alex@clearbit.com", "location": "San Francisco, CA, US",
                       "employment": {"domain": "clearbit.com", "name": "Clearbit", "title": "Head of Mobile",
                                      "seniority": "executive"},
                       "linkedin": {"handle": "in/alex-maccaw"}, "twitter": {"handle": "maccaw"}},
            "company": {"name": "Clearbit", "domain": "clearbit.com", "category": {"industry": "Internet"},
                        "metrics": {"employees": 150, "estimatedAnnualRevenue": "$10M-$50M"},
                        "tech": ["google_apps", "stripe"]}}
APOLLO = {"person": {"email": "alex@clearbit.com", "title": "Founder", "seniority": "founder",
                     "city": "San Francisco", "state": "California", "country": "United States",
                     "phone_numbers": [{"sanitized_number": "+14155550132"}],
                     "organization": {"name": "Clearbit", "primary_domain": "clearbit.com"}}}
PDL = {"status": 200, "likelihood": 6, "data": {"job_title": "ceo", "job_title_levels": ["cxo"],
                                                "mobile_phone": "+14155550199"}}
HUNTER = {"data": {"email": "alex@clearbit.com", "score": 97, "position": "CEO", "twitter": "maccaw"}}


def test_each_vendor_maps_to_the_common_shape():
    clearbit = from_clearbit(CLEARBIT)
    assert clearbit.fields["title"] == "Head of Mobile"
    assert clearbit.fields["linkedin_url"] == "https://www.linkedin.com/in/alex-maccaw"
    assert clearbit.fields["technologies"] == ["google_apps", "stripe"]
    assert "phone" not in clearbit.fields
    apollo = from_apollo(APOLLO)
    assert apollo.fields["phone"] == "+14155550132"
    assert apollo.fields["location"] == "San Francisco, California, United States"
    pdl = from_pdl(PDL)
    assert pdl.confidence == 0.6 and pdl.fields["seniority"] == "cxo"
    hunter = from_hunter(HUNTER)
    assert hunter.confidence == 0.97 and hunter.fields["twitter_url"] == "https://twitter.com/maccaw"


def test_disagreeing_vendors_merge_by_priority():
    data = merge([from_apollo(APOLLO), from_clearbit(CLEARBIT), from_pdl(PDL)],
                 priority=["clearbit", "apollo", "pdl"], now=datetime(2026, 1, 5, tzinfo=UTC))
    assert (data["title"]["value"], data["title"]["source"]) == ("Head of Mobile", "clearbit")
    assert (data["phone"]["value"], data["phone"]["source"]) == ("+14155550132", "apollo")
