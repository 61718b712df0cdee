{#- Seed bands (serving/deals/rules.py): pipeline [0,25), best_case [25,75), commit [75,90), closed [90,100] or won;
    lost deals are omitted. -#}
{% macro forecast_category(probability, stage) -%}
    case
        when {{ stage }} = 'closed_won' then 'closed'
        when {{ stage }} = 'closed_lost' then 'omitted'
        when {{ probability }} >= 90 then 'closed'
        when {{ probability }} >= 75 then 'commit'
        when {{ probability }} >= 25 then 'best_case'
        else 'pipeline'
    end
{%- endmacro %}
