{#- Exponential decay: a signal loses half its weight every `half_life_days`. -#}
{% macro intent_decay(age_days, half_life_days) -%}
    power(0.5::numeric, ({{ age_days }})::numeric / nullif({{ half_life_days }}, 0)::numeric)
{%- endmacro %}
