{#- Seniority from the CRM field, else inferred from the job title. -#}
{% macro title_seniority(seniority, title) -%}
    coalesce(
        nullif({{ seniority }}, ''),
        case
            when {{ title }} ~* '(^|\W)(chief|ceo|cfo|cto|coo|cmo|cro|founder|president)(\W|$)' then 'c_level'
            when {{ title }} ~* '(^|\W)(vp|vice president|svp|evp)(\W|$)' then 'vp'
            when {{ title }} ~* '(^|\W)(director|head of)(\W|$)' then 'director'
            when {{ title }} ~* '(^|\W)(manager|lead)(\W|$)' then 'manager'
            when {{ title }} is not null then 'individual'
        end,
        'unknown'
    )
{%- endmacro %}
