"""What is searchable: one Typesense collection per entity, its fields, weights and facets, and the SQL that
builds its documents from the database.

Every collection is shared by all organizations and read through an alias (`<prefix>_<entity>`), so a full
reindex builds a new collection and swaps the alias with no downtime. Every document carries `organization_id`
and `tenant`, the organization's number (`organizations.search_tenant`); searches only ever run with a scoped key
whose embedded filter pins the number (`serving.search.engine`: a numeric filter costs Typesense a lookup, the
string id's exact filter a pass over every document of the organization).

Documents are built in SQL (`jsonb_build_object`), one row per document, for the incremental sync (a list of
ids, under the organization's row-level security) and the full reindex (every row, streamed) alike.

Weights: what a rep types is a person's or company's name, an e-mail or a domain; those fields weigh most,
titles and places less, free text (descriptions, e-mail bodies) least.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# split e-mail addresses, domains and hyphenated names into tokens: "jane.doe@acme.io" matches "acme"
TOKEN_SEPARATORS = ["@", ".", "-", "_", "+", "/"]


def _epoch(column: str) -> str:
    return f"(extract(epoch from {column}))::bigint"


@dataclass(frozen=True)
class Entity:
    name: str  # the collection's entity and the response group: prospects, accounts, deals, emails
    type: str  # one result's `type`: prospect, account, deal, email
    scope: str  # the API scope a principal needs to see it
    fields: list[dict]
    query_by: list[tuple[str, int]]  # (field, weight)
    facets: list[str]
    default_sort: str
    # SELECT … FROM … producing `organization_id` and `doc jsonb` (with `tenant` from the joined `org`);
    # `{where}` is filled by the caller
    select_sql: str
    # the table its records live in, and their id column in `select_sql` (the sync's `id = any(:ids)`)
    table: str = ""
    id_column: str = "id"
    # the name shown for a result (and by suggestions)
    title_field: str = "name"
    # facets that are dates (epoch seconds): the API filters them by ranges
    # what a viewer may see of the entity, when less than everything (support articles: published ones)
    viewer_filter: str | None = None
    date_fields: list[str] = field(default_factory=list)
    numeric_fields: list[str] = field(default_factory=list)

    @property
    def schema_fields(self) -> list[dict]:
        return [
            {"name": "organization_id", "type": "string", "facet": True},
            {"name": "tenant", "type": "int64"},
            {"name": "type", "type": "string", "facet": True},
            *self.fields,
        ]

    def schema(self, collection: str) -> dict:
        return {"name": collection, "fields": self.schema_fields, "token_separators": TOKEN_SEPARATORS,
                "default_sorting_field": "updated_at"}

    @property
    def query_by_param(self) -> str:
        return ",".join(name for name, _ in self.query_by)

    @property
    def weights_param(self) -> str:
        return ",".join(str(weight) for _, weight in self.query_by)

    def documents_sql(self, where: str) -> str:
        return self.select_sql.format(where=where)

    @property
    def by_ids_sql(self) -> str:
        return self.documents_sql(f"{self.id_column} = any(:ids)")


def _s(name: str, *, facet: bool = False, optional: bool = True) -> dict:
    return {"name": name, "type": "string", "facet": facet, "optional": optional}


def _n(name: str, kind: str = "int64", *, facet: bool = False, optional: bool = True) -> dict:
    return {"name": name, "type": kind, "facet": facet, "optional": optional, "sort": True}


_TIMESTAMPS = [_n("created_at", optional=False), _n("updated_at", optional=False)]

PROSPECTS = Entity(
    table="app.prospects",
    id_column="p.id",
    name="prospects", type="prospect", scope="prospects:read",
    fields=[
        _s("name"), _s("email", optional=False), _s("email_domain", facet=True), _s("company"), _s("title"),
        _s("phone"), _s("city"), _s("country", facet=True), _s("status", facet=True, optional=False),
        _s("intent_tier", facet=True), _s("owner_id", facet=True), _s("account_id"), _s("account_name"),
        _s("industry", facet=True), _s("seniority", facet=True),
        _n("priority_score", "int32"), _n("intent_score", "int32"), _n("last_contacted_at"), *_TIMESTAMPS,
    ],
    query_by=[("name", 10), ("email", 10), ("company", 8), ("account_name", 6), ("title", 4), ("city", 2),
              ("country", 1)],
    facets=["status", "intent_tier", "owner_id", "industry", "country", "seniority", "email_domain"],
    default_sort="_text_match:desc,priority_score:desc",
    date_fields=["created_at", "updated_at", "last_contacted_at"],
    numeric_fields=["priority_score", "intent_score"],
    select_sql="""
select p.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', p.id::text, 'organization_id', p.organization_id::text, 'tenant', org.search_tenant,
  'type', 'prospect',
  'name', nullif(concat_ws(' ', p.first_name, p.last_name), ''), 'email', p.email,
  'email_domain', lower(split_part(p.email, '@', 2)), 'company', coalesce(p.company, a.name), 'title', p.title,
  'phone', p.phone, 'city', p.city, 'country', p.country, 'status', p.status, 'intent_tier', p.intent_tier,
  'owner_id', p.owner_id::text, 'account_id', p.account_id::text, 'account_name', a.name,
  'industry', a.industry, 'seniority', p.seniority, 'priority_score', p.priority_score,
  'intent_score', p.intent_score, 'last_contacted_at', """ + _epoch("p.last_contacted_at") + """,
  'created_at', """ + _epoch("p.created_at") + """, 'updated_at', """ + _epoch("p.updated_at") + """
)) as doc
from app.prospects p join app.organizations org on org.id = p.organization_id
  left join app.accounts a on a.id = p.account_id
where {where}""",
)

ACCOUNTS = Entity(
    table="app.accounts",
    id_column="a.id",
    name="accounts", type="account", scope="accounts:read",
    fields=[
        _s("name", optional=False), _s("domain"), _s("website"), _s("industry", facet=True),
        _s("country", facet=True), _s("city"), _s("description"), _s("owner_id", facet=True),
        _s("intent_tier", facet=True), _s("parent_account_id"),
        _n("employee_count"), _n("annual_revenue", "float"), _n("health_score", "int32"),
        _n("intent_score", "int32"), *_TIMESTAMPS,
    ],
    query_by=[("name", 10), ("domain", 10), ("website", 6), ("industry", 3), ("city", 2), ("description", 1)],
    facets=["industry", "country", "owner_id", "intent_tier"],
    default_sort="_text_match:desc,intent_score:desc",
    date_fields=["created_at", "updated_at"],
    numeric_fields=["employee_count", "annual_revenue", "health_score", "intent_score"],
    select_sql="""
select a.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', a.id::text, 'organization_id', a.organization_id::text, 'tenant', org.search_tenant,
  'type', 'account', 'name', a.name,
  'domain', lower(a.domain), 'website', a.website, 'industry', a.industry, 'country', a.country, 'city', a.city,
  'description', left(a.description, 2000), 'owner_id', a.owner_id::text, 'intent_tier', a.intent_tier,
  'parent_account_id', a.parent_account_id::text, 'employee_count', a.employee_count,
  'annual_revenue', a.annual_revenue::float8, 'health_score', a.health_score, 'intent_score', a.intent_score,
  'created_at', """ + _epoch("a.created_at") + """, 'updated_at', """ + _epoch("a.updated_at") + """
)) as doc
from app.accounts a join app.organizations org on org.id = a.organization_id
where {where}""",
)

DEALS = Entity(
    table="app.deals",
    id_column="d.id",
    name="deals", type="deal", scope="deals:read",
    fields=[
        _s("name", optional=False), _s("account_id"), _s("account_name"), _s("stage", facet=True, optional=False),
        _s("forecast_category", facet=True), _s("owner_id", facet=True), _s("currency", facet=True),
        _s("industry", facet=True), _s("source", facet=True),
        _n("amount", "float"), _n("probability", "int32"), _n("close_date"), _n("closed_at"), *_TIMESTAMPS,
    ],
    query_by=[("name", 10), ("account_name", 8), ("source", 1)],
    facets=["stage", "forecast_category", "owner_id", "industry", "currency", "source"],
    default_sort="_text_match:desc,amount:desc",
    date_fields=["close_date", "closed_at", "created_at", "updated_at"],
    numeric_fields=["amount", "probability"],
    select_sql="""
select d.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', d.id::text, 'organization_id', d.organization_id::text, 'tenant', org.search_tenant,
  'type', 'deal', 'name', d.name,
  'account_id', d.account_id::text, 'account_name', a.name, 'stage', d.stage,
  'forecast_category', d.forecast_category, 'owner_id', d.owner_id::text, 'currency', d.currency,
  'industry', a.industry, 'source', d.source, 'amount', d.amount::float8, 'probability', d.probability,
  'close_date', """ + _epoch("d.close_date::timestamp at time zone 'UTC'") + """,
  'closed_at', """ + _epoch("d.closed_at") + """,
  'created_at', """ + _epoch("d.created_at") + """, 'updated_at', """ + _epoch("d.updated_at") + """
)) as doc
from app.deals d join app.organizations org on org.id = d.organization_id
  left join app.accounts a on a.id = d.account_id
where {where}""",
)

EMAILS = Entity(
    table="app.emails",
    id_column="e.id",
    name="emails", type="email", scope="prospects:read",  # as GET /emails
    fields=[
        _s("name", optional=False), _s("to_addresses", facet=False) | {"type": "string[]"},
        _s("from_email", facet=True), _s("body"), _s("status", facet=True, optional=False),
        _s("prospect_id"), _s("deal_id"), _s("user_id", facet=True),
        {"name": "replied", "type": "bool", "facet": True, "optional": True},
        {"name": "opened", "type": "bool", "facet": True, "optional": True},
        _n("sent_at"), *_TIMESTAMPS,
    ],
    query_by=[("name", 8), ("to_addresses", 10), ("from_email", 4), ("body", 1)],
    facets=["status", "from_email", "user_id", "replied", "opened"],
    default_sort="_text_match:desc,updated_at:desc",
    date_fields=["sent_at", "created_at", "updated_at"],
    select_sql="""
select e.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', e.id::text, 'organization_id', e.organization_id::text, 'tenant', org.search_tenant,
  'type', 'email', 'name', e.subject,
  'to_addresses', coalesce((select jsonb_agg(lower(r->>'email')) from jsonb_array_elements(e.to) r
                            where r->>'email' is not null), '[]'::jsonb),
  'from_email', lower(e.from_email), 'status', e.status,
  'body', left(coalesce(e.text, regexp_replace(e.html, '<[^>]+>', ' ', 'g')), 2000),
  'prospect_id', e.prospect_id::text, 'deal_id', e.deal_id::text, 'user_id', e.user_id::text,
  'replied', e.replied, 'opened', e.opened, 'sent_at', """ + _epoch("e.sent_at") + """,
  'created_at', """ + _epoch("e.created_at") + """, 'updated_at', """ + _epoch("e.updated_at") + """
)) as doc
from app.emails e join app.organizations org on org.id = e.organization_id
where {where}""",
)

DOCUMENTS = Entity(
    table="app.knowledge_documents",
    id_column="k.id",
    name="documents", type="document", scope="knowledge:read",
    fields=[
        _s("name"), _s("content", optional=False), _s("url"), _s("source_type", facet=True),
        _s("company_profile_id", facet=True), _s("source_id"), {"name": "chunk_index", "type": "int32"},
        *_TIMESTAMPS,
    ],
    query_by=[("name", 6), ("content", 2), ("url", 1)],
    facets=["source_type", "company_profile_id"],
    default_sort="_text_match:desc,updated_at:desc",
    date_fields=["created_at", "updated_at"],
    select_sql="""
select k.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', k.id::text, 'organization_id', k.organization_id::text, 'tenant', org.search_tenant,
  'type', 'document', 'name', k.title,
  'content', left(k.content, 4000), 'url', k.url, 'source_type', k.metadata->>'source_type',
  'company_profile_id', k.company_profile_id::text, 'source_id', k.source_id::text, 'chunk_index', k.chunk_index,
  'created_at', """ + _epoch("k.created_at") + """, 'updated_at', """ + _epoch("k.updated_at") + """
)) as doc
from app.knowledge_documents k join app.organizations org on org.id = k.organization_id
where {where}""",
)

# Support articles (serving.kb): found by their title first, their summary next, their body last.
KB_ARTICLES = Entity(
    table="app.knowledge_base_articles",
    id_column="a.id",
    name="kb_articles", type="kb_article", scope="knowledge:read",
    viewer_filter="status:=published",
    title_field="title",
    fields=[
        _s("title", optional=False), _s("slug"), _s("excerpt"), _s("meta_description"), _s("body"),
        _s("category_id", facet=True), _s("visibility", facet=True), _s("status", facet=True), _s("author_id"),
        _n("published_at"), _n("view_count", "int32"), _n("helpful_count", "int32"), *_TIMESTAMPS,
    ],
    query_by=[("title", 8), ("excerpt", 3), ("meta_description", 2), ("body", 1)],
    facets=["category_id", "visibility", "status"],
    default_sort="_text_match:desc,updated_at:desc",
    date_fields=["published_at", "created_at", "updated_at"],
    numeric_fields=["view_count", "helpful_count"],
    select_sql="""
select a.organization_id, jsonb_strip_nulls(jsonb_build_object(
  'id', a.id::text, 'organization_id', a.organization_id::text, 'tenant', org.search_tenant,
  'type', 'kb_article', 'title', a.title,
  'slug', a.slug, 'excerpt', a.excerpt, 'meta_description', a.meta_description, 'body', left(a.body_markdown, 8000),
  'category_id', a.category_id::text, 'visibility', a.visibility, 'status', a.status, 'author_id', a.author_id::text,
  'published_at', """ + _epoch("a.published_at") + """, 'view_count', a.view_count, 'helpful_count', a.helpful_count,
  'created_at', """ + _epoch("a.created_at") + """, 'updated_at', """ + _epoch("a.updated_at") + """
)) as doc
from app.knowledge_base_articles a join app.organizations org on org.id = a.organization_id
where {where}""",
)

ENTITIES: dict[str, Entity] = {entity.name: entity for entity in (PROSPECTS, ACCOUNTS, DEALS, EMAILS, DOCUMENTS,
                                                                  KB_ARTICLES)}
