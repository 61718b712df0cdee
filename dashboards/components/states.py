"""Empty states and error messages, worded the same way on every page."""

from __future__ import annotations

import streamlit as st

from dashboards.data.db import DataUnavailable


def empty(message: str) -> None:
    st.info(message, icon=":material/info:")


def unavailable(exc: DataUnavailable) -> None:
    st.error(str(exc), icon=":material/cloud_off:")
