"""Streamlit dashboards for analysts: every number comes from the dbt marts in `analytics`."""
