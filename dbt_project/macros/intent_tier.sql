{#- Seed tiers: low 0–25, warm 26–50, hot 51–75, burning 76–100. -#}
{% macro intent_tier(score) -%}
    case
        when {{ score }} >= 76 then 'burning'
        when {{ score }} >= 51 then 'hot'
        when {{ score }} >= 26 then 'warm'
        else 'low'
    end
{%- endmacro %}
