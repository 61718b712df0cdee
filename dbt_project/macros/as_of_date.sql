{#- The date every time-relative rule is computed for: var `as_of`, else REVORC_AS_OF, else today. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', none) or env_var('REVORC_AS_OF', '') -%}
    {%- if value -%} cast('{{ value }}' as date) {%- else -%} current_date {%- endif -%}
{%- endmacro %}
