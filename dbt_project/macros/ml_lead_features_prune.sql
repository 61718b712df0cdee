{#- Post-hook of the incremental `ml_lead_features`: drop the snapshot dates that left the grid (yesterday's open
    snapshot, the oldest weekly one) and the rows of prospects deleted since, so the table holds what a full
    rebuild would; index the snapshot date the incremental build looks built dates up by. -#}
{% macro ml_lead_features_prune() -%}
    delete from {{ this }} as f
    where f.snapshot_date not in ({{ ml_snapshot_dates() }})
        or not exists (select 1 from {{ ref('stg_app__prospects') }} as p where p.prospect_id = f.prospect_id);
    create index if not exists "ix_ml_lead_features__snapshot_date" on {{ this }} (snapshot_date)
{%- endmacro %}
