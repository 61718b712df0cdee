{#- The lead-feature snapshot dates as a query of one column, `snapshot_date`: the open snapshot (the as-of date)
    and the `ml_snapshot_count - 1` dates of a fixed grid (every `ml_snapshot_interval_days` from
    `ml_snapshot_anchor`, a Monday: weekly snapshots) strictly before it. A grid anchored on a fixed date rather
    than on the as-of date lets a closed snapshot keep its date from one day to the next, so an incremental build
    adds new dates instead of recomputing every snapshot. -#}
{% macro ml_snapshot_dates() -%}
    {%- set interval = var('ml_snapshot_interval_days') -%}
    select {{ as_of_date() }} as snapshot_date
    union
    select (
        {{ as_of_date() }} - 1
        - ((({{ as_of_date() }} - 1 - cast('{{ var("ml_snapshot_anchor") }}' as date)) % {{ interval }}
            + {{ interval }}) % {{ interval }})
        - n * {{ interval }}
    )::date as snapshot_date
    from generate_series(0, {{ var('ml_snapshot_count') }} - 2) as n
{%- endmacro %}
