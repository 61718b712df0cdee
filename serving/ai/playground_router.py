"""/ai/playground: experiments that run several arms (provider, model, prompt) on one prospect's context side by
side, with ratings, history, per-model cost and latency, and export of an output as an e-mail template; and
/ai/templates/suggestions: A/B variants that beat their template with significance (serving/ai/learning.py).
Scopes: ai:read to read, ai:write to change and run; exporting or accepting also needs emails:send (the scope
that creates e-mail templates).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from serving.ai import learning, playground
from serving.ai.playground_models import AiPlaygroundExperiment
from serving.ai.playground_schemas import (
    AcceptIn,
    ExperimentIn,
    ExperimentOut,
    ExperimentPatch,
    ExportIn,
    ExportOut,
    RatingIn,
    RunOut,
    SuggestionOut,
)
from serving.core.deps import AppSettings, DbSession, require
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.emails import templating
from serving.emails.schemas import TemplateOut
from serving.prospects.models import Prospect

router = APIRouter()

# an output's position in the experiment's history (bounded: every number a client sends is)
OutputIndex = Annotated[int, Path(ge=0, le=100_000)]

Reader = Annotated[Principal, require(Scope.ai_read)]
Writer = Annotated[Principal, require(Scope.ai_write)]
TemplateWriter = Annotated[Principal, require(Scope.emails_send)]


def _out(row: AiPlaygroundExperiment) -> ExperimentOut:
    return ExperimentOut(id=row.id, name=row.name, task=row.task, prompt_template=row.prompt_template,
                         variables=row.variables, prospect_id=row.prospect_id, arms=row.arms, runs=row.runs,
                         notes=row.notes, summary=playground.summary(row), created_at=row.created_at,
                         updated_at=row.updated_at)


@router.post("/playground/experiments", response_model=ExperimentOut, status_code=201,
             summary="Create an experiment: a prompt template, its variables, a prospect and the arms to compare")
def create_experiment(body: ExperimentIn, db: DbSession, principal: Writer):
    require_visible(db, Prospect, body.prospect_id, "prospectId")
    data = body.model_dump()
    row = playground.create(db_session=db, principal=principal, data=data)
    return _out(row)


@router.get("/playground/experiments", response_model=Page[ExperimentOut],
            summary="Experiments with their run history, newest first")
def list_experiments(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, playground.listed(), pagination)
    return page_of([_out(r) for r in items], meta)


@router.get("/playground/experiments/{experiment_id}", response_model=ExperimentOut,
            summary="One experiment: its runs, ratings and the per-model summary")
def get_experiment(experiment_id: uuid.UUID, db: DbSession, principal: Reader):
    return _out(playground.get(db_session=db, experiment_id=experiment_id))


@router.patch("/playground/experiments/{experiment_id}", response_model=ExperimentOut,
              summary="Change an experiment's prompt, variables, prospect, arms or notes (the history stays)")
def update_experiment(experiment_id: uuid.UUID, body: ExperimentPatch, db: DbSession, principal: Writer):
    row = playground.get(db_session=db, experiment_id=experiment_id)
    values = body.model_dump(exclude_unset=True)
    if "prospect_id" in values:
        require_visible(db, Prospect, values["prospect_id"], "prospectId")
    values = {k: v for k, v in values.items() if v is not None or k in ("prospect_id", "notes")}
    return _out(playground.update(db_session=db, row=row, values=values))


@router.delete("/playground/experiments/{experiment_id}", status_code=204, summary="Delete an experiment")
def delete_experiment(experiment_id: uuid.UUID, db: DbSession, principal: Writer):
    playground.delete(db_session=db, row=playground.get(db_session=db, experiment_id=experiment_id))


@router.post("/playground/experiments/{experiment_id}/run", response_model=RunOut,
             summary="Run every arm on the same prospect context; an arm that fails records its error")
def run_experiment(experiment_id: uuid.UUID, db: DbSession, principal: Writer, settings: AppSettings):
    row = playground.get(db_session=db, experiment_id=experiment_id)
    entry = playground.run(db_session=db, settings=settings, principal=principal, row=row)
    return RunOut(run_at=entry["runAt"], outputs=entry["outputs"])


@router.post("/playground/experiments/{experiment_id}/outputs/{n}/rating", response_model=dict,
             summary="Rate output n of the latest run: thumbs (+1/−1) and a 1–5 score")
def rate_output(experiment_id: uuid.UUID, n: OutputIndex, body: RatingIn, db: DbSession, principal: Writer):
    row = playground.get(db_session=db, experiment_id=experiment_id)
    return playground.rate(db_session=db, row=row, n=n, thumbs=body.thumbs, score=body.score)


@router.post("/playground/experiments/{experiment_id}/outputs/{n}/export", response_model=ExportOut,
             status_code=201, summary="Save output n of the latest run as an e-mail template (values → variables)")
def export_output(experiment_id: uuid.UUID, n: OutputIndex, body: ExportIn, db: DbSession, principal: Writer,
                  creator: TemplateWriter, idem: IdempotencyDep):
    def create() -> ExportOut:
        row = playground.get(db_session=db, experiment_id=experiment_id)
        template = playground.export(db_session=db, principal=principal, row=row, n=n, name=body.name,
                                     category=body.category)
        used = sorted(templating.referenced_variables(template.subject)
                      | templating.referenced_variables(template.text))
        return ExportOut(template_id=template.id, name=template.name, subject=template.subject, text=template.text,
                         variables_used=used)

    return idem.run(create, payload={"experimentId": str(experiment_id), "n": n, **body.model_dump()},
                    status_code=201)


@router.get("/templates/suggestions", response_model=Page[SuggestionOut],
            summary="A/B variants whose reply rate beats their template's with significance, with the evidence")
def list_suggestions(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate_list(learning.suggestions(db_session=db), pagination)
    return page_of(items, meta)


@router.post("/templates/suggestions/{suggestion_id}/accept", response_model=TemplateOut, status_code=201,
             summary="Create the suggested template (the test is run again first)")
def accept_suggestion(suggestion_id: uuid.UUID, db: DbSession, principal: Writer, creator: TemplateWriter,
                      body: AcceptIn | None = None):
    template = learning.accept(db_session=db, principal=principal, suggestion_id=suggestion_id,
                               name=body.name if body else None)
    return TemplateOut.model_validate(template)
