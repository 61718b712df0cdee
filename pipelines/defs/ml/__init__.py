"""The `ml` group: lead-scoring training and batch scoring assets (filled by the lead-scoring work).

Add assets here with `group_name="ml"` and depend on `analytics/ml_lead_features`
(`get_asset_key_for_model([revorc_dbt_models], "ml_lead_features")`); `pipelines.definitions` picks up
every asset in `pipelines.defs.ml.assets` when that module exists.
"""
