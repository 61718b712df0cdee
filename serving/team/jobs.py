"""Worker jobs of the team domain: the weekly summary e-mails (an hourly sweep: each user's Monday 08:00 comes in
their own time zone) and, nightly, forgetting signed-out tokens that have expired anyway."""

from __future__ import annotations

from serving.auth import service as auth
from serving.core.clock import utcnow
from serving.core.queue import QUEUE, queue, runtime
from serving.team import digest


@queue.periodic(cron="5 * * * *", periodic_id="team-weekly-digest")
@queue.task(name="team.weekly_digest", queue=QUEUE, queueing_lock="team.weekly_digest")
def periodic_weekly_digest(timestamp: int) -> int:
    rt = runtime()
    return digest.send_due(factory=rt.factory, settings=rt.settings, now=utcnow())


@queue.periodic(cron="23 3 * * *", periodic_id="auth-purge-revoked-tokens")
@queue.task(name="auth.purge_revoked_tokens", queue=QUEUE, queueing_lock="auth.purge_revoked_tokens")
def periodic_purge(timestamp: int) -> int:
    with runtime().factory() as session, session.begin():
        return auth.purge_revoked_tokens(db_session=session, now=utcnow())
