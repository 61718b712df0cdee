"""Field mapping between local prospects/accounts/deals and HubSpot or Salesforce objects: the defaults, the
per-integration overrides (validated), value conversion both ways and the hash that says whether a side changed."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving.accounts.schemas import normalize_domain
from serving.deals.models import DealStage
from serving.integrations.crm_sync.models import LocalEntity

Provider = Literal["hubspot", "salesforce"]
ConflictRule = Literal["remote_wins", "local_wins", "latest_wins"]

# The local fields a mapping may name, with how their values are compared and converted.
LOCAL_FIELDS: dict[LocalEntity, dict[str, str]] = {
    LocalEntity.prospect: {"email": "email", "first_name": "text", "last_name": "text", "title": "text",
                           "phone": "text", "company": "text", "city": "text", "country": "text"},
    LocalEntity.account: {"name": "text", "domain": "domain", "industry": "text", "employee_count": "int",
                          "phone": "text", "city": "text", "country": "text"},
    LocalEntity.deal: {"name": "text", "amount": "decimal", "close_date": "date", "stage": "stage",
                       "currency": "text"},
}

# remote object → (local entity, local field → remote field); the order is the sync order (accounts first, so a
# contact's company exists by the time the contact arrives).
DEFAULT_OBJECTS: dict[Provider, dict[str, tuple[LocalEntity, dict[str, str]]]] = {
    "hubspot": {
        "companies": (LocalEntity.account, {"name": "name", "domain": "domain", "industry": "industry",
                                            "employee_count": "numberofemployees"}),
        "contacts": (LocalEntity.prospect, {"email": "email", "first_name": "firstname", "last_name": "lastname",
                                            "title": "jobtitle", "phone": "phone", "company": "company"}),
        "deals": (LocalEntity.deal, {"name": "dealname", "amount": "amount", "close_date": "closedate",
                                     "stage": "dealstage"}),
    },
    "salesforce": {
        "Account": (LocalEntity.account, {"name": "Name", "domain": "Website", "industry": "Industry",
                                          "employee_count": "NumberOfEmployees"}),
        "Contact": (LocalEntity.prospect, {"email": "Email", "first_name": "FirstName", "last_name": "LastName",
                                           "title": "Title", "phone": "Phone"}),
        "Opportunity": (LocalEntity.deal, {"name": "Name", "amount": "Amount", "close_date": "CloseDate",
                                           "stage": "StageName"}),
    },
}

# HubSpot's contact → primary company property; Salesforce's lookup fields. HubSpot deals reach companies only
# through the associations API, which this sync does not read yet.
ACCOUNT_REFS: dict[str, str] = {"contacts": "associatedcompanyid", "Contact": "AccountId", "Opportunity": "AccountId"}

# remote stage → local stage; pushing uses the first remote stage listed for a local one.
DEFAULT_STAGES: dict[Provider, dict[str, str]] = {
    "hubspot": {"appointmentscheduled": "discovery", "qualifiedtobuy": "qualification",
                "presentationscheduled": "proposal", "decisionmakerboughtin": "proposal",
                "contractsent": "negotiation", "closedwon": "closed_won", "closedlost": "closed_lost"},
    "salesforce": {"Prospecting": "discovery", "Qualification": "qualification", "Needs Analysis": "qualification",
                   "Proposal/Price Quote": "proposal", "Negotiation/Review": "negotiation",
                   "Closed Won": "closed_won", "Closed Lost": "closed_lost"},
}

# Remote field names end up in SOQL and URLs: API names only, never free text.
REMOTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


class CrmSyncConfig(BaseModel):
    """The `crm` part of an installed integration's config JSON. Omitted parts keep the defaults."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    conflict_rule: ConflictRule = Field(default="latest_wins", alias="conflictRule")
    # remote object → {local field: remote field}; replaces that object's default field list
    objects: dict[str, dict[str, str]] = Field(default_factory=dict, max_length=3)
    # remote stage → local stage; merged over the defaults
    stage_map: dict[str, DealStage] = Field(default_factory=dict, alias="stageMap", max_length=100)

    @field_validator("stage_map")
    @classmethod
    def _stage_names(cls, value: dict[str, DealStage]) -> dict[str, DealStage]:
        for remote in value:
            if not 0 < len(remote) <= 100:
                raise ValueError("stage names are 1–100 characters")
        return value


class ObjectMapping(BaseModel):
    remote_object: str
    entity: LocalEntity
    fields: dict[str, str]  # local → remote
    # the remote field holding the record's company/account id, synced as the local `account_id` through the
    # account links (None: the object has none, or it lives in an association this sync does not read)
    account_ref: str | None = None


class Mapping(BaseModel):
    provider: Provider
    conflict_rule: ConflictRule
    objects: list[ObjectMapping]
    stages: dict[str, str]  # remote → local

    def local_stage(self, remote: str) -> str:
        if remote not in self.stages:
            raise ValueError(f"deal stage {remote!r} is not in the stage map")
        return self.stages[remote]

    def remote_stage(self, local: str) -> str:
        for remote, mapped in self.stages.items():
            if mapped == local:
                return remote
        raise ValueError(f"no remote stage maps to {local!r}")


def resolve(provider: Provider, config: dict[str, Any] | None) -> Mapping:
    """The mapping an integration syncs with: the defaults with its overrides. Raises ValueError on a bad config."""
    parsed = CrmSyncConfig.model_validate(config or {})
    defaults = DEFAULT_OBJECTS[provider]
    objects = []
    for remote_object, (entity, fields) in defaults.items():
        override = parsed.objects.get(remote_object)
        if override is not None:
            _check_fields(provider, remote_object, entity, override)
            fields = override
        objects.append(ObjectMapping(remote_object=remote_object, entity=entity, fields=fields,
                                     account_ref=ACCOUNT_REFS.get(remote_object)))
    unknown = set(parsed.objects) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {provider} objects: {sorted(unknown)}; known: {sorted(defaults)}")
    stages = {**DEFAULT_STAGES[provider], **{k: v.value for k, v in parsed.stage_map.items()}}
    return Mapping(provider=provider, conflict_rule=parsed.conflict_rule, objects=objects, stages=stages)


def _check_fields(provider: str, remote_object: str, entity: LocalEntity, fields: dict[str, str]) -> None:
    allowed = LOCAL_FIELDS[entity]
    for local, remote in fields.items():
        if local not in allowed:
            raise ValueError(f"{provider} {remote_object}: {local!r} is not a mappable {entity} field "
                             f"({', '.join(allowed)})")
        if not isinstance(remote, str) or not REMOTE_NAME.fullmatch(remote):
            raise ValueError(f"{provider} {remote_object}: {remote!r} is not an API field name")
    natural_key = {"prospect": "email", "account": "name", "deal": "name"}[entity]
    if natural_key not in fields:
        raise ValueError(f"{provider} {remote_object}: the mapping must include {natural_key!r}")



def to_local(kind: str, raw: Any, mapping: Mapping) -> Any:
    """A remote value as the local field holds it (None for empty). Raises ValueError when it cannot be one."""
    if raw is None or raw == "":
        return None
    if kind == "email":
        return str(raw).strip().lower()
    if kind == "domain":
        return normalize_domain(str(raw))
    if kind == "int":
        return int(Decimal(str(raw)))
    if kind == "decimal":
        try:
            return Decimal(str(raw)).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise ValueError(f"not a number: {raw!r}") from None
    if kind == "date":
        # HubSpot sends an ISO timestamp (or epoch milliseconds), Salesforce an ISO date.
        text = str(raw)
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000).date()
        return date.fromisoformat(text[:10])
    if kind == "stage":
        return mapping.local_stage(str(raw))
    return str(raw)


def to_remote(kind: str, value: Any, mapping: Mapping) -> Any:
    if value is None:
        return None
    if kind == "stage":
        return mapping.remote_stage(str(value))
    if kind == "decimal":
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def local_values(entity: Any, om: ObjectMapping) -> dict[str, Any]:
    """The mapped fields of a local record, normalised as `remote_values` normalises the remote side."""
    kinds = LOCAL_FIELDS[om.entity]
    values = {}
    for local in om.fields:
        value = getattr(entity, local)
        if kinds[local] == "decimal" and value is not None:
            value = Decimal(value).quantize(Decimal("0.01"))
        values[local] = value.value if hasattr(value, "value") else value
    return values


def remote_values(properties: dict[str, Any], om: ObjectMapping, mapping: Mapping) -> dict[str, Any]:
    kinds = LOCAL_FIELDS[om.entity]
    return {local: to_local(kinds[local], properties.get(remote), mapping) for local, remote in om.fields.items()}


def outgoing(values: dict[str, Any], om: ObjectMapping, mapping: Mapping) -> dict[str, Any]:
    """Local values as remote properties; empty ones are left out (the sync does not clear remote fields)."""
    kinds = LOCAL_FIELDS[om.entity]
    return {om.fields[local]: to_remote(kinds[local], value, mapping)
            for local, value in values.items() if value is not None}


def fingerprint(values: dict[str, Any]) -> str:
    """Equal for the same mapped values whichever side they were read from."""
    plain = {key: None if value is None else str(value) for key, value in values.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()
