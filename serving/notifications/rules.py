"""Which domain events notify whom, at what priority: one table of data, read by the notifications subscriber
(`flows.py`), the docs (`docs/notifications.md`) and its tests.

`recipients` names who is told — resolved against the records by `flows.recipients_for`:
- `payload:<field>`: the user id the payload carries (e.g. `payload:ownerId`, `payload:assigneeId`);
- `deal_owner`, `prospect_owner`, `account_owner`: the owner of the record the payload points at;
- `email_sender`: the user who sent the e-mail (`userId`), else the prospect's owner;
- `admins`: every active admin of the organization.

`group` builds the collapse key: the same key for the same user within `COLLAPSE_WINDOW` raises the open
notification's count instead of adding a row (ten opens of one e-mail are one notification "… (10)").
Events marked `future` have no producer yet (their domains come with later issues); they are listed so the
settings page and the docs show the whole catalogue, and are not subscribed to until they are catalogued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

COLLAPSE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    event_type: str
    recipients: tuple[str, ...]
    priority: str  # low | medium | high | urgent
    # str.format over the payload (camelCase keys) and the names flows resolves: dealName, prospectName, accountName,
    # subjectName (the prospect, else the account)
    title: str
    group: str | None = None  # str.format like `title`; None: never collapsed
    action: str | None = None  # the in-app path the notification opens, str.format like `title`
    # payload values that make the event not worth a notification (another event says it better)
    skip: tuple[tuple[str, tuple[str, ...]], ...] = ()
    future: bool = False


RULES: tuple[Rule, ...] = (
    Rule("lead.score_threshold_crossed", ("payload:ownerId",), "high",
         "{displayName} reached a lead score of {score}", action="/prospects/{prospectId}"),
    Rule("prospect.qualified", ("prospect_owner",), "medium", "{prospectName} was qualified",
         action="/prospects/{prospectId}"),
    Rule("deal.created", ("payload:ownerId",), "low", "New deal: {name}", action="/deals/{dealId}"),
    Rule("deal.stage_changed", ("deal_owner",), "medium", "{dealName} moved from {fromStage} to {toStage}",
         group="deal.stage_changed:{dealId}", action="/deals/{dealId}",
         skip=(("toStage", ("closed_won", "closed_lost")),)),  # deal.won / deal.lost notify those
    Rule("deal.won", ("deal_owner", "admins"), "high", "Deal won: {dealName}", action="/deals/{dealId}"),
    Rule("deal.lost", ("deal_owner",), "medium", "Deal lost: {dealName}", action="/deals/{dealId}"),
    Rule("email.replied", ("email_sender",), "high", "Reply to “{subject}”", action="/emails/{emailId}"),
    Rule("email.opened", ("email_sender",), "low", "“{subject}” was opened",
         group="email.opened:{emailId}", action="/emails/{emailId}"),
    Rule("email.clicked", ("email_sender",), "low", "A link in “{subject}” was clicked",
         group="email.clicked:{emailId}", action="/emails/{emailId}"),
    Rule("email.bounced", ("email_sender", "admins"), "high", "An e-mail to {toEmail} bounced",
         group="email.bounced:{toEmail}", action="/emails/{emailId}"),
    Rule("email.spam_reported", ("email_sender", "admins"), "urgent", "{toEmail} reported an e-mail as spam",
         action="/emails/{emailId}"),
    Rule("email.unsubscribed", ("prospect_owner",), "low", "{address} unsubscribed",
         group="email.unsubscribed:{address}"),
    Rule("meeting.scheduled", ("prospect_owner",), "high", "Meeting booked with {prospectName}",
         action="/prospects/{prospectId}"),
    Rule("task.due_soon", ("payload:assigneeId",), "high", "Task due soon: {title}", action="/tasks/{taskId}"),
    Rule("intent.spike_detected", ("prospect_owner", "account_owner"), "high",
         "Buying intent spiked for {subjectName} ({intentScore})",
         group="intent.spike_detected:{prospectId}:{accountId}"),
    Rule("billing.plan_changed", ("admins",), "medium", "Plan changed from {fromPlan} to {toPlan}",
         action="/billing"),
    Rule("billing.payment_failed", ("admins",), "urgent", "A payment failed: update the payment method",
         action="/billing"),
    Rule("team.member_joined", ("admins",), "low", "{email} joined the team as {role}", action="/team"),
    Rule("team.role_changed", ("payload:userId", "admins"), "medium", "{email} is now {role} (was {previousRole})",
         action="/team"),
    # future: catalogued by the issues that build their producers (ticketing)
    Rule("bdr.handoff_ready", ("payload:toUserId",), "urgent", "{prospectName} is ready for you: a BDR hand-off",
         action="/prospects/{prospectId}"),
    Rule("ticket.assigned", ("payload:assigneeId",), "high", "Ticket assigned to you", future=True),
)

BY_TYPE: dict[str, Rule] = {rule.event_type: rule for rule in RULES}

# Catalogued events that notify nobody, and why: a new catalogued event must land in RULES or here (tested).
NOT_NOTIFIED: dict[str, str] = {
    "prospect.created": "the creator's own action; imports would flood the list",
    "prospect.updated": "field edits; qualification has its own event",
    "email.sent": "the sender's own action",
    "email.delivered": "expected for every e-mail; bounces are the news",
    "call.logged": "the caller's own action",
    "enrichment.completed": "routine data upkeep, often for imports; the enriched fields show on the prospect",
    "team.member_invited": "the inviting admin's own action; the invitee is e-mailed, not a member yet",
    "team.member_removed": "the removed member can no longer read notifications; the admin did it",
}


def skipped(rule: Rule, payload: dict) -> bool:
    return any(payload.get(field) in values for field, values in rule.skip)


def live_event_types() -> frozenset[str]:
    return frozenset(rule.event_type for rule in RULES if not rule.future)


class _Blank(dict):
    """Formatting context: a field the payload lacks renders empty rather than raising."""

    def __missing__(self, key: str) -> str:
        return ""


def render(template: str | None, payload: dict, **extra: str) -> str | None:
    if template is None:
        return None
    context = _Blank({k: ("" if v is None else v) for k, v in payload.items()})
    context.update(extra)
    return template.format_map(context).strip()
