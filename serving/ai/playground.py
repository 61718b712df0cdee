"""The AI playground: the same prospect context through several arms (provider, model, prompt) side by side.

A prompt template is Mustache (`{{firstName}}`, `{{facts}}`, your own `{{variables}}`) rendered by the e-mail
templating (serving/emails/templating.py: the project's one template engine); a name the template reads that is
neither a prospect/sender variable nor declared in `variables` is refused when the experiment is saved and when it
runs (422 UNKNOWN_PROMPT_VARIABLES), never rendered as a blank. Every run keeps its outputs (text, tokens, cost,
latency, the checker's verdict), so an experiment is its own history; ratings go on the outputs. An output can be
exported as an e-mail template through the emails domain's template service, with the prospect's values mapped
back to the template's variables. Services do not commit.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from serving.ai import checker, llm, writer
from serving.ai.context import DraftContext, build_context
from serving.ai.playground_models import AiAgentSession, AiPlaygroundExperiment
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.errors import AppError, NotFound, ValidationFailed
from serving.core.principal import Principal
from serving.emails import templates, templating
from serving.emails.schemas import TemplateIn
from serving.prospects.models import Prospect

OFFLINE = "offline"
PROMPT_VERSION = "playground-v1"
# what a prompt may read besides the experiment's own variables: the e-mail variables and the facts block
CONTEXT_VARIABLES = frozenset(templating.KNOWN_VARIABLES) | {"facts", "persona"}


class UnknownPromptVariables(ValidationFailed):
    def __init__(self, unknown: list[str], field: str) -> None:
        super().__init__(f"the prompt reads variables it does not declare: {', '.join(unknown)}; add them to "
                         "`variables` or use a prospect variable", code="UNKNOWN_PROMPT_VARIABLES",
                         details={"field": field, "unknown": unknown, "known": sorted(CONTEXT_VARIABLES)})


def check_prompts(*, prompt_template: str, arms: list[dict], variables: dict[str, str]) -> None:
    """Syntax and variables of the template and of every arm's own prompt (422 with the field at fault)."""
    for field, prompt in [("promptTemplate", prompt_template)] + [
            (f"arms.{i}.prompt", a.get("prompt")) for i, a in enumerate(arms) if a.get("prompt")]:
        try:
            used = templating.referenced_variables(prompt, field)
        except templating.TemplateError as exc:
            raise ValidationFailed(str(exc), code="INVALID_PROMPT_TEMPLATE", details={"field": field}) from None
        unknown = sorted(used - CONTEXT_VARIABLES - set(variables))
        if unknown:
            raise UnknownPromptVariables(unknown, field)


def check_arms(arms: list[dict]) -> None:
    known = {m.name: m.provider for m in llm.configured_models()}
    for i, arm in enumerate(arms):
        if arm["provider"] == OFFLINE:
            continue
        if known.get(arm.get("model")) != arm["provider"]:
            raise ValidationFailed(f"arm {i}: {arm['provider']}/{arm.get('model')} is not a known model",
                                   code="UNKNOWN_MODEL", details={"field": f"arms.{i}.model",
                                                                  "model": arm.get("model")})


def create(*, db_session: Session, principal: Principal, data: dict[str, Any]) -> AiPlaygroundExperiment:
    check_prompts(prompt_template=data["prompt_template"], arms=data["arms"], variables=data["variables"])
    check_arms(data["arms"])
    row = AiPlaygroundExperiment(organization_id=principal.organization_id, user_id=principal.user_id, runs=[],
                                 **data)
    db_session.add(row)
    db_session.flush()
    return row


def update(*, db_session: Session, row: AiPlaygroundExperiment, values: dict[str, Any]) -> AiPlaygroundExperiment:
    merged = {k: values.get(k, getattr(row, k)) for k in ("prompt_template", "arms", "variables")}
    check_prompts(**merged)
    check_arms(merged["arms"])
    for key, value in values.items():
        setattr(row, key, value)
    db_session.flush()
    return row


def get(*, db_session: Session, experiment_id: uuid.UUID) -> AiPlaygroundExperiment:
    row = db_session.get(AiPlaygroundExperiment, experiment_id)
    if row is None:
        raise NotFound("experiment", experiment_id)
    return row


def listed() -> Select:
    return select(AiPlaygroundExperiment).order_by(AiPlaygroundExperiment.created_at.desc(),
                                                   AiPlaygroundExperiment.id)


def delete(*, db_session: Session, row: AiPlaygroundExperiment) -> None:
    db_session.delete(row)
    db_session.flush()


# -- running ------------------------------------------------------------------------------------------------------

def _facts_block(context: DraftContext) -> str:
    lines = [f"[{i}] {f.key} (source: {f.source}){' [external]' if f.external else ''}: {writer.neutralise(f.value)}"
             for i, f in enumerate(context.facts, 1)]
    return "<data>\n" + "\n".join(lines) + "\n</data>"


def render_prompt(prompt: str, *, context: DraftContext, prospect: Prospect, variables: dict[str, str]) -> str:
    data = templating.build_context(
        prospect=prospect, sender={"senderName": context.sender.name or context.sender.email,
                                   "senderEmail": context.sender.email},
        extra={"facts": _facts_block(context), "persona": context.persona}, variables=variables)
    return templating.render_string(prompt, data, escape=False) or ""


def run(*, db_session: Session, settings: Settings, principal: Principal, row: AiPlaygroundExperiment) -> dict:
    """Run every arm on the same context; an arm that fails (no key, budget, vendor down) records its error and
    the others still run. Appends the run to the experiment's history and logs it as an agent session."""
    if row.prospect_id is None:
        raise ValidationFailed("the experiment needs a prospect to run on", code="PROSPECT_REQUIRED",
                               details={"field": "prospectId"})
    check_prompts(prompt_template=row.prompt_template, arms=row.arms, variables=row.variables)
    prospect = db_session.get(Prospect, row.prospect_id)
    if prospect is None:
        raise ValidationFailed("the experiment's prospect no longer exists", code="PROSPECT_REQUIRED",
                               details={"field": "prospectId"})
    context = build_context(db_session=db_session, settings=settings, organization_id=principal.organization_id,
                            user_id=principal.user_id, prospect_id=row.prospect_id, mailbox_id=None)
    available = {m.provider for m in llm.configured_models(settings) if m.available}
    outputs, messages = [], []
    for i, arm in enumerate(row.arms):
        prompt = render_prompt(arm.get("prompt") or row.prompt_template, context=context, prospect=prospect,
                               variables=row.variables)
        output = _run_arm(db_session, settings, principal, row, context, arm, prompt, available)
        output["arm"] = i
        result = checker.check(subject=output["subject"], body=output["text"], context=context) \
            if output["error"] is None else None
        output["check"] = result.as_dict() if result else None
        outputs.append(output)
        messages += [{"role": "user", "arm": i, "content": prompt},
                     {"role": "assistant", "arm": i, "provider": output["provider"], "model": output["model"],
                      "content": output["text"], "error": output["error"]}]
    entry = {"runAt": utcnow().isoformat(), "outputs": outputs}
    row.runs = [*row.runs, entry]
    flag_modified(row, "runs")
    db_session.add(AiAgentSession(
        organization_id=principal.organization_id, user_id=principal.user_id, agent="playground",
        experiment_id=row.id, prospect_id=row.prospect_id, status="closed", messages=messages, tool_calls=[],
        input_tokens=sum(o["inputTokens"] for o in outputs), output_tokens=sum(o["outputTokens"] for o in outputs),
        cost_usd=sum((Decimal(o["costUsd"]) for o in outputs), Decimal(0))))
    db_session.flush()
    return entry


def _run_arm(db_session, settings, principal, row, context, arm, prompt, available) -> dict:
    base = {"provider": arm["provider"], "model": arm.get("model") or writer.OFFLINE_MODEL, "subject": "",
            "text": "", "inputTokens": 0, "outputTokens": 0, "costUsd": "0", "latencyMs": 0.0, "rating": None,
            "score": None, "error": None}
    if arm["provider"] == OFFLINE:
        # the deterministic writer has no prompt: it is the baseline every model arm is compared with
        started = time.perf_counter()
        subject, body, _used, _choices = writer.compose_offline(context, writer.WriterSettings(seed=arm.get("seed", 0)))
        latency = round((time.perf_counter() - started) * 1000, 2)
        llm.log_generation(db_session=db_session, organization_id=principal.organization_id,
                           user_id=principal.user_id, task=row.task, provider=OFFLINE, model=writer.OFFLINE_MODEL,
                           prompt_version=PROMPT_VERSION, input_tokens=0, output_tokens=0, cost_usd=Decimal(0),
                           latency_ms=latency, status="ok")
        return base | {"subject": subject, "text": body, "latencyMs": latency}
    if arm["provider"] not in available:
        return base | {"error": f"no API key is configured for {arm['provider']}"}
    system, _ = writer.prompt_for(context, writer.WriterSettings())
    try:
        completion = llm.complete(
            db_session=db_session, organization_id=principal.organization_id, user_id=principal.user_id,
            task=row.task, system=system, messages=[llm.Message("user", prompt)], json_schema=writer.DRAFT_SCHEMA,
            model=arm["model"], prompt_version=f"{PROMPT_VERSION}:{row.id}", settings=settings)
    except AppError as exc:  # budget, every provider down: this arm's result, not the run's
        return base | {"error": exc.message, "errorCode": exc.code}
    parsed = completion.parsed or {}
    return base | {"provider": completion.provider, "model": completion.model,
                   "subject": str(parsed.get("subject") or "").strip(),
                   "text": str(parsed.get("body") or completion.text).strip(),
                   "inputTokens": completion.input_tokens, "outputTokens": completion.output_tokens,
                   "costUsd": str(completion.cost_usd), "latencyMs": completion.latency_ms}


def _latest_output(row: AiPlaygroundExperiment, n: int) -> dict:
    if not row.runs:
        raise NotFound("output", n)
    outputs = row.runs[-1]["outputs"]
    if not 0 <= n < len(outputs):
        raise NotFound("output", n)
    return outputs[n]


def rate(*, db_session: Session, row: AiPlaygroundExperiment, n: int, thumbs: int | None,
         score: int | None) -> dict:
    """Rate output n of the latest run: thumbs +1/-1 and a 1–5 score (either may be cleared with null)."""
    output = _latest_output(row, n)
    output["rating"], output["score"] = thumbs, score
    flag_modified(row, "runs")
    db_session.flush()
    return output


# longest values first, so "Acme Robotics" becomes {{company}} before a shorter value could split it
_EXPORTABLE = ("fullName", "company", "title", "firstName", "lastName", "email", "department", "city", "country")


def template_text(text: str, *, prospect: Prospect) -> str:
    """The prospect's own values back as the template's variables, so the template fits any prospect."""
    data = templating.build_context(prospect=prospect)
    values = [(data.get(k), k) for k in _EXPORTABLE]
    values = [(v, k) for v, k in values if isinstance(v, str) and v.strip() and v not in
              templating.BUILTIN_DEFAULTS.values()]
    for value, key in sorted(values, key=lambda vk: -len(vk[0])):
        text = re.sub(r"(?<![\w{])" + re.escape(value) + r"(?![\w}])", "{{" + key + "}}", text)
    return text


def export(*, db_session: Session, principal: Principal, row: AiPlaygroundExperiment, n: int, name: str,
           category: str | None) -> Any:
    output = _latest_output(row, n)
    if output.get("error") or not output["text"]:
        raise ValidationFailed("this output has no text to export", code="NOTHING_TO_EXPORT",
                               details={"output": n})
    prospect = db_session.get(Prospect, row.prospect_id) if row.prospect_id else None
    subject, body = output["subject"] or row.name, output["text"]
    if prospect is not None:
        subject = template_text(subject, prospect=prospect)
        body = template_text(body, prospect=prospect)
    # the emails domain validates it like any template: braces a model wrote that name no variable are a 422
    data = TemplateIn(name=name, category=category or "ai-playground", subject=subject, text=body)
    try:
        template = templates.create(db_session=db_session, principal=principal, data=data)
    except templating.TemplateError as exc:
        raise ValidationFailed(f"the exported text is not a valid template: {exc}", code="INVALID_TEMPLATE",
                               details={"field": exc.field, "unknown": exc.unknown}) from None
    output["exportedTemplateId"] = str(template.id)
    flag_modified(row, "runs")
    db_session.flush()
    return template


def summary(row: AiPlaygroundExperiment) -> list[dict]:
    """Per provider/model over every run: outputs, errors, tokens, cost and latency, the checker's pass rate,
    the ratings."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in row.runs:
        for output in entry["outputs"]:
            groups[(output["provider"], output["model"])].append(output)
    out = []
    for (provider, model), items in sorted(groups.items()):
        ok = [o for o in items if not o.get("error")]
        scores = [o["score"] for o in ok if o.get("score") is not None]
        cost = sum((Decimal(o["costUsd"]) for o in ok), Decimal(0))
        out.append({
            "provider": provider, "model": model, "outputs": len(items), "errors": len(items) - len(ok),
            "inputTokens": sum(o["inputTokens"] for o in ok), "outputTokens": sum(o["outputTokens"] for o in ok),
            "costUsd": str(cost), "avgCostUsd": str((cost / len(ok)).quantize(Decimal("0.000001"))) if ok else None,
            "avgLatencyMs": round(sum(o["latencyMs"] for o in ok) / len(ok), 2) if ok else None,
            "checkPassRate": round(sum(1 for o in ok if (o.get("check") or {}).get("passed")) / len(ok), 4)
            if ok else None,
            "thumbsUp": sum(1 for o in ok if o.get("rating") == 1),
            "thumbsDown": sum(1 for o in ok if o.get("rating") == -1),
            "avgScore": round(sum(scores) / len(scores), 2) if scores else None,
        })
    return out
