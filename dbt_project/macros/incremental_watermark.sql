{#- The incremental intent models' watermark: the highest `column` already in the table (rows matching `filter`),
    or -infinity when the table predates that column (a deployment's first build after the upgrade recomputes
    everything, as a full rebuild would; `reset_without_column` empties the stale rows first). -#}
{% macro incremental_watermark(column, filter='true') -%}
    {%- if column in _existing_columns() -%}
        (select coalesce(max(prev.{{ column }}), '-infinity'::timestamptz) from {{ this }} as prev where {{ filter }})
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: an incremental table built before `column` existed is emptied (its rows would never be replaced). -#}
{% macro reset_without_column(column) -%}
    {%- if is_incremental() and column not in _existing_columns() -%}
        delete from {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro _existing_columns() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list if relation else []) }}
{%- endmacro %}
