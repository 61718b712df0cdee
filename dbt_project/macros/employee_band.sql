{% macro employee_band(employees) -%}
    case
        when {{ employees }} is null then 'unknown'
        when {{ employees }} < 50 then '1-49'
        when {{ employees }} < 200 then '50-199'
        when {{ employees }} < 1000 then '200-999'
        when {{ employees }} < 5000 then '1000-4999'
        else '5000+'
    end
{%- endmacro %}
