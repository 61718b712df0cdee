{#- Post-hook on every model: tenant isolation for the dashboards' read-only role.
    Tables with `organization_id` get row-level security (policy `organization_id = app.current_org_id()`, as in
    the `app` schema); the owner connection that dbt, Dagster and reverse-ETL use bypasses it. Views become
    `security_invoker`, so a view over `app` tables applies those tables' policies to the reader instead of
    reading them with the owner's rights. Runs inside the model's transaction, so a rebuilt table is never
    visible to `revorc_readonly` without its policy. -#}
{#- sqlfluff cannot lay out the SQL this macro assembles in jinja (loops, a DO block's dynamic statements) -#}
-- noqa: disable=LT02
{% macro enable_tenant_rls() -%}
    {%- if execute -%}
    {%- set materialized = config.get('materialized') -%}
    do $$ begin
        {%- if materialized == 'view' %}
        execute 'alter view {{ this }} set (security_invoker = on)';
        {%- elif materialized in ('table', 'incremental') %}
        if exists (
            select 1 from information_schema.columns
            where table_schema = '{{ this.schema }}' and table_name = '{{ this.identifier }}'
                and column_name = 'organization_id'
        ) then
            execute 'alter table {{ this }} enable row level security';
            if not exists (
                select 1 from pg_policies
                where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
                    and policyname = 'tenant_isolation'
            ) then
                execute 'create policy tenant_isolation on {{ this }} for select'
                    ' using (organization_id = app.current_org_id())';
            end if;
        end if;
        {%- endif %}
        -- schema usage is granted once at the end of the run (grant_analytics_read): concurrent grants on one
        -- schema fail with "tuple concurrently updated"
        if exists (select 1 from pg_roles where rolname = 'revorc_readonly') then
            execute 'grant select on {{ this }} to revorc_readonly';
        end if;
    end $$
    {%- endif -%}
{%- endmacro %}
