with source as (
    select * from {{ source('app', 'deal_contacts') }}
),

final as (
    select id as deal_contact_id, organization_id, deal_id, prospect_id, role, is_primary
    from source
)

select * from final
