{#- E-mail templates by name, for the outreach page's template funnel. A view (security_invoker) over
    app.email_templates: a template created or renamed shows at once, under the table's row-level security. -#}
{{ config(materialized='view') }}

with templates as (
    select * from {{ ref('stg_app__email_templates') }}
),

final as (
    select
        template_id,
        organization_id,
        team_id,
        template_name,
        category,
        is_active,
        created_at
    from templates
)

select * from final
