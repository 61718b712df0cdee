"""Prospect business rules: create, update, filter, import (upsert on e-mail)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.accounts.models import Account
from serving.core import outbox
from serving.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from serving.core.event_catalogue import Change, ProspectCreated, ProspectQualified, ProspectUpdated
from serving.core.listing import apply_sort, check_range, contains_any
from serving.core.pagination import BudgetExceeded, PageParams, PaginationMeta, paginate, within_budget
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.organizations import plans
from serving.organizations.models import Team
from serving.prospects.csv_io import ParsedImport
from serving.prospects.models import Prospect, SavedView
from serving.prospects.schemas import ProspectCreate, ProspectFilters, ProspectOut, ProspectUpdate
from serving.users.models import User

SORTABLE = {
    "createdAt": Prospect.created_at,
    "updatedAt": Prospect.updated_at,
    "email": Prospect.email,
    "lastName": Prospect.last_name,
    "company": Prospect.company,
    "priorityScore": Prospect.priority_score,
    "intentScore": Prospect.intent_score,
    "qualificationScore": Prospect.qualification_score,
    "lastContactedAt": Prospect.last_contacted_at,
}


# The list's total: exact up to COUNT_CAP and within COUNT_BUDGET_MS, else a lower bound (`totalExact: false`)
COUNT_CAP = 100_000
COUNT_BUDGET_MS = 250


def get(*, db_session: Session, prospect_id: uuid.UUID) -> Prospect | None:
    return db_session.get(Prospect, prospect_id)


# `GET /prospects/{id}` without the ORM (serving.core.fast_read): the columns ProspectOut shows, by primary key,
# under the request's row-level security binding (psycopg placeholder).
ROW_BY_ID_SQL = f"select {', '.join(ProspectOut.model_fields)} from app.prospects where id = %s"


def set_enrichment_data(*, db_session: Session, prospect: Prospect, data: dict[str, Any]) -> Prospect:
    """Merge enrichment results (`{field: {value, source, confidence, fetched_at}}`, serving/enrichment) into
    `enrichment_data`: fields answered now replace the old ones, the others stay."""
    prospect.enrichment_data = {**(prospect.enrichment_data or {}), **data}
    db_session.flush()
    return prospect


def get_by_email(*, db_session: Session, email: str) -> Prospect | None:
    return db_session.scalar(select(Prospect).where(Prospect.email == email.lower()))


def _check_references(db_session: Session, data: ProspectCreate | ProspectUpdate) -> None:
    require_visible(db_session, User, data.owner_id, "ownerId")
    require_visible(db_session, Team, data.team_id, "teamId")
    require_visible(db_session, Account, data.account_id, "accountId")


def create(*, db_session: Session, principal: Principal, data: ProspectCreate) -> Prospect:
    _check_references(db_session, data)
    if get_by_email(db_session=db_session, email=data.email) is not None:
        raise Conflict("a prospect with this email already exists", code="DUPLICATE_EMAIL",
                       details={"field": "email", "value": data.email})
    plans.check_prospects(db_session, principal.organization_id, adding=1)
    values = data.model_dump(exclude_none=True)
    values.setdefault("owner_id", principal.user_id)
    values.setdefault("team_id", principal.team_id)
    prospect = Prospect(organization_id=principal.organization_id, **values)
    db_session.add(prospect)
    db_session.flush()
    _publish_created(db_session, prospect, actor_user_id=principal.user_id)
    return prospect


def _publish_created(db_session: Session, prospect: Prospect, *, actor_user_id: uuid.UUID | None) -> None:
    outbox.publish(
        db_session, organization_id=prospect.organization_id, type="prospect.created", subject_id=prospect.id,
        actor_user_id=actor_user_id,
        payload=ProspectCreated(
            prospect_id=prospect.id, email=prospect.email, first_name=prospect.first_name,
            last_name=prospect.last_name, company=prospect.company, status=prospect.status, source=prospect.source,
            owner_id=prospect.owner_id, account_id=prospect.account_id,
        ),
    )


def update(
    *, db_session: Session, prospect: Prospect, data: ProspectUpdate, principal: Principal | None = None
) -> dict[str, Any]:
    """Apply the fields the client sent (null clears optional ones); returns what changed.

    A status change is recorded on the timeline, attributed to `principal` when given.
    """
    _check_references(db_session, data)
    changes = {}
    values = data.model_dump(exclude_unset=True)
    if values.get("email") is None:
        values.pop("email", None)
    elif values["email"] != prospect.email and get_by_email(db_session=db_session, email=values["email"]):
        raise Conflict("a prospect with this email already exists", code="DUPLICATE_EMAIL",
                       details={"field": "email", "value": values["email"]})
    for key in ("status", "bdr_assigned", "enrichment_enabled", "custom_fields"):
        if key in values and values[key] is None:
            values.pop(key)
    for key, value in values.items():
        if getattr(prospect, key) != value:
            changes[key] = {"from": getattr(prospect, key), "to": value}
            setattr(prospect, key, value)
    if changes:
        _publish_updated(db_session, prospect, changes, principal=principal)
    db_session.flush()
    return changes


def _publish_updated(db_session: Session, prospect: Prospect, changes: dict[str, dict[str, Any]], *,
                     principal: Principal | None) -> None:
    """Subscribers (the timeline among them) react to the event, not to a call from here."""
    actor = principal.user_id if principal else None
    outbox.publish(
        db_session, organization_id=prospect.organization_id, type="prospect.updated", subject_id=prospect.id,
        actor_user_id=actor,
        payload=ProspectUpdated(
            prospect_id=prospect.id, account_id=prospect.account_id,
            actor_team_id=principal.team_id if principal else None,
            changes={k: Change(from_=_plain(v["from"]), to=_plain(v["to"])) for k, v in changes.items()},
        ),
    )
    if changes.get("status", {}).get("to") == "qualified":
        outbox.publish(
            db_session, organization_id=prospect.organization_id, type="prospect.qualified",
            subject_id=prospect.id, actor_user_id=actor,
            payload=ProspectQualified(prospect_id=prospect.id, account_id=prospect.account_id,
                                      previous_status=_plain(changes["status"]["from"]), status="qualified"),
        )


def _plain(value: Any) -> Any:
    """A changed value as JSON can carry it (enums by value, dates and ids as text)."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    return str(getattr(value, "value", value))


def delete(*, db_session: Session, prospect: Prospect) -> None:
    db_session.delete(prospect)
    db_session.flush()


# Word-prefix search over the same fields, served by a GIN index (`ix_prospects_search_words`, migration 0034):
# the fallback of a substring search that outruns its budget on a large book (`search_page`).
SEARCH_BUDGET_MS = 500


def words_query(q: str) -> str | None:
    """`q` as a prefix query on its words (`ada:* & love:*`), or None when it has no word."""
    words = re.findall(r"\w+", q.lower())
    return " & ".join(f"{w}:*" for w in words[:10]) or None


def filtered(filters: ProspectFilters, sort: str | None, *, by_words: bool = False) -> Select:
    stmt = select(Prospect)
    check_range("priorityScore", filters.min_priority_score, filters.max_priority_score)
    check_range("intentScore", filters.min_intent_score, filters.max_intent_score)
    check_range("qualificationScore", filters.min_qualification_score, filters.max_qualification_score)
    if filters.status:
        stmt = stmt.where(Prospect.status.in_([s.value for s in filters.status]))
    if filters.intent_tier:
        stmt = stmt.where(Prospect.intent_tier.in_([t.value for t in filters.intent_tier]))
    if filters.owner_id:
        stmt = stmt.where(Prospect.owner_id == filters.owner_id)
    if filters.account_id:
        stmt = stmt.where(Prospect.account_id == filters.account_id)
    if filters.company:
        stmt = stmt.where(contains_any(filters.company, Prospect.company))
    if filters.q and by_words:
        query = words_query(filters.q)
        if query is None:
            stmt = stmt.where(literal_column("false"))
        else:
            # the matches from the index, through a definer function bound to the caller's organization (under
            # row-level security the planner would compute every row's words instead: migration 0034)
            stmt = stmt.where(Prospect.id.in_(select(func.app.prospect_word_matches(query))))
    elif filters.q:
        # one expression per row instead of six: the same matches (a name across first and last included), and
        # a scan of a million rows about three times quicker
        stmt = stmt.where(contains_any(filters.q, func.concat_ws(
            " ", Prospect.email, Prospect.first_name, Prospect.last_name, Prospect.company, Prospect.title)))
    for column, low, high in (
        (Prospect.priority_score, filters.min_priority_score, filters.max_priority_score),
        (Prospect.intent_score, filters.min_intent_score, filters.max_intent_score),
        (Prospect.qualification_score, filters.min_qualification_score, filters.max_qualification_score),
    ):
        if low is not None:
            stmt = stmt.where(column >= low)
        if high is not None:
            stmt = stmt.where(column <= high)
    if filters.created_after:
        stmt = stmt.where(Prospect.created_at >= filters.created_after)
    if filters.created_before:
        stmt = stmt.where(Prospect.created_at < filters.created_before)
    if filters.last_contacted_after:
        stmt = stmt.where(Prospect.last_contacted_at >= filters.last_contacted_after)
    if filters.last_contacted_before:
        stmt = stmt.where(Prospect.last_contacted_at < filters.last_contacted_before)
    if filters.never_contacted is not None:
        stmt = stmt.where(Prospect.last_contacted_at.is_(None) if filters.never_contacted
                          else Prospect.last_contacted_at.is_not(None))
    for key, value in _custom_field_filters(filters.custom_field or []):
        stmt = stmt.where(or_(*(Prospect.custom_fields.contains({key: candidate})
                                for candidate in _json_readings(value))))
    return apply_sort(stmt, sort, SORTABLE, default="-createdAt", tiebreak=Prospect.id)


def search_page(*, db_session: Session, filters: ProspectFilters, sort: str | None,
                pagination: PageParams) -> tuple[list[Prospect], PaginationMeta, str]:
    """A page of the list and how `q` matched: `substring` (anywhere in e-mail, name, company or title), or, when
    that scan outruns SEARCH_BUDGET_MS on a large book (a rare term walks every row), `words` (word prefixes,
    from the index) — the answer says which (`X-Search-Mode`)."""
    if not filters.q:
        return *paginate(db_session, filtered(filters, sort), pagination, count_cap=COUNT_CAP,
                         count_budget_ms=COUNT_BUDGET_MS), "substring"
    try:
        with within_budget(db_session, SEARCH_BUDGET_MS):
            items, meta = paginate(db_session, filtered(filters, sort), pagination, count_cap=COUNT_CAP,
                                   count_budget_ms=COUNT_BUDGET_MS)
        return items, meta, "substring"
    except BudgetExceeded:
        pass
    items, meta = paginate(db_session, filtered(filters, sort, by_words=True), pagination, count_cap=COUNT_CAP,
                           count_budget_ms=COUNT_BUDGET_MS)
    return items, meta, "words"


def _custom_field_filters(raw: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in raw:
        key, sep, value = item.partition(":")
        if not sep or not key.strip() or len(key.strip()) > 64:
            raise ValidationFailed("customField must be `key:value` with a key of 1 to 64 characters",
                                   details={"field": "customField", "value": item})
        pairs.append((key.strip(), value.strip()))
    return pairs


def _json_readings(value: str) -> list[Any]:
    """What `value` can mean in JSON: always the text; also the number or boolean it spells. A custom field
    imported from a CSV is text, one set through the API may be a number — both should match `?customField=`."""
    readings: list[Any] = [value]
    if value in ("true", "false"):
        readings.append(value == "true")
    else:
        try:
            number = float(value)
        except ValueError:
            return readings
        if number.is_integer() and "." not in value and "e" not in value.lower():
            readings.append(int(value))
        elif number == number and abs(number) != float("inf"):
            readings.append(number)
    return readings


def export_rows(*, db_session: Session, filters: ProspectFilters, sort: str | None) -> list[Prospect]:
    """Every prospect the filters match (the CSV export is not paginated)."""
    return list(db_session.scalars(filtered(filters, sort)))


def import_rows(*, db_session: Session, principal: Principal, parsed: ParsedImport) -> dict[str, int]:
    """Upsert the valid rows on (organization, email) in the caller's transaction.

    Only the columns present in the file are written; a row whose values are all unchanged is
    left alone, so importing the same file twice changes nothing.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    plans.hold_prospect_limit(db_session, principal.organization_id)  # a concurrent import waits for this one
    for _line, row in parsed.rows:
        values = row.model_dump(exclude_none=True)
        stmt = insert(Prospect).values(
            id=uuid.uuid4(), organization_id=principal.organization_id,
            owner_id=principal.user_id, team_id=principal.team_id, **values,
        )
        changed = {k: stmt.excluded[k] for k in values if k not in ("email", "custom_fields")}
        if "custom_fields" in values:
            changed["custom_fields"] = Prospect.custom_fields.op("||")(stmt.excluded.custom_fields)
        if not changed:
            changed["email"] = stmt.excluded.email
        stmt = stmt.on_conflict_do_update(
            index_elements=[Prospect.organization_id, Prospect.email],
            set_={**changed, "updated_at": func.now()},
            where=or_(*(getattr(Prospect, k).is_distinct_from(v) for k, v in changed.items())),
        ).returning(Prospect, literal_column("xmax = 0").label("inserted"),
                    # PostgreSQL 18 returns the row as it was before the update: the event's "from" values.
                    *(literal_column(f"old.{k}").label(f"old_{k}") for k in changed))
        row = db_session.execute(stmt).first()
        counts["unchanged" if row is None else "created" if row.inserted else "updated"] += 1
        if row is None:
            continue
        prospect = row.Prospect
        if row.inserted:
            _publish_created(db_session, prospect, actor_user_id=principal.user_id)
            continue
        changes = {k: {"from": getattr(row, f"old_{k}"), "to": getattr(prospect, k)} for k in changed
                   if getattr(row, f"old_{k}") != getattr(prospect, k)}
        _publish_updated(db_session, prospect, changes, principal=principal)
    db_session.flush()
    if counts["created"]:
        # after the upsert (only then is it known which rows are new); a refusal rolls the whole file back
        plans.check_prospects(db_session, principal.organization_id)
    return counts


# -- bulk actions -------------------------------------------------------------------------------------------------

def bulk(*, db_session: Session, principal: Principal, action: str, prospect_ids: list[uuid.UUID],
         owner_id: uuid.UUID | None = None, status: str | None = None) -> dict[str, int]:
    """Apply one change to many prospects in the caller's transaction: every id must be visible, else nothing
    changes (404 naming the missing ones). Each changed prospect publishes its own event, as a single edit would."""
    ids = list(dict.fromkeys(prospect_ids))
    found = {p.id: p for p in db_session.scalars(
        select(Prospect).where(Prospect.id.in_(ids)).with_for_update())}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        error = NotFound("prospect")
        error.message = f"{len(missing)} of the prospects were not found: nothing was changed"
        error.details = {"resource": "prospect", "missing": len(missing), "ids": missing[:20]}
        raise error
    changed = 0
    for prospect_id in ids:
        prospect = found[prospect_id]
        if action == "delete":
            db_session.delete(prospect)
            changed += 1
            continue
        data = (ProspectUpdate(owner_id=owner_id) if action == "assign_owner" else ProspectUpdate(status=status))
        if update(db_session=db_session, prospect=prospect, data=data, principal=principal):
            changed += 1
    db_session.flush()
    return {"requested": len(ids), "changed": changed, "unchanged": len(ids) - changed}


# -- saved views --------------------------------------------------------------------------------------------------

def views_of(*, principal: Principal) -> Select:
    """The user's own views and those shared with the organization, by name."""
    return (select(SavedView)
            .where(SavedView.entity == "prospects",
                   or_(SavedView.user_id == principal.user_id, SavedView.shared.is_(True)))
            .order_by(SavedView.name, SavedView.id))


def get_view(*, db_session: Session, principal: Principal, view_id: uuid.UUID, to_change: bool = False) -> SavedView:
    view = db_session.get(SavedView, view_id)
    if view is None or view.entity != "prospects" or not (view.shared or view.user_id == principal.user_id):
        raise NotFound("saved view", view_id)
    if to_change and view.user_id != principal.user_id and not principal.is_admin:
        raise Forbidden("only the view's author or an admin can change a shared view", code="NOT_VIEW_OWNER")
    return view


def _unique_view_name(db_session: Session, principal: Principal, name: str, *, other_than: uuid.UUID | None) -> None:
    clash = db_session.scalar(select(SavedView.id).where(
        SavedView.user_id == principal.user_id, SavedView.entity == "prospects", SavedView.name == name))
    if clash is not None and clash != other_than:
        raise Conflict("you already have a view with this name", code="DUPLICATE_VIEW_NAME",
                       details={"field": "name", "value": name})


def create_view(*, db_session: Session, principal: Principal, name: str, filters: dict[str, Any],
                shared: bool) -> SavedView:
    _unique_view_name(db_session, principal, name, other_than=None)
    view = SavedView(organization_id=principal.organization_id, user_id=principal.user_id, entity="prospects",
                     name=name, filters=filters, shared=shared)
    db_session.add(view)
    db_session.flush()
    return view


def update_view(*, db_session: Session, principal: Principal, view: SavedView, name: str | None,
                filters: dict[str, Any] | None, shared: bool | None) -> SavedView:
    if name is not None and name != view.name:
        _unique_view_name(db_session, principal, name, other_than=view.id)
        view.name = name
    if filters is not None:
        view.filters = filters
    if shared is not None:
        view.shared = shared
    db_session.flush()
    return view


def delete_view(*, db_session: Session, view: SavedView) -> None:
    db_session.delete(view)
    db_session.flush()


def changed_since(*, db_session: Session, since: datetime | None, limit: int) -> list[Prospect]:
    """The prospects edited after `since` (all when None), oldest edit first: what an outbound sync pushes."""
    query = select(Prospect).order_by(Prospect.updated_at, Prospect.id).limit(limit)
    if since is not None:
        query = query.where(Prospect.updated_at > since)
    return list(db_session.scalars(query))
