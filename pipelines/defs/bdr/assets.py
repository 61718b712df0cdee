"""The `bdr` group: the BDR agent's batches, queued for the worker (which binds each organization's tenant and
makes the per-prospect steps, each idempotent through `bdr_tasks`).

- `bdr/discovery_runs`: a `bdr.run` job (discover → research → engage) for every organization whose agent is on;
  every 15 minutes — each organization's `discovery.intervalMinutes` (60 by default) decides whether its job runs
  the agent, and the agent itself holds messages outside each prospect's working hours.
- `bdr/learning`: a `bdr.learn` job for every configured organization (the day's counts recorded, a winner
  among its messaging variants declared when the evidence is enough); daily.

Both read the work list on the owner connection; one waiting job per organization absorbs a repeated request.
"""

import dagster as dg

from pipelines.resources import PostgresResource
from serving.bdr import jobs

GROUP = "bdr"
DISCOVERY = dg.AssetKey(["bdr", "discovery_runs"])
LEARNING = dg.AssetKey(["bdr", "learning"])


def _request(context: dg.AssetExecutionContext, postgres: PostgresResource, task: str) -> dg.MaterializeResult:
    with postgres.session() as session:
        queued = jobs.request_runs(db_session=session, task=task)
        session.commit()
    context.log.info("%s queued for %d organizations", task, queued)
    return dg.MaterializeResult(metadata={"organizations": dg.MetadataValue.int(queued),
                                          "task": dg.MetadataValue.text(task)})


@dg.asset(key=DISCOVERY, group_name=GROUP, kinds={"postgres"},
          description="A BDR agent run (discover, research, engage) queued for every organization whose agent is on.")
def bdr_discovery_runs(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    return _request(context, postgres, jobs.RUN_TASK)


@dg.asset(key=LEARNING, group_name=GROUP, kinds={"postgres"},
          description="The BDR agent's learning batch queued per organization: daily counts recorded, a winner "
                      "among its messaging variants declared once every variant has enough sends.")
def bdr_learning(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    return _request(context, postgres, jobs.LEARN_TASK)


bdr_discovery_job = dg.define_asset_job("bdr_discovery", selection=dg.AssetSelection.assets(DISCOVERY),
                                        description="Queue a BDR agent run for every organization whose agent is on.")
bdr_discovery_schedule = dg.ScheduleDefinition(name="bdr_discovery", job=bdr_discovery_job,
                                               cron_schedule="*/15 * * * *",
                                               default_status=dg.DefaultScheduleStatus.RUNNING)
bdr_learning_job = dg.define_asset_job("bdr_learning", selection=dg.AssetSelection.assets(LEARNING),
                                       description="Queue the BDR agent's learning batch for every organization.")
bdr_learning_schedule = dg.ScheduleDefinition(name="bdr_learning_daily", job=bdr_learning_job,
                                              cron_schedule="45 4 * * *",
                                              default_status=dg.DefaultScheduleStatus.RUNNING)
