{% macro safe_divide(numerator, denominator, digits=4) -%}
    round(({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0), {{ digits }})
{%- endmacro %}
