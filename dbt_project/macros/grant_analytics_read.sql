{#- Dashboards read the marts through the read-only role (run at the end of every dbt invocation). -#}
{% macro grant_analytics_read() -%}
    {%- if execute -%}
        do $$ begin
            if exists (select 1 from pg_roles where rolname = 'revorc_readonly') then
                grant usage on schema analytics to revorc_readonly;
                grant select on all tables in schema analytics to revorc_readonly;
            end if;
        end $$
    {%- endif -%}
{%- endmacro %}
