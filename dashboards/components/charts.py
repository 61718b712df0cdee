"""Altair charts the pages share (frames in, charts out; no queries)."""

from __future__ import annotations

import altair as alt
import pandas as pd

STAGE_COLORS = {"discovery": "#8ecae6", "qualification": "#219ebc", "proposal": "#023047", "negotiation": "#ffb703",
                "closed_won": "#2a9d8f", "closed_lost": "#e76f51"}
TIER_COLORS = {"low": "#adb5bd", "warm": "#f4a261", "hot": "#e76f51", "burning": "#9d0208"}


def bars(frame: pd.DataFrame, *, x: str, y: str, color: str | None = None, x_title: str | None = None,
         y_title: str | None = None, y_format: str = ",.0f", sort: list[str] | None = None,
         scale: dict[str, str] | None = None, height: int = 260) -> alt.Chart:
    encoding = {
        "x": alt.X(f"{x}:N", title=x_title, sort=sort),
        "y": alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=y_format)),
        "tooltip": [alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:Q", format=y_format)],
    }
    if color:
        domain, colors = (list(scale), list(scale.values())) if scale else (None, None)
        encoding["color"] = alt.Color(f"{color}:N", scale=alt.Scale(domain=domain, range=colors) if scale else
                                      alt.Undefined, legend=None if color == x else alt.Legend(orient="bottom"))
    return alt.Chart(frame).mark_bar().encode(**encoding).properties(height=height)


def lines(frame: pd.DataFrame, *, x: str, series: list[str], titles: dict[str, str] | None = None,
          y_title: str | None = None, y_format: str = ",.0f", height: int = 260) -> alt.Chart:
    long = frame.melt(id_vars=[x], value_vars=series, var_name="series", value_name="value")
    if titles:
        long["series"] = long["series"].map(titles).fillna(long["series"])
    return (alt.Chart(long).mark_line(point=True)
            .encode(x=alt.X(f"{x}:T", title=None), y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=y_format)),
                    color=alt.Color("series:N", legend=alt.Legend(orient="bottom", title=None)),
                    tooltip=[alt.Tooltip(f"{x}:T"), "series:N", alt.Tooltip("value:Q", format=y_format)])
            .properties(height=height))


def heatmap(frame: pd.DataFrame, *, x: str, y: str, value: str, y_sort: list[str], value_format: str = ".0%",
            value_title: str | None = None, height: int = 260) -> alt.Chart:
    return (alt.Chart(frame).mark_rect()
            .encode(x=alt.X(f"{x}:O", title="hour (UTC)"), y=alt.Y(f"{y}:N", sort=y_sort, title=None),
                    color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(scheme="blues"),
                                    legend=alt.Legend(format=value_format)),
                    tooltip=[f"{y}:N", f"{x}:O", alt.Tooltip(f"{value}:Q", format=value_format), "sent:Q"])
            .properties(height=height))


def diagonal_reference() -> alt.Chart:
    line = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    return alt.Chart(line).mark_line(strokeDash=[4, 4], color="#999").encode(x="x:Q", y="y:Q")
