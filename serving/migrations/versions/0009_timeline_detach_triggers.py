"""Deleting an account or a deal keeps the timeline entries that also belong to someone else.

Activities cascade with their account or deal. An entry that also belongs to a prospect or a deal stays on that
prospect's or deal's timeline, detached from the deleted row. The rule was written out in the account and deal
services, which made those domains write the activities table. As a BEFORE DELETE trigger it holds for every
delete, whoever issues it.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
create function app.detach_activities_from_account() returns trigger
language plpgsql as $$
begin
  update app.activities set account_id = null
  where account_id = old.id and (prospect_id is not null or deal_id is not null);
  return old;
end $$;

create trigger detach_activities before delete on app.accounts
for each row execute function app.detach_activities_from_account();

create function app.detach_activities_from_deal() returns trigger
language plpgsql as $$
begin
  update app.activities set deal_id = null where deal_id = old.id and prospect_id is not null;
  return old;
end $$;

create trigger detach_activities before delete on app.deals
for each row execute function app.detach_activities_from_deal();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("drop trigger if exists detach_activities on app.deals")
    op.execute("drop function if exists app.detach_activities_from_deal()")
    op.execute("drop trigger if exists detach_activities on app.accounts")
    op.execute("drop function if exists app.detach_activities_from_account()")
