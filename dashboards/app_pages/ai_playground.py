"""AI playground: arms (the offline writer, any configured model, each with its own prompt if you like) run side
by side on one prospect's context — text, tokens, cost, latency and the checker's verdict — rated with thumbs and
a 1–5 score, kept as history, exported to an e-mail template, and a chart of cost against latency per model.
Everything goes through the API (`/ai/playground/...`)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.components import session, states

SELECTED = "ai_playground_selected"
FLASH = "ai_playground_flash"
NEW = "__new__"

user = session.current()
st.title("AI playground")


def call(method: str, path: str, body=None):
    return session.api_call(method, path, token=user.token, json=body)


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


try:
    experiments = call("GET", "/ai/playground/experiments?limit=100")["data"]
    models = call("GET", "/ai/models")
    prospects = call("GET", "/prospects?limit=100")["data"]
except session.ApiError as exc:
    st.error(exc.message)
    st.stop()

if FLASH in st.session_state:
    kind, message = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(message)

model_rows = models["data"] if isinstance(models, dict) else models
arm_choices = ["offline"] + [f"{m['provider']}/{m['name']}" for m in model_rows if m.get("available")]
names = {e["id"]: e["name"] for e in experiments}
options = [NEW, *names]
current = st.session_state.get(SELECTED)
chosen = st.selectbox("Experiment", options, index=options.index(current) if current in options else 0,
                      format_func=lambda i: "New experiment…" if i == NEW else names[i], key="ai_playground_pick")

if chosen == NEW:
    if not prospects:
        states.empty("No prospects yet: an experiment runs on one prospect's facts.")
        st.stop()
    labels = {p["id"]: f"{p.get('firstName') or ''} {p.get('lastName') or ''} · {p.get('company') or p['email']}"
              for p in prospects}
    with st.form("ai_playground_new"):
        name = st.text_input("Name", key="ai_playground_name")
        prospect_id = st.selectbox("Prospect", list(labels), format_func=labels.get, key="ai_playground_prospect")
        prompt = st.text_area("Prompt template", key="ai_playground_prompt",
                              value="Write a short first e-mail to {{firstName}} at {{company}}.\n{{facts}}",
                              help="Mustache variables: the prospect's ({{firstName}}, {{company}}, {{title}} …), "
                                   "{{facts}} (with their sources) and your own, declared below")
        variables_text = st.text_area("Your variables (one name=value a line)", key="ai_playground_variables")
        arms = st.multiselect("Arms", arm_choices, default=["offline"], key="ai_playground_arms",
                              help="models whose provider has a key; the offline writer is always there")
        created = st.form_submit_button("Create", disabled=not user.can_write)
    if created:
        variables = dict(line.split("=", 1) for line in variables_text.splitlines() if "=" in line)
        arm_list = []
        for i, arm in enumerate(arms):
            provider, _, model = arm.partition("/")
            arm_list.append({"provider": provider, "seed": i} if provider == "offline"
                            else {"provider": provider, "model": model})
        try:
            made = call("POST", "/ai/playground/experiments",
                        {"name": name, "promptTemplate": prompt, "variables": {k.strip(): v.strip()
                                                                              for k, v in variables.items()},
                         "prospectId": prospect_id, "arms": arm_list})
        except session.ApiError as exc:
            st.error(exc.message)
        else:
            st.session_state[SELECTED] = made["id"]
            flash("success", f"Created {made['name']}.")
            st.rerun()
    st.stop()

st.session_state[SELECTED] = chosen
experiment = next(e for e in experiments if e["id"] == chosen)
st.caption(f"{len(experiment['arms'])} arms · {len(experiment['runs'])} runs · prompt:")
st.code(experiment["promptTemplate"], language=None, wrap_lines=True)
if st.button("Run every arm", icon=":material/play_arrow:", type="primary", disabled=not user.can_write,
             key="ai_playground_run"):
    try:
        call("POST", f"/ai/playground/experiments/{chosen}/run")
    except session.ApiError as exc:
        st.error(exc.message)
    else:
        flash("success", "Ran every arm.")
        st.rerun()

if not experiment["runs"]:
    states.empty("No runs yet: run the arms to compare them.")
    st.stop()

latest = experiment["runs"][-1]
st.subheader("Latest run")
columns = st.columns(len(latest["outputs"]))
for n, (column, output) in enumerate(zip(columns, latest["outputs"], strict=True)):
    with column, st.container(border=True):
        st.markdown(f"**{output['provider']} / {output['model']}**")
        if output.get("error"):
            st.error(output["error"])
            continue
        st.markdown(f"*{output['subject']}*")
        st.text(output["text"])
        st.caption(f"{output['inputTokens']}+{output['outputTokens']} tokens · ${output['costUsd']} · "
                   f"{output['latencyMs']:.0f} ms")
        check = output.get("check") or {}
        if check.get("passed"):
            st.success("Checker: passes", icon=":material/check_circle:")
        for failure in check.get("failures", []):
            st.error(f"{failure['code']}: {failure['message']}")
        thumbs = st.radio("Rating", ["—", "👍", "👎"], horizontal=True, key=f"ai_playground_thumbs_{n}",
                          index={None: 0, 1: 1, -1: 2}[output.get("rating")])
        score = st.slider("Score", 1, 5, value=output.get("score") or 3, key=f"ai_playground_score_{n}")
        if st.button("Save rating", key=f"ai_playground_rate_{n}", disabled=not user.can_write):
            try:
                call("POST", f"/ai/playground/experiments/{chosen}/outputs/{n}/rating",
                     {"thumbs": {"—": None, "👍": 1, "👎": -1}[thumbs], "score": score})
            except session.ApiError as exc:
                st.error(exc.message)
            else:
                flash("success", f"Rated output {n + 1}.")
                st.rerun()
        template_name = st.text_input("Template name", key=f"ai_playground_export_name_{n}")
        if st.button("Export to template", key=f"ai_playground_export_{n}", disabled=not user.can_write):
            try:
                made = call("POST", f"/ai/playground/experiments/{chosen}/outputs/{n}/export",
                            {"name": template_name})
            except session.ApiError as exc:
                st.error(exc.message)  # next to the name it is about
            else:
                flash("success", f"Saved as template {made['name']} (variables: {', '.join(made['variablesUsed'])}).")
                st.rerun()

st.subheader("Cost and latency per model")
summary = pd.DataFrame(experiment["summary"])
summary = summary[summary["avgLatencyMs"].notna()].assign(
    avg_cost=lambda d: d["avgCostUsd"].astype(float), label=lambda d: d["provider"] + "/" + d["model"])
st.altair_chart(alt.Chart(summary).mark_circle(size=140).encode(
    x=alt.X("avgLatencyMs:Q", title="average latency (ms)"), y=alt.Y("avg_cost:Q", title="average cost ($)"),
    color=alt.Color("label:N", title="model"),
    tooltip=["label", "outputs", "avgLatencyMs", "avgCostUsd", "checkPassRate", "avgScore"]), width="stretch")
st.dataframe(summary[["label", "outputs", "errors", "costUsd", "avgLatencyMs", "checkPassRate", "thumbsUp",
                      "thumbsDown", "avgScore"]], hide_index=True, width="stretch")

st.subheader("History")
st.dataframe(pd.DataFrame([{"run": i + 1, "at": run["runAt"], "model": f"{o['provider']}/{o['model']}",
                            "subject": o["subject"], "cost": o["costUsd"], "latency ms": o["latencyMs"],
                            "passes": (o.get("check") or {}).get("passed"), "rating": o.get("rating"),
                            "score": o.get("score"), "error": o.get("error")}
                           for i, run in enumerate(experiment["runs"]) for o in run["outputs"]]),
             hide_index=True, width="stretch")
