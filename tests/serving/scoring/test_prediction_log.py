"""The real-time prediction log written off the request path (serving/scoring/prediction_log.py): every queued row
is written once with the time it was scored, under its own organization's row-level security, a prospect deleted
meanwhile is logged with none, and a failed write keeps its rows for the next flush."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import select

from serving.prospects.models import Prospect
from serving.scoring import prediction_log
from serving.scoring.models import AiPrediction
from tests.factories import unique_email

SCORED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _prediction(organization_id: uuid.UUID, prospect_id: uuid.UUID | None = None,
                **values) -> prediction_log.Prediction:
    return prediction_log.Prediction(**{
        "id": uuid.uuid4(), "organization_id": organization_id, "prospect_id": prospect_id,
        "prediction_type": "lead_scoring", "model_version": "v1", "inputs_hash": "ab" * 8, "score": 71,
        "ml_score": 64, "probability": 0.6400000000000001, "tier": "hot",
        "top_factors": [{"factor": "Replied to an e-mail", "impact": 12}], "created_at": SCORED_AT, **values})


def _stored(owner_session, ids) -> dict[uuid.UUID, AiPrediction]:
    owner_session.expire_all()
    return {row.id: row for row in owner_session.scalars(select(AiPrediction).where(AiPrediction.id.in_(ids)))}


def test_queued_rows_of_several_tenants_are_written_once_field_for_field(settings, tenant, other_tenant,
                                                                         owner_session):
    log = prediction_log.PredictionLog(settings.api_database_url)
    prospect = tenant.add(Prospect, email=unique_email())
    mine = [_prediction(tenant.organization_id, prospect.id), _prediction(tenant.organization_id)]
    theirs = _prediction(other_tenant.organization_id, score=3, tier="low")
    for row in (*mine, theirs):
        log.add(row)
    assert _stored(owner_session, [r.id for r in (*mine, theirs)]) == {}  # queued, not written by the request
    log.flush()
    log.flush()  # nothing left: a second flush writes nothing twice
    stored = _stored(owner_session, [r.id for r in (*mine, theirs)])
    assert len(stored) == 3 and log.pending() == 0
    first = stored[mine[0].id]
    assert (first.organization_id, first.prospect_id, first.prediction_type, first.source, first.model_version,
            first.inputs_hash, first.score, first.ml_score, first.probability, first.tier, first.top_factors,
            first.created_at) == (tenant.organization_id, prospect.id, "lead_scoring", "realtime", "v1", "ab" * 8,
                                  71, 64, 0.6400000000000001, "hot", mine[0].top_factors, SCORED_AT)
    assert (stored[theirs.id].organization_id, stored[theirs.id].score) == (other_tenant.organization_id, 3)
    log.close()


def test_a_prospect_deleted_before_the_write_is_logged_as_none(settings, tenant, owner_session):
    log = prediction_log.PredictionLog(settings.api_database_url)
    prospect = tenant.add(Prospect, email=unique_email())
    row = _prediction(tenant.organization_id, prospect.id)
    log.add(row)
    with tenant.session() as session, session.begin():
        session.delete(session.get(Prospect, prospect.id))
    log.flush()
    assert _stored(owner_session, [row.id])[row.id].prospect_id is None  # as ON DELETE SET NULL leaves it
    log.close()


def test_row_level_security_refuses_a_row_claiming_another_tenant(settings, tenant, other_tenant, owner_session):
    """Each organization's rows are written bound to it: a prospect of another tenant is not even visible."""
    log = prediction_log.PredictionLog(settings.api_database_url)
    theirs = other_tenant.add(Prospect, email=unique_email())
    row = _prediction(tenant.organization_id, theirs.id)
    log.add(row)
    log.flush()
    assert _stored(owner_session, [row.id])[row.id].prospect_id is None
    log.close()


def test_a_failed_write_keeps_its_rows_then_writes_them(settings, tenant, owner_session, monkeypatch):
    log = prediction_log.PredictionLog(settings.api_database_url)
    rows = [_prediction(tenant.organization_id) for _ in range(3)]
    for row in rows:
        log.add(row)
    real_conninfo = log._conninfo
    log._conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"  # the database is away
    for _ in range(prediction_log.MAX_ATTEMPTS + 1):  # however long: an outage never drops rows
        with pytest.raises(psycopg.OperationalError):
            log.flush()
    assert log.pending() == 3 and _stored(owner_session, [r.id for r in rows]) == {}
    log._conninfo = real_conninfo
    log.flush()
    assert set(_stored(owner_session, [r.id for r in rows])) == {r.id for r in rows}
    log.close()


def test_rows_failing_every_time_are_dropped_after_max_attempts(settings, tenant, owner_session):
    log = prediction_log.PredictionLog(settings.api_database_url)
    bad = _prediction(uuid.uuid4())  # an organization that does not exist: the foreign key refuses it every time
    good = _prediction(tenant.organization_id)
    log.add(bad)
    log.add(good)
    for _ in range(prediction_log.MAX_ATTEMPTS):
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            log.flush()
    assert log.pending() == 0
    assert set(_stored(owner_session, [bad.id, good.id])) == {good.id}  # the other tenant's row was not held back
    log.close()
