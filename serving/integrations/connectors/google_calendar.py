"""Google Calendar (Calendar API v3, https://developers.google.com/calendar/api): installed with OAuth 2.0
(authorization code + PKCE, offline access so Google grants a refresh token); the check reads the primary calendar;
a sync reads its events incrementally — a first full read of the last `FULL_SYNC_DAYS` days and everything ahead,
then only what changed since, with the `nextSyncToken` kept as the integration's cursor (Google's documented
incremental synchronization; a `410 Gone` token means a full read again).

Every event a prospect attends (not declined) lands on that prospect's timeline as a booked meeting, once per
event, start and prospect (a rescheduled meeting is booked again); a cancelled event, or a prospect who declined
or was taken off it, gets the cancellation note. Attendees who are not prospects (colleagues, rooms) are skipped:
a calendar is not a lead source. Recurring meetings count once, at their first start (`singleEvents=false`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from serving.integrations import meetings
from serving.integrations.connectors import register
from serving.integrations.connectors.base import Connector, ConnectorContext, ConnectorError, SyncResult
from serving.integrations.crm_sync.clients import CrmError, CrmHttp
from serving.integrations.models import AuthType

EVENTS_PATH = "/calendar/v3/calendars/primary/events"
FULL_SYNC_DAYS = 30
PAGE_SIZE = 250  # Google's default page; the maximum is 2,500
NOT_MEETINGS = {"outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail"}


@register
class GoogleCalendarConnector(Connector):
    key = "google_calendar"
    name = "Google Calendar"
    category = "calendar"
    description = "Meetings with prospects on the timeline."
    auth_type = AuthType.oauth2
    authorize_url = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url = "https://oauth2.googleapis.com/token"
    revoke_url = "https://oauth2.googleapis.com/revoke"
    scopes = ("https://www.googleapis.com/auth/calendar.events.readonly",)
    authorize_params = {"access_type": "offline", "prompt": "consent"}
    default_base_url = "https://www.googleapis.com"
    rate_limit = "600/minute"  # Calendar API's documented per-user quota
    syncs = True

    def _http(self, ctx: ConnectorContext) -> CrmHttp:
        if not ctx.credentials.access_token:
            raise ConnectorError("not_authorized", "no access token: install again")
        return CrmHttp(ctx.http, base_url=ctx.base_url, access_token=ctx.credentials.access_token,
                       refresh=ctx.refresh)

    def check(self, ctx: ConnectorContext) -> None:
        try:
            self._http(ctx).request("GET", "/calendar/v3/calendars/primary")
        except CrmError as error:
            raise ConnectorError("refused", str(error)) from error

    def sync(self, ctx: ConnectorContext) -> SyncResult:
        cursor = ctx.extra.get("cursor") or {}
        token = cursor.get("syncToken") if isinstance(cursor, dict) else None
        http = self._http(ctx)
        try:
            events, next_token = self._changes(http, token, ctx)
        except CrmError as error:
            raise ConnectorError("refused", str(error)) from error
        result = SyncResult(read=len(events))
        for event in events:
            self._apply(ctx, event, result)
        if next_token:
            ctx.extra["next_cursor"] = {"syncToken": next_token}
        return result

    def _changes(self, http: CrmHttp, token: str | None, ctx: ConnectorContext) -> tuple[list[dict], str | None]:
        """The events changed since `token`; all of them when there is none or Google says it expired (410)."""
        try:
            return self._events(http, token, ctx)
        except CrmError as error:
            if error.status != 410 or token is None:
                raise
        return self._events(http, None, ctx)

    def _events(self, http: CrmHttp, token: str | None, ctx: ConnectorContext) -> tuple[list[dict], str | None]:
        params: dict[str, Any] = {"maxResults": PAGE_SIZE, "singleEvents": "false", "showDeleted": "true"}
        if token:
            params["syncToken"] = token
        else:
            since = ctx.extra["now"] - timedelta(days=FULL_SYNC_DAYS)
            params["timeMin"] = since.isoformat().replace("+00:00", "Z")
        events: list[dict] = []
        while True:
            page = http.request("GET", EVENTS_PATH, params=params) or {}
            events.extend(item for item in page.get("items") or [] if isinstance(item, dict))
            if not page.get("nextPageToken"):
                return events, page.get("nextSyncToken")
            params = {**params, "pageToken": page["nextPageToken"]}

    def _apply(self, ctx: ConnectorContext, event: dict[str, Any], result: SyncResult) -> None:
        db_session, integration, now = ctx.extra["db_session"], ctx.extra["integration"], ctx.extra["now"]
        event_id = str(event.get("id") or "")
        if not event_id or event.get("eventType") in NOT_MEETINGS:
            result.skipped += 1
            return
        title = event.get("summary")
        start = (event.get("start") or {}).get("dateTime") or (event.get("start") or {}).get("date")
        attending = set()
        if event.get("status") != "cancelled":
            attending = {str(a["email"]).lower() for a in event.get("attendees") or []
                         if isinstance(a, dict) and a.get("email") and not a.get("self") and not a.get("resource")
                         and a.get("responseStatus") != "declined"}
        booked = 0
        for email in sorted(attending):
            outcome = meetings.record(db_session=db_session, integration=integration,
                                      booking=f"{event_id}@{start}/{email}", email=email, name=None, title=title,
                                      start=start, canceled=False, now=now, create_missing=False,
                                      event_id=event_id)
            booked += outcome == "booked"
        canceled = meetings.cancel_missing(db_session=db_session, integration=integration, event_id=event_id,
                                           attending=attending, title=title, now=now)
        result.created += booked
        result.updated += canceled
        if not booked and not canceled:
            result.skipped += 1
