"""The rules table covers the catalogue: every catalogued event notifies someone or says why not; future events are
not yet catalogued (else they would silently notify nobody); titles render from real payload shapes."""

from __future__ import annotations

import uuid

from serving.core.event_catalogue import CATALOGUE
from serving.notifications import rules
from serving.notifications.flows import SUBSCRIBERS


def test_every_catalogued_event_is_decided():
    live = rules.live_event_types()
    assert set(CATALOGUE) == live | set(rules.NOT_NOTIFIED)
    assert not live & set(rules.NOT_NOTIFIED)
    future = {r.event_type for r in rules.RULES if r.future}
    assert future == {"ticket.assigned"} and not future & set(CATALOGUE)
    # the BDR agent's hand-off (issue 15) is catalogued: it reaches the rep it was routed to, urgently
    handoff = rules.BY_TYPE["bdr.handoff_ready"]
    assert not handoff.future and handoff.recipients == ("payload:toUserId",) and handoff.priority == "urgent"


def test_the_subscribers_listen_to_exactly_the_live_rules():
    assert set().union(*(s.event_types for s in SUBSCRIBERS)) == rules.live_event_types()
    assert {r.priority for r in rules.RULES} <= {"low", "medium", "high", "urgent"}


def test_titles_groups_and_links_render_from_payloads():
    deal = str(uuid.uuid4())
    moved = rules.BY_TYPE["deal.stage_changed"]
    payload = {"dealId": deal, "fromStage": "proposal", "toStage": "negotiation"}
    assert rules.render(moved.title, payload, dealName="Acme") == "Acme moved from proposal to negotiation"
    assert rules.render(moved.group, payload) == f"deal.stage_changed:{deal}"
    assert rules.render(moved.action, payload) == f"/deals/{deal}"
    assert not rules.skipped(moved, payload)
    assert rules.skipped(moved, {**payload, "toStage": "closed_won"})
    # a field the payload lacks renders empty instead of failing the delivery
    assert rules.render("Reply to “{subject}”", {}) == "Reply to “”"
