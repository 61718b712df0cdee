"""Every page renders on the seeded database, shows the marts' figures, reacts to filters and stays in its tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from dashboards.analysis.ab_test import two_proportion_test
from dashboards.components import session, tables
from dashboards.components.formatting import money
from serving.core.db import engine_for
from serving.search import service as search_service
from tests.dashboards.conftest import ADMIN_LOGIN, OTHER_DEAL_NAME, REP_LOGIN, ROOT, VIEWER_LOGIN, other_login

pytestmark = pytest.mark.slow
ENTRY = str(ROOT / "dashboards" / "streamlit_app.py")


def open_page(page: str, login: tuple[str, str] = REP_LOGIN) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[session.SESSION_KEY] = session.login(*login)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    assert found, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return found[0]


def frame(at: AppTest, column: str, nth: int = 0):
    """The nth table on the page that has this data column (AppTest does not keep dataframe keys), or None; with
    the data's own column names (the page shows them as headings: `deal_name` as `Deal name`)."""
    found = [d.value for d in at.dataframe if tables.heading(column) in d.value.columns]
    if len(found) <= nth:
        return None
    return found[nth].rename(columns=lambda c: c.lower().replace(" ", "_"))


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_sign_in_form_uses_the_api(seeded):
    at = AppTest.from_file(ENTRY, default_timeout=60).run()
    assert at.text_input and not at.metric  # only the form
    at.text_input[0].input(REP_LOGIN[0])
    at.text_input[1].input("wrong password")
    at.button[0].click().run()
    assert at.error and session.SESSION_KEY not in at.session_state
    at.text_input[1].input(REP_LOGIN[1])
    at.button[0].click().run()
    assert at.session_state[session.SESSION_KEY].email == REP_LOGIN[0]
    no_errors(at)
    assert at.title[0].value == "Today"  # the rep lands on their day


def test_pipeline_board_matches_deals_and_filters_narrow_it(seeded):
    at = open_page("pipeline")
    no_errors(at)
    org = seeded.demo_org
    count, value = seeded.one("select count(*), sum(amount) from app.deals where organization_id = %s"
                              " and stage not in ('closed_won', 'closed_lost')", org)
    assert metric(at, "Open deals").value == f"{count:,}"
    assert metric(at, "Open pipeline").value == money(float(value))
    n, v = seeded.one("select count(*), coalesce(sum(amount), 0) from app.deals where organization_id = %s"
                      " and stage = 'negotiation'", org)
    board = metric(at, "Negotiation value")
    assert (board.value, board.delta) == (money(float(v)), f"{n:,} deals")
    assert len(at.download_button) >= 1

    owner_id, owner_open = seeded.one(
        "select owner_id, count(*) from app.deals where organization_id = %s and owner_id is not null"
        " and stage not in ('closed_won', 'closed_lost') group by owner_id order by count(*) desc limit 1", org)
    at.multiselect(key="pipeline_owner").set_value([str(owner_id)]).run()
    no_errors(at)
    assert metric(at, "Open deals").value == f"{owner_open:,}"
    assert owner_open < count


def test_stage_change_goes_through_the_api_and_shows_after_refresh(seeded):
    org = seeded.demo_org
    deal_id, owner_id, name = seeded.one(
        "select id, owner_id, name from app.deals where organization_id = %s and stage = 'qualification'"
        " and owner_id is not null order by amount desc nulls last limit 1", org)
    at = open_page("pipeline")
    at.multiselect(key="pipeline_owner").set_value([str(owner_id)]).run()
    at.selectbox(key="pipeline_deal").set_value(str(deal_id)).run()
    assert metric(at, "Stage").value == "Qualification"
    at.selectbox(key="pipeline_new_stage").set_value("proposal").run()
    at.button(key="pipeline_move").click().run()
    no_errors(at)
    assert any("Moved" in s.value for s in at.success)
    # written by the API as the signed-in rep, with the stage-change event (the timeline entry is its subscriber's)
    rep_id = seeded.one("select id from app.users where email = %s", REP_LOGIN[0])[0]
    assert seeded.one("select stage from app.deals where id = %s", deal_id)[0] == "proposal"
    assert seeded.one("select actor_user_id, payload ->> 'toStage' from app.domain_events where subject_id = %s"
                      " and type = 'deal.stage_changed' order by recorded_at desc limit 1", deal_id) == (rep_id,
                                                                                                        "proposal")
    # a fresh session (a refresh) shows the new stage on the board and in the drill-down
    again = open_page("pipeline")
    again.multiselect(key="pipeline_owner").set_value([str(owner_id)]).run()
    again.selectbox(key="pipeline_deal").set_value(str(deal_id)).run()
    assert metric(again, "Stage").value == "Proposal"
    n = seeded.one("select count(*) from app.deals where organization_id = %s and owner_id = %s"
                   " and stage = 'proposal'", org, owner_id)[0]
    assert metric(again, "Proposal value").delta == f"{n:,} deals"
    assert name


def test_viewers_cannot_move_deals(seeded):
    at = open_page("pipeline", VIEWER_LOGIN)
    no_errors(at)
    assert at.button(key="pipeline_move").disabled


def test_forecast_figures_equal_the_mart_and_switch_to_weighted(seeded):
    at = open_page("forecast", ADMIN_LOGIN)
    no_errors(at)
    rows = dict((r[0], (r[1], r[2])) for r in seeded.all(
        "select forecast_category, amount, weighted_amount from analytics.fct_forecast where organization_id = %s"
        " and dimension = 'organization' and period_type = 'quarter'", seeded.demo_org))
    assert metric(at, "Commit").value == money(float(rows["commit"][0]))
    assert metric(at, "Closed won").value == money(float(rows["closed"][0]))
    at.radio(key="forecast_mode").set_value("Weighted").run()
    no_errors(at)
    assert metric(at, "Pipeline").value == money(float(rows["pipeline"][1]))
    at.segmented_control(key="forecast_period").set_value("year").run()
    year = seeded.one("select amount from analytics.fct_forecast where organization_id = %s and dimension ="
                      " 'organization' and period_type = 'year' and forecast_category = 'closed'", seeded.demo_org)[0]
    assert metric(at, "Closed won").value == money(float(year))


def test_performance_metrics_equal_the_marts_and_follow_the_user_filter(seeded):
    at = open_page("performance", ADMIN_LOGIN)
    no_errors(at)
    since = date.today() - timedelta(days=89)
    calls, meetings = seeded.one("select coalesce(sum(calls), 0), coalesce(sum(meetings), 0)"
                                 " from analytics.agg_activity_daily where organization_id = %s"
                                 " and activity_date between %s and %s", seeded.demo_org, since, date.today())
    assert metric(at, "Calls").value == f"{calls:,}"
    assert metric(at, "Meetings").value == f"{meetings:,}"
    sent = seeded.one("select coalesce(sum(sent), 0) from analytics.agg_email_engagement_daily where organization_id"
                      " = %s and dimension = 'prospect' and event_date between %s and %s",
                      seeded.demo_org, since, date.today())[0]
    assert metric(at, "Sent").value == f"{sent:,}"
    assert any("BDR agent has not contacted anyone" in i.value for i in at.info)  # the API's, for these dates
    user_id, user_calls = seeded.one(
        "select user_id, sum(calls) from analytics.agg_activity_daily where organization_id = %s"
        " and activity_date between %s and %s group by user_id order by sum(calls) desc limit 1",
        seeded.demo_org, since, date.today())
    at.multiselect(key="performance_user").set_value([str(user_id)]).run()
    no_errors(at)
    assert metric(at, "Calls").value == f"{user_calls:,}"


def test_outreach_templates_and_ab_significance(seeded):
    at = open_page("outreach", ADMIN_LOGIN)
    no_errors(at)
    templates = frame(at, "open_rate", 0)
    assert sorted(templates["delivered"].tolist()) == [60, 60]
    assert sorted(templates["opened"].tolist()) == [12, 30]
    expected = two_proportion_test(30, 60, 12, 60)
    a_name = templates.sort_values("opened", ascending=False)["name"].iloc[0]
    b_name = templates.sort_values("opened")["name"].iloc[0]
    at.selectbox(key="outreach_ab_a").set_value(a_name).run()
    at.selectbox(key="outreach_ab_b").set_value(b_name).run()
    no_errors(at)
    assert metric(at, "p-value").value == f"{expected.p_value:.4f}"
    assert any("Variant A wins" in s.value for s in at.success)
    cadences = frame(at, "open_rate", 1)
    assert cadences["sent"].tolist() == [120]
    # best time to send: every message sent in the default 90-day range, in its UTC weekday and hour
    slots = frame(at, "weekday_name").set_index(["weekday", "hour"])
    expected = seeded.all(
        "select extract(isodow from sent_at)::int, extract(hour from sent_at)::int, count(*),"
        " count(*) filter (where opened) from (select message_key, min(occurred_at) filter (where event ="
        " 'processed') as sent_at, bool_or(event = 'open') as opened from analytics.fct_email_events"
        " where organization_id = %s group by message_key) m where sent_at >= current_date - 89"
        " group by 1, 2", seeded.demo_org)
    assert {(w, h): (n, o) for w, h, n, o in expected} == {
        key: (row.sent, row.opened) for key, row in slots.iterrows()}


def test_intent_tiers_equal_the_mart(seeded):
    at = open_page("intent", ADMIN_LOGIN)
    no_errors(at)
    for tier in ("burning", "hot", "warm", "low"):
        prospects = seeded.one("select count(*) from analytics.fct_prospect_intent where organization_id = %s"
                               " and intent_tier = %s", seeded.demo_org, tier)[0]
        assert metric(at, f"{tier.title()} prospects").value == f"{prospects:,}"
    top = seeded.one("select max(intent_score) from analytics.fct_prospect_intent where organization_id = %s",
                     seeded.demo_org)[0]
    assert frame(at, "email")["intent_score"].iloc[0] == top


def test_lead_scoring_shows_the_champion_its_scores_and_explanations(seeded):
    at = open_page("lead_scoring", ADMIN_LOGIN)
    no_errors(at)
    version, metrics = seeded.one("select version, model_card -> 'metrics' from app.ml_models"
                                  " where organization_id = %s and is_champion", seeded.demo_org)
    assert metric(at, "Version").value == version
    assert metric(at, "ROC-AUC").value == f"{metrics['roc_auc']:.3f}"
    assert metric(at, "PR-AUC").value == f"{metrics['pr_auc']:.3f}"
    deciles = frame(at, "lift")
    assert deciles["lift"].tolist() == pytest.approx([d["lift"] for d in metrics["deciles"]])
    # today's distribution: prospects per score band equal the history table
    bands = frame(at, "bucket")
    today = bands[bands["score_date"] == bands["score_date"].max()]
    scored = seeded.one("select count(*) from app.lead_score_history where organization_id = %s"
                        " and score_date = (select max(score_date) from app.lead_score_history"
                        " where organization_id = %s)", seeded.demo_org, seeded.demo_org)[0]
    assert int(today["prospects"].sum()) == scored > 0
    versions = frame(at, "roc_auc")
    assert version in versions["version"].tolist()
    # one prospect's explanation: the latest logged prediction's factors
    email, score, factors = seeded.one(
        "select p.email, pr.score, pr.top_factors from app.ai_predictions pr join app.prospects p on p.id ="
        " pr.prospect_id where pr.organization_id = %s and jsonb_array_length(pr.top_factors) > 0"
        " order by pr.created_at desc, p.email limit 1", seeded.demo_org)
    at.text_input(key="lead_email").input(email.upper()).run()
    no_errors(at)
    assert metric(at, "Score").value == str(score)
    shown = frame(at, "impact")
    assert shown["text"].tolist()[:len(factors)] == [f["text"] for f in factors]
    at.text_input(key="lead_email").input("nobody@nowhere.test").run()
    assert any("No scored prediction" in i.value for i in at.info)


def test_lead_scoring_is_empty_for_an_organization_without_a_model(seeded):
    at = open_page("lead_scoring", other_login(seeded))
    no_errors(at)
    assert at.info and "no champion" in at.info[0].value.lower()
    assert frame(at, "roc_auc") is None and frame(at, "bucket") is None


def test_data_health_lists_checks_counts_and_rejects(seeded):
    at = open_page("data_health", ADMIN_LOGIN)
    no_errors(at)
    assert int(metric(at, "Checks").value.replace(",", "")) > 50
    assert metric(at, "Failing").value == "0"
    counts = frame(at, "org_rows").set_index("mart")["org_rows"]
    expected = seeded.one("select count(*) from analytics.fct_forecast where organization_id = %s", seeded.demo_org)
    assert counts["fct_forecast"] == expected[0]
    rejected = frame(at, "reason")
    assert "strength is not a number: 'abc'" in rejected["reason"].tolist()


def test_another_organization_sees_none_of_the_demo_figures(seeded):
    login = other_login(seeded)
    at = open_page("pipeline", login)
    no_errors(at)
    deals = frame(at, "deal_name")
    assert deals["deal_name"].tolist() == [OTHER_DEAL_NAME]
    assert deals["open"].iloc[0].startswith("/deals?deal=")  # the row opens the deal's record
    assert metric(at, "Open deals").value == "1"
    health = open_page("data_health", login)
    no_errors(health)
    assert frame(health, "reason") is None
    counts = frame(health, "org_rows").set_index("mart")["org_rows"]
    assert counts["fct_email_events"] == 0
    outreach = open_page("outreach", login)
    assert frame(outreach, "open_rate") is None
    intent = open_page("intent", login)
    demo_emails = {r[0] for r in seeded.all("select email from app.prospects where organization_id = %s",
                                            seeded.demo_org)}
    shown = frame(intent, "email")
    assert shown is None or not demo_emails & set(shown["email"])


def test_search_page_shows_the_search_marts_and_agrees_with_the_analytics_api(seeded):
    org = seeded.demo_org
    at = open_page("search", ADMIN_LOGIN)
    no_errors(at)
    # the default window, the last 30 days, holds every logged search but the 40-day-old one
    searches, zero, clicked = seeded.one(
        "select count(*), count(*) filter (where result_count = 0), count(*) filter (where exists (select 1 from"
        " app.search_clicks c where c.search_id = s.id)) from app.search_analytics s where organization_id = %s"
        " and (created_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - 30", org)
    assert searches == 5
    assert metric(at, "Searches").value == f"{searches:,}"
    assert metric(at, "Zero-result rate").value == f"{zero / searches * 100:.1f}%"
    assert metric(at, "Click-through rate").value == f"{clicked / searches * 100:.1f}%"
    top = frame(at, "avg_results")
    assert top["query"].tolist()[:2] == ["acme", "zzz nothing"] and "globex" not in top["query"].tolist()
    zero_table = frame(at, "zero_result_searches", 1)
    assert zero_table[["query", "zero_result_searches"]].values.tolist() == [["zzz nothing", 2]]
    refined = frame(at, "refined_to")
    assert refined[["query", "refined_to", "refinements"]].values.tolist() == [["acme", "acme corp", 1]]
    assert frame(at, "popularity_rank")["query"].iloc[0] == "acme"

    # the marts say what GET /api/v1/search/analytics says for the same 30 days
    now = datetime.now(UTC)
    with Session(engine_for(seeded.settings.owner_database_url)) as session:
        api = search_service.analytics(db_session=session, since=now - timedelta(days=30), until=now)
    positions = seeded.all("select position, clicks, click_through_rate from analytics.agg_search_click_positions"
                           " where organization_id = %s and window_days = 30 order by position", org)
    assert [(p, c, pytest.approx(float(r), abs=1e-4)) for p, c, r in positions] == [
        (p["position"], p["clicks"], p["click_through_rate"]) for p in api["click_through_by_position"]]
    assert [(r["query"], r["next_query"], r["count"]) for r in api["refinements"]] == [("acme", "acme corp", 1)]

    at.segmented_control(key="search_window").set_value(90).run()
    no_errors(at)
    assert metric(at, "Searches").value == "6"
    assert "globex" in frame(at, "avg_results")["query"].tolist()


def test_search_page_of_another_organization_is_empty(seeded):
    at = open_page("search", other_login(seeded))
    no_errors(at)
    assert metric(at, "Searches").value == "0"
    assert any("No searches" in i.value for i in at.info)
    assert frame(at, "avg_results") is None
