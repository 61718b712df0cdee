{% macro revenue_band(revenue) -%}
    case
        when {{ revenue }} is null then 'unknown'
        when {{ revenue }} < 10000000 then '<10M'
        when {{ revenue }} < 50000000 then '10M-50M'
        when {{ revenue }} < 250000000 then '50M-250M'
        when {{ revenue }} < 1000000000 then '250M-1B'
        else '1B+'
    end
{%- endmacro %}
