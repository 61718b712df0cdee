{#- The incremental intent models' scope: the entities (organization, type, id) with rows in `relation` loaded
    after this model's watermark (`incremental_watermark(watermark)`), and the rows of another relation that
    belong to them. One definition for int_intent__daily_points, intent_score_history and
    int_intent__entity_scores.
    The join matches on entity_id alone and compares organization and type as a filter (`is not distinct from`
    is no join key): with the three columns as keys the planner may merge-join on (organization_id,
    entity_type) — the leading columns of an index, one value each in a one-tenant install — and test every
    pair of rows against entity_id, 485k history rows × 458 touched entities in 84 s at 5k prospects, where
    the entity_id join takes a fraction of a second. A touched entity has a type, so the filter is `=`. -#}
{#- `from_day` (a date column of `relation`): each entity also gets `from_day`, the earliest of that column over its
    new rows, clamped to the history window's first day: the first day the new rows can change. -#}
{% macro touched_entities(relation, loaded_at, watermark, from_day=none) -%}
    {%- set window_start = as_of_date() ~ ' - (' ~ var('intent_history_days') ~ ' - 1)' -%}
    select
        organization_id,
        entity_type,
        entity_id,
        {{ 'greatest(min(' ~ from_day ~ '), ' ~ window_start ~ ')' if from_day else 'null::date' }} as from_day
    from {{ relation }}
    where {{ loaded_at }} > {{ incremental_watermark(watermark) }} and entity_type is not null
    group by organization_id, entity_type, entity_id
{%- endmacro %}

{#- `columns`: columns of the touched entities to add to each row (e.g. `from_day`). -#}
{% macro touched_entity_rows(relation, touched='touched', columns=[]) -%}
    select r.*{% for column in columns %}, t.{{ column }}{% endfor %}
    from {{ relation }} as r
    inner join {{ touched }} as t
        on
            t.entity_id = r.entity_id
            and (t.organization_id, t.entity_type) is not distinct from (r.organization_id, r.entity_type)
{%- endmacro %}
