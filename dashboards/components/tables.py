"""Tables with a CSV download under each: column names as people read them, and a link to the record a row is
about (the workspace's record pages) when the frame carries its id."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

# id column → (the workspace page that opens it, its query parameter)
RECORD_PAGES = {"deal_id": ("deals", "deal"), "prospect_id": ("prospects", "prospect"),
                "account_id": ("accounts", "account")}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def heading(column: str) -> str:
    """`deal_name` → `Deal name` (what a table shows; the CSV keeps the data's own names)."""
    return column.replace("_", " ").strip().capitalize()


def table(frame: pd.DataFrame, *, name: str, key: str, column_config: dict[str, Any] | None = None,
          height: int | str = "auto", link: str | None = None) -> None:
    """Show a frame and offer it as `<name>.csv`. `link` names an id column (`deal_id`, `prospect_id`,
    `account_id`): each row then opens its record, and the id itself is not shown."""
    shown = frame.copy()
    config = {heading(k): v for k, v in (column_config or {}).items()}
    if link is not None and link in shown.columns:
        page, param = RECORD_PAGES[link]
        shown.insert(0, "open", shown[link].astype(str).map(lambda v: f"/{page}?{param}={v}"))
        shown = shown.drop(columns=[link])
        config["Open"] = st.column_config.LinkColumn("Open", display_text="Open", width="small")
    shown.columns = [heading(c) for c in shown.columns]
    st.dataframe(shown, hide_index=True, column_config=config or None, height=height, key=f"{key}_table")
    export = frame.drop(columns=[link]) if link is not None and link in frame.columns else frame
    st.download_button("Download CSV", csv_bytes(export), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}_csv", icon=":material/download:", on_click="ignore")
