"""One two-way sync run between an organization's records and its HubSpot or Salesforce: pull what changed
remotely, push what changed locally, settle conflicts by the integration's rule, and never echo a change back.

Conflict rule (per integration, `conflictRule` in its config): a record changed on both sides since they last
agreed is settled by `remote_wins`, `local_wins`, or `latest_wins` (the default: the later modification time
wins; a tie goes to the remote, the system of record a team connected). A side "changed" when the hash of its
mapped fields differs from the one stored on the link after the last sync, so the sync's own writes (which store
that hash) are never taken for edits and pushed or pulled back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.accounts import service as accounts
from serving.accounts.schemas import AccountCreate, AccountUpdate
from serving.core.errors import AppError, NotFound
from serving.core.principal import Principal
from serving.deals import service as deals
from serving.deals.schemas import DealCreate, DealUpdate
from serving.integrations.crm_sync.clients import CrmError, RemoteCrm, RemoteRecord
from serving.integrations.crm_sync.mapping import (
    Mapping,
    ObjectMapping,
    fingerprint,
    local_values,
    outgoing,
    remote_values,
)
from serving.integrations.crm_sync.models import CrmSyncLink, LocalEntity
from serving.prospects import service as prospects
from serving.prospects.schemas import ProspectCreate, ProspectUpdate

# The local cursor trails the run's start: a user's edit whose transaction began before it but committed after
# still has an earlier updated_at. Re-reading the overlap costs a hash comparison per record, nothing more.
LOCAL_OVERLAP = timedelta(minutes=10)
PUSH_BATCH = 1000  # local records pushed per object and run; the cursor resumes after the last one
MAX_FAILURES_KEPT = 200  # in the sync log; the count covers them all

# What a record failure can be: the remote refused it, its values are not valid here, or a service said no.
RECORD_ERRORS = (CrmError, ValueError, AppError)


@dataclass
class SyncOutcome:
    pulled_created: int = 0
    pulled_updated: int = 0
    pushed_created: int = 0
    pushed_updated: int = 0
    conflicts: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)

    def fail(self, **detail: Any) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(detail)

    def as_dict(self) -> dict[str, Any]:
        return {"pulledCreated": self.pulled_created, "pulledUpdated": self.pulled_updated,
                "pushedCreated": self.pushed_created, "pushedUpdated": self.pushed_updated,
                "conflicts": self.conflicts, "failed": self.failed, "failures": self.failures}


@dataclass
class SyncRun:
    db_session: Session
    principal: Principal
    integration_id: uuid.UUID
    remote: RemoteCrm
    mapping: Mapping


def sync(*, db_session: Session, principal: Principal, integration_id: uuid.UUID, remote: RemoteCrm,
         mapping: Mapping, cursor: dict[str, str] | None, now: datetime) -> SyncOutcome:
    """Pull then push every mapped object. `cursor` is the previous outcome's (None: everything); the caller
    stores `outcome.cursor` for the next run and commits. Record failures are in the outcome, not raised."""
    run = SyncRun(db_session, principal, integration_id, remote, mapping)
    outcome = SyncOutcome()
    cursor = cursor or {}
    for om in mapping.objects:
        remote_since = _time(cursor.get(f"remote:{om.remote_object}"))
        local_since = _time(cursor.get(f"local:{om.entity}"))
        try:
            pulled = _pull(run, om, remote_since, outcome)
        except CrmError as error:
            # The listing itself failed (an outage, a revoked scope): this object's cursors stay where they were
            # and its push waits too, so nothing local overwrites a remote edit that was not read.
            outcome.fail(direction="pull", object=om.remote_object, error=str(error)[:500])
            for side, since in (("remote", om.remote_object), ("local", om.entity)):
                if cursor.get(f"{side}:{since}"):
                    outcome.cursor[f"{side}:{since}"] = cursor[f"{side}:{since}"]
            continue
        if pulled is not None:  # nothing seen yet: the next run reads everything again (cheap when empty)
            outcome.cursor[f"remote:{om.remote_object}"] = pulled.isoformat()
        outcome.cursor[f"local:{om.entity}"] = _push(run, om, local_since, now, outcome).isoformat()
    return outcome


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- local records through their domains' services ----------------------------------------------------------

def _get(run: SyncRun, entity: str, local_id: uuid.UUID) -> Any:
    if entity == LocalEntity.prospect:
        return prospects.get(db_session=run.db_session, prospect_id=local_id)
    if entity == LocalEntity.account:
        return accounts.get(db_session=run.db_session, account_id=local_id)
    return deals.get(db_session=run.db_session, deal_id=local_id)


def _match(run: SyncRun, entity: str, values: dict[str, Any]) -> Any:
    """An unlinked local record that is clearly the same one (e-mail, domain), so a first sync does not duplicate."""
    if entity == LocalEntity.prospect and values.get("email"):
        return prospects.get_by_email(db_session=run.db_session, email=values["email"])
    if entity == LocalEntity.account and values.get("domain"):
        return accounts.get_by_domain(db_session=run.db_session, domain=values["domain"])
    return None


def _create(run: SyncRun, entity: str, values: dict[str, Any]) -> Any:
    sent = {k: v for k, v in values.items() if v is not None}
    if entity == LocalEntity.prospect:
        return prospects.create(db_session=run.db_session, principal=run.principal, data=ProspectCreate(**sent))
    if entity == LocalEntity.account:
        return accounts.create(db_session=run.db_session, principal=run.principal, data=AccountCreate(**sent))
    return deals.create(db_session=run.db_session, principal=run.principal, data=DealCreate(**sent))


def _update(run: SyncRun, entity: str, record: Any, values: dict[str, Any], current: dict[str, Any]) -> None:
    # Only what differs is sent, so the domain's change events name the fields the remote edit touched.
    sent = {k: v for k, v in values.items() if v != current.get(k) and not (v is None and k in ("name", "amount"))}
    if not sent:
        return
    if entity == LocalEntity.prospect:
        prospects.update(db_session=run.db_session, prospect=record, data=ProspectUpdate(**sent),
                         principal=run.principal)
    elif entity == LocalEntity.account:
        accounts.update(db_session=run.db_session, account=record, data=AccountUpdate(**sent))
    else:
        deals.update(db_session=run.db_session, principal=run.principal, deal=record, data=DealUpdate(**sent))


def _changed_since(run: SyncRun, entity: str, since: datetime | None) -> list[Any]:
    module = {LocalEntity.prospect: prospects, LocalEntity.account: accounts, LocalEntity.deal: deals}[
        LocalEntity(entity)]
    return module.changed_since(db_session=run.db_session, since=since, limit=PUSH_BATCH)


# --- links ---------------------------------------------------------------------------------------------------

def _link_by_remote(run: SyncRun, om: ObjectMapping, remote_id: str) -> CrmSyncLink | None:
    return run.db_session.scalar(select(CrmSyncLink).where(
        CrmSyncLink.integration_id == run.integration_id, CrmSyncLink.remote_object == om.remote_object,
        CrmSyncLink.remote_id == remote_id))


def _link_by_local(run: SyncRun, entity: str, local_id: uuid.UUID) -> CrmSyncLink | None:
    return run.db_session.scalar(select(CrmSyncLink).where(
        CrmSyncLink.integration_id == run.integration_id, CrmSyncLink.entity_type == entity,
        CrmSyncLink.local_id == local_id))


def _save_link(run: SyncRun, om: ObjectMapping, link: CrmSyncLink | None, *, local: Any, remote_id: str,
               digest: str, remote_modified_at: datetime | None) -> CrmSyncLink:
    if link is None:
        link = CrmSyncLink(organization_id=run.principal.organization_id, integration_id=run.integration_id,
                           entity_type=om.entity.value, local_id=local.id, remote_object=om.remote_object,
                           remote_id=remote_id, synced_hash=digest)
        run.db_session.add(link)
    link.local_id = local.id
    link.remote_id = remote_id
    link.synced_hash = digest
    link.local_modified_at = local.updated_at
    if remote_modified_at is not None:
        link.remote_modified_at = remote_modified_at
    run.db_session.flush()
    return link


def _local_values(local: Any, om: ObjectMapping) -> dict[str, Any]:
    values = local_values(local, om)
    if om.account_ref:
        values["account_id"] = local.account_id
    return values


def _linked_account(run: SyncRun, remote_id: Any) -> uuid.UUID | None:
    if not remote_id:
        return None
    return run.db_session.scalar(select(CrmSyncLink.local_id).where(
        CrmSyncLink.integration_id == run.integration_id, CrmSyncLink.entity_type == LocalEntity.account.value,
        CrmSyncLink.remote_id == str(remote_id)))


# --- pull ----------------------------------------------------------------------------------------------------

def _pull(run: SyncRun, om: ObjectMapping, since: datetime | None, outcome: SyncOutcome) -> datetime | None:
    """Apply remote changes; returns the latest remote modification seen (the next remote cursor)."""
    latest = since
    fields = [*om.fields.values(), *([om.account_ref] if om.account_ref else [])]
    for record in run.remote.changed(om.remote_object, fields, since):
        if record.modified_at and (latest is None or record.modified_at > latest):
            latest = record.modified_at
        try:
            # A savepoint per record: a refused one leaves nothing half-written and the batch goes on.
            with run.db_session.begin_nested():
                _pull_one(run, om, record, outcome)
        except RECORD_ERRORS as error:
            outcome.fail(direction="pull", object=om.remote_object, remoteId=record.id, error=str(error)[:500])
    return latest


def _normalise(entity: str, values: dict[str, Any]) -> dict[str, Any]:
    """Remote values as the domain's input schema stores them (`(415) 555-0100` → `+14155550100`), so an
    unchanged remote record hashes like its local copy instead of being re-applied on every run."""
    schema = {LocalEntity.prospect: ProspectUpdate, LocalEntity.account: AccountUpdate,
              LocalEntity.deal: DealUpdate}[LocalEntity(entity)]
    parsed = schema(**{k: v for k, v in values.items() if v is not None}).model_dump(exclude_unset=True)
    return {key: parsed.get(key) for key in values}


def _pull_one(run: SyncRun, om: ObjectMapping, record: RemoteRecord, outcome: SyncOutcome) -> None:
    values = _normalise(om.entity, remote_values(record.properties, om, run.mapping))
    link = _link_by_remote(run, om, record.id)
    local = _get(run, om.entity, link.local_id) if link is not None else None
    if om.account_ref:
        # An account the sync has not linked (or none) keeps the local one: never cleared by a gap in the sync.
        linked = _linked_account(run, record.properties.get(om.account_ref))
        values["account_id"] = linked or (local.account_id if local is not None else None)
    digest = fingerprint(values)
    if link is not None and local is not None and link.synced_hash == digest:
        return  # unchanged since the last agreement, or the echo of our own push
    if local is None:
        local = _match(run, om.entity, values)
        if local is not None and _link_by_local(run, om.entity, local.id) is not None:
            raise ValueError(f"the matching local {om.entity} is already linked to another {om.remote_object}")
    if local is None:
        local = _create(run, om.entity, values)
        outcome.pulled_created += 1
    else:
        current = _local_values(local, om)
        if link is not None and fingerprint(current) != link.synced_hash:
            outcome.conflicts += 1
            if _local_wins(run.mapping, local.updated_at, record.modified_at):
                return  # the push below sends the local version
        _update(run, om.entity, local, values, current)
        outcome.pulled_updated += 1
    # The link stores what the local record now holds (a value the service normalised hashes as it will read).
    _save_link(run, om, link, local=local, remote_id=record.id, digest=fingerprint(_local_values(local, om)),
               remote_modified_at=record.modified_at)


def _local_wins(mapping: Mapping, local_at: datetime | None, remote_at: datetime | None) -> bool:
    if mapping.conflict_rule == "local_wins":
        return True
    if mapping.conflict_rule == "remote_wins":
        return False
    return local_at is not None and (remote_at is None or local_at > remote_at)


# --- push ----------------------------------------------------------------------------------------------------

def _push(run: SyncRun, om: ObjectMapping, since: datetime | None, now: datetime, outcome: SyncOutcome) -> datetime:
    """Send local changes; returns the next local cursor. Updates to a remote with a batch endpoint (HubSpot) go
    in one call per hundred records."""
    records = _changed_since(run, om.entity, since)
    batched = hasattr(run.remote, "update_many")
    waiting: list[PendingUpdate] = []
    for local in records:
        try:
            with run.db_session.begin_nested():
                pending = _push_one(run, om, local, outcome, defer_update=batched)
        except RECORD_ERRORS as error:
            outcome.fail(direction="push", object=om.remote_object, localId=str(local.id), error=str(error)[:500])
            continue
        if pending is not None:
            waiting.append(pending)
    if waiting:
        _send_updates(run, om, waiting, outcome)
    if len(records) == PUSH_BATCH:
        return records[-1].updated_at  # more to send: resume after the last one sent
    return now - LOCAL_OVERLAP


@dataclass
class PendingUpdate:
    local: Any
    link: CrmSyncLink
    digest: str
    properties: dict[str, Any]


def _send_updates(run: SyncRun, om: ObjectMapping, waiting: list[PendingUpdate], outcome: SyncOutcome) -> None:
    try:
        run.remote.update_many(om.remote_object, {p.link.remote_id: p.properties for p in waiting})
        sent = waiting
    except CrmError:
        # One bad record fails the whole batch call: send them one by one to find and report it.
        sent = []
        for pending in waiting:
            try:
                run.remote.update(om.remote_object, pending.link.remote_id, pending.properties)
                sent.append(pending)
            except CrmError as error:
                outcome.fail(direction="push", object=om.remote_object, localId=str(pending.local.id),
                             remoteId=pending.link.remote_id, error=str(error)[:500])
    for pending in sent:
        _save_link(run, om, pending.link, local=pending.local, remote_id=pending.link.remote_id,
                   digest=pending.digest, remote_modified_at=None)
        outcome.pushed_updated += 1


def _push_one(run: SyncRun, om: ObjectMapping, local: Any, outcome: SyncOutcome, *,
              defer_update: bool = False) -> PendingUpdate | None:
    values = _local_values(local, om)
    digest = fingerprint(values)
    link = _link_by_local(run, om.entity, local.id)
    if link is not None and link.synced_hash == digest:
        return None  # pulled from the remote (or pushed) and not edited since
    account_id = values.pop("account_id", None)
    properties = outgoing(values, om, run.mapping)
    if om.account_ref and account_id is not None:
        account_link = _link_by_local(run, LocalEntity.account, account_id)
        if account_link is not None:
            properties[om.account_ref] = account_link.remote_id
    if link is not None and defer_update:
        return PendingUpdate(local, link, digest, properties)
    if link is None:
        remote_id = run.remote.create(om.remote_object, properties)
        outcome.pushed_created += 1
    else:
        remote_id = link.remote_id
        run.remote.update(om.remote_object, remote_id, properties)
        outcome.pushed_updated += 1
    _save_link(run, om, link, local=local, remote_id=remote_id, digest=digest, remote_modified_at=None)
    return None


def push_deal(*, db_session: Session, principal: Principal, integration_id: uuid.UUID, remote: RemoteCrm,
              mapping: Mapping, deal_id: uuid.UUID) -> str:
    """Create or update one deal in the remote now (the flows' `hubspot_create_deal` /
    `salesforce_create_opportunity` action); returns the remote id. Raises CrmError/ValueError/NotFound."""
    run = SyncRun(db_session, principal, integration_id, remote, mapping)
    om = next(o for o in mapping.objects if o.entity == LocalEntity.deal)
    deal = deals.get(db_session=db_session, deal_id=deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    _push_one(run, om, deal, SyncOutcome())
    link = _link_by_local(run, om.entity, deal.id)
    assert link is not None  # _push_one always leaves one
    return link.remote_id
