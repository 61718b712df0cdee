"""Tables with a CSV download under each."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def table(frame: pd.DataFrame, *, name: str, key: str, column_config: dict[str, Any] | None = None,
          height: int | str = "auto") -> None:
    """Show a frame and offer it as `<name>.csv`."""
    st.dataframe(frame, hide_index=True, column_config=column_config, height=height, key=f"{key}_table")
    st.download_button("Download CSV", csv_bytes(frame), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}_csv", icon=":material/download:", on_click="ignore")
