"""A list's total within a budget: exact when counting is cheap; a lower bound (`totalExact: false`) when it would
cost more than the page — a capped count, or a count given up after its time budget (the page itself is served)."""

from __future__ import annotations

from sqlalchemy import Text, cast, func, select

from serving.core.pagination import PageParams, paginate
from serving.prospects.models import Prospect
from tests.factories import unique_email


def test_the_total_is_exact_capped_or_proved_by_the_page(tenant):
    for i in range(5):
        tenant.add(Prospect, email=unique_email(f"count{i}"))
    mine = Prospect.organization_id == tenant.organization_id  # the owner connection sees every tenant
    stmt = select(Prospect).where(mine).order_by(Prospect.email)
    with tenant.session() as db, db.begin():
        rows, exact = paginate(db, stmt, PageParams(page=1, limit=2), count_cap=10)
        assert (len(rows), exact.total, exact.total_exact) == (2, 5, True)
        assert exact.model_dump(by_alias=True) == {"page": 1, "limit": 2, "total": 5, "pages": 3}
        _, capped = paginate(db, stmt, PageParams(page=1, limit=2), count_cap=3)
        assert (capped.total, capped.total_exact) == (4, False)
        assert capped.model_dump(by_alias=True)["totalExact"] is False
        # a count that outruns its budget (each row sleeps) is given up; the page is still there
        slow = select(Prospect).where(mine, func.coalesce(cast(func.pg_sleep(0.02), Text), "") == "") \
            .order_by(Prospect.email)
        rows, late = paginate(db, slow.limit(100), PageParams(page=2, limit=2), count_budget_ms=30)
        assert len(rows) == 2 and (late.total, late.total_exact) == (5, False)  # 2 before + 2 here + more
        assert db.scalar(select(func.current_setting("statement_timeout"))) == "0"  # the budget did not linger
