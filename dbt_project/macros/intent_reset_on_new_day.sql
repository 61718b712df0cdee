{#- Pre-hook of the intent chain's incremental models: a table whose latest day is not the as-of date was built
    on another day, and every entity's decay (and the history window) has moved since: empty it, so the build
    recomputes every entity (the incremental filter finds no watermark). Within one day an entity's rows change
    only with its own signals. -#}
{#- sqlfluff cannot lay out the SQL this macro assembles in jinja (an if/else of statements) -#}
-- noqa: disable=LT02
{% macro intent_reset_on_new_day(date_column='score_date') -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where
        (select max(prev.{{ date_column }}) from {{ this }} as prev) is distinct from {{ as_of_date() }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
