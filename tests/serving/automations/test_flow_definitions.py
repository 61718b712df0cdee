"""Flow definitions and mappings without a database: the sandboxed renderer (types kept for a whole `{{…}}`,
StrictUndefined, no Python internals, no memory bombs), the record_change filter, the cron's next time in a time
zone, and YAML documents that refuse aliases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from serving.automations import definition, rendering
from serving.automations.executions import next_run
from serving.automations.flows import matches


def test_rendering_keeps_types_and_fails_clearly():
    context = {"deal": {"name": "Acme", "amount": 1200.5, "tags": ["a", "b"]}, "vars": {}}
    assert rendering.render("{{ deal.amount }}", context) == 1200.5
    assert rendering.render(" {{deal.tags}} ", context) == ["a", "b"]
    assert rendering.render("{{ deal.name }} for {{ deal.amount }}", context) == "Acme for 1200.5"
    assert rendering.render({"k": ["{{ deal.name | upper }}", 3]}, context) == {"k": ["ACME", 3]}
    assert rendering.render("no braces", context) == "no braces"
    with pytest.raises(rendering.RenderError, match=r"has no attribute 'owner'|'deal' is undefined"):
        rendering.render("{{ deal.owner.name }}", context)
    with pytest.raises(rendering.RenderError, match="'account' is undefined"):
        rendering.render("Hi {{ account.name }}", context)
    with pytest.raises(rendering.RenderError, match="unsafe"):
        rendering.render("{{ deal.__class__.__mro__ }}", context)
    with pytest.raises(rendering.RenderError, match="longer than"):
        rendering.render("{{ 'x' * 1000000000 }}", context)
    with pytest.raises(rendering.RenderError, match="exponent"):
        rendering.evaluate("9 ** 99999999", context)
    assert rendering.evaluate("deal.amount > 1000 and 'a' in deal.tags", context) is True


def test_templates_and_expressions_are_checked_before_saving():
    spec = definition.FlowSpec.model_validate({"name": "x", "trigger": {"type": "manual"}, "steps": [
        {"id": "a", "type": "http_request", "url": "https://x.example/{{ id", "headers": {"A": "{% if %}"}},
        {"id": "b", "type": "loop", "over": "items[", "steps": [{"id": "c", "type": "transform",
                                                                "set": {"v": "{{ ok }}"}}]}]})
    assert {p["field"] for p in definition.problems(spec)} == {"steps[0].url", "steps[0].headers.A", "steps[1].over"}


def test_record_change_filters():
    payload = {"toStage": "negotiation", "amount": 5000.0, "dealId": "0b5e", "won": False}
    assert matches({}, payload)
    assert matches({"toStage": "negotiation", "amount": 5000}, payload)
    assert matches({"toStage": ["proposal", "negotiation"]}, payload)
    assert not matches({"toStage": "proposal"}, payload)
    assert not matches({"won": 0}, payload) and matches({"won": False}, payload)  # booleans are not numbers
    assert not matches({"missing": "x"}, payload) and matches({"missing": None}, payload)


def test_cron_next_time_in_the_triggers_zone():
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_run({"cron": "0 9 * * *"}, after) == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)
    # 09:00 in Paris: UTC+1 before the clocks change on 29 March, UTC+2 after
    paris = {"cron": "0 9 * * *", "timezone": "Europe/Paris"}
    assert next_run(paris, after) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert next_run(paris, datetime(2026, 3, 27, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)


def test_yaml_documents_refuse_aliases_and_unknown_keys():
    head = f"apiVersion: {definition.API_VERSION}\nkind: Flow\n"
    with pytest.raises(definition.InvalidDocument, match="aliases"):
        definition.from_yaml(head + "metadata: {name: x}\nspec:\n  trigger: &t {type: manual}\n  other: *t\n")
    with pytest.raises(definition.InvalidDocument, match="unknown top-level keys: status"):
        definition.from_yaml(head + "metadata: {name: x}\nspec: {}\nstatus: {}\n")
    with pytest.raises(definition.InvalidDocument) as caught:
        definition.from_yaml(head + "metadata: {name: x, owner: me}\nspec: {}\n")
    assert caught.value.errors == [{"field": "metadata.owner", "message": "not allowed"}]
    spec = definition.from_yaml(head + "metadata: {name: x, version: 7}\nspec:\n  trigger: {type: manual}\n"
                                "  steps: [{id: a, type: transform, set: {b: 1}}]\n")
    assert spec.name == "x" and spec.steps[0].set == {"b": 1}
