{#- Exponential decay: a signal loses half its weight every `half_life_days`. The factor is computed in double
    precision (numeric `power` cost 16 of the 19 s of the daily points at 3,000 prospects) and multiplied into
    the numeric points, so sums stay exact and the same in a full and an incremental build. -#}
{% macro intent_decay(age_days, half_life_days) -%}
    power(0.5::float8, ({{ age_days }})::float8 / nullif({{ half_life_days }}, 0)::float8)::numeric
{%- endmacro %}
