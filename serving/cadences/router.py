"""/cadences (CRUD, steps, enroll, analytics) and /cadence-enrollments (pause, resume, remove)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from serving.audit import service as audit
from serving.cadences import service
from serving.cadences.models import Cadence, CadenceEnrollment, EnrollmentStatus
from serving.cadences.schemas import (
    CadenceAnalytics,
    CadenceIn,
    CadenceOut,
    CadenceUpdate,
    EnrollIn,
    EnrollmentOut,
    EnrollOut,
    StepIn,
    StepOut,
    VariantOut,
)
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.listing import parse_choices
from serving.core.pagination import Page, Pagination, page_of, paginate, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.core.schemas import InputModel

router = APIRouter()
enrollments_router = APIRouter()

Reader = Annotated[Principal, require(Scope.prospects_read)]
Writer = Annotated[Principal, require(Scope.prospects_write)]


def _get_or_404(db, cadence_id: uuid.UUID) -> Cadence:
    cadence = service.get(db_session=db, cadence_id=cadence_id)
    if cadence is None:
        raise NotFound("cadence", cadence_id)
    return cadence


def _enrollment_or_404(db, enrollment_id: uuid.UUID, *, lock: bool = False) -> CadenceEnrollment:
    enrollment = service.get_enrollment(db_session=db, enrollment_id=enrollment_id, lock=lock)
    if enrollment is None:
        raise NotFound("enrollment", enrollment_id)
    return enrollment


def _step_out(step, variants) -> StepOut:
    return StepOut.model_validate(step).model_copy(
        update={"variants": [VariantOut.model_validate(v) for v in variants]}
    )


def _outs(db, cadences: list[Cadence]) -> list[CadenceOut]:
    steps = service.steps_by_cadence(db_session=db, cadence_ids=[c.id for c in cadences])
    return [
        CadenceOut.model_validate(c).model_copy(update={"steps": [_step_out(*pair) for pair in steps[c.id]]})
        for c in cadences
    ]


def _out(db, cadence: Cadence) -> CadenceOut:
    return _outs(db, [cadence])[0]


@router.get("", response_model=Page[CadenceOut], summary="List cadences")
def list_cadences(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    is_active: Annotated[bool | None, Query(alias="isActive")] = None,
):
    items, meta = paginate(db, service.listing(is_active=is_active), pagination)
    return page_of(_outs(db, items), meta)


@router.post(
    "", response_model=CadenceOut, status_code=201, summary="Create a cadence (optionally with steps)"
)
def create_cadence(body: CadenceIn, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> CadenceOut:
        cadence = service.create(db_session=db, principal=principal, data=body)
        audit.record(
            db_session=db,
            principal=principal,
            action="create",
            entity_type="cadence",
            entity_id=cadence.id,
        )
        return _out(db, cadence)

    return idem.run(create, payload=body)


@router.get("/{cadence_id}", response_model=CadenceOut, summary="Get a cadence with its steps")
def get_cadence(cadence_id: uuid.UUID, db: DbSession, principal: Reader):
    return _out(db, _get_or_404(db, cadence_id))


@router.put("/{cadence_id}", response_model=CadenceOut, summary="Update a cadence")
def update_cadence(cadence_id: uuid.UUID, body: CadenceUpdate, db: DbSession, principal: Writer):
    cadence = _get_or_404(db, cadence_id)
    values = service.update(db_session=db, cadence=cadence, data=body)
    audit.record(
        db_session=db,
        principal=principal,
        action="update",
        entity_type="cadence",
        entity_id=cadence.id,
        changes=values,
    )
    return _out(db, cadence)


@router.delete("/{cadence_id}", status_code=204, summary="Delete a cadence and its enrollments")
def delete_cadence(cadence_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    service.delete(db_session=db, cadence=_get_or_404(db, cadence_id))
    audit.record(
        db_session=db,
        principal=principal,
        action="delete",
        entity_type="cadence",
        entity_id=cadence_id,
    )


@router.post("/{cadence_id}/steps", response_model=StepOut, status_code=201, summary="Add a step")
def add_step(cadence_id: uuid.UUID, body: StepIn, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> StepOut:
        step = service.add_step(db_session=db, cadence=_get_or_404(db, cadence_id), data=body)
        return _step_out(step, service.variants_of(db_session=db, step_ids=[step.id]).get(step.id, []))

    return idem.run(create, payload=body)


@router.get("/{cadence_id}/steps", response_model=Page[StepOut], summary="The cadence's steps, in order")
def list_steps(cadence_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    steps, meta = paginate_list(_out(db, _get_or_404(db, cadence_id)).steps, pagination)
    return page_of(steps, meta)


@router.post(
    "/{cadence_id}/enroll", response_model=EnrollOut, summary="Enroll prospects (per-prospect result)"
)
def enroll(cadence_id: uuid.UUID, body: EnrollIn, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> EnrollOut:
        cadence = _get_or_404(db, cadence_id)
        results = service.enroll(
            db_session=db, principal=principal, cadence=cadence, prospect_ids=body.prospect_ids
        )
        audit.record(
            db_session=db,
            principal=principal,
            action="enroll",
            entity_type="cadence",
            entity_id=cadence.id,
            changes=dict(Counter(r["result"] for r in results)),
        )
        return EnrollOut(results=results, counts=dict(Counter(r["result"] for r in results)))

    return idem.run(create, payload=body, status_code=200)


@router.get(
    "/{cadence_id}/enrollments", response_model=Page[EnrollmentOut], summary="The cadence's enrollments"
)
def list_enrollments(
    cadence_id: uuid.UUID,
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    status: Annotated[str | None, Query()] = None,
):
    statuses = parse_choices(status, EnrollmentStatus, field="status")
    _get_or_404(db, cadence_id)
    items, meta = paginate(db, service.enrollments(cadence_id=cadence_id, statuses=statuses), pagination)
    return page_of([EnrollmentOut.model_validate(e) for e in items], meta)


@router.get(
    "/{cadence_id}/analytics",
    response_model=CadenceAnalytics,
    summary="Enrollment, email and per-step / per-variant results",
)
def cadence_analytics(cadence_id: uuid.UUID, db: DbSession, principal: Reader):
    return CadenceAnalytics.model_validate(service.analytics(db_session=db, cadence=_get_or_404(db, cadence_id)))


class PauseIn(InputModel):
    reason: str = Field(default="manual", max_length=200)


@enrollments_router.get("/{enrollment_id}", response_model=EnrollmentOut, summary="Get an enrollment")
def get_enrollment(enrollment_id: uuid.UUID, db: DbSession, principal: Reader):
    return EnrollmentOut.model_validate(_enrollment_or_404(db, enrollment_id))


@enrollments_router.post(
    "/{enrollment_id}/pause", response_model=EnrollmentOut, summary="Pause an enrollment"
)
def pause_enrollment(enrollment_id: uuid.UUID, db: DbSession, principal: Writer, body: PauseIn | None = None):
    enrollment = _enrollment_or_404(db, enrollment_id, lock=True)
    service.pause(db_session=db, enrollment=enrollment, reason=(body.reason if body else "manual"))
    return EnrollmentOut.model_validate(enrollment)


@enrollments_router.post(
    "/{enrollment_id}/resume", response_model=EnrollmentOut, summary="Resume an enrollment"
)
def resume_enrollment(enrollment_id: uuid.UUID, db: DbSession, principal: Writer):
    enrollment = _enrollment_or_404(db, enrollment_id, lock=True)
    service.resume(db_session=db, enrollment=enrollment)
    return EnrollmentOut.model_validate(enrollment)


@enrollments_router.delete(
    "/{enrollment_id}",
    response_model=EnrollmentOut,
    summary="Remove a prospect from the cadence (no further steps)",
)
def remove_enrollment(enrollment_id: uuid.UUID, db: DbSession, principal: Writer):
    enrollment = _enrollment_or_404(db, enrollment_id, lock=True)
    service.remove(db_session=db, enrollment=enrollment)
    return EnrollmentOut.model_validate(enrollment)
