{#- Pages that signal buying intent. -#}
{% macro is_high_intent_path(path) -%}
    coalesce({{ path }} ~* '^/(pricing|demo|request-demo|contact|contact-sales|trial|free-trial|signup|quote)(/|$|\?)',
             false)
{%- endmacro %}
