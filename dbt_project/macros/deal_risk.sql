{#- The deal-risk rule, mirrored from serving/deals/health.py (the one definition; the API computes it live, this
    macro lets the nightly mart compute the same numbers). tests/pipelines/test_deal_risk_parity.py runs both on
    the same deals at every edge and asserts identical scores and reasons. Days are UTC calendar days. -#}
{% macro deal_risk_rule() -%}
    {{ return({
        'stage_threshold_days': {'discovery': 21, 'qualification': 21, 'proposal': 30, 'negotiation': 14},
        'inactivity_days': 14,
        'min_contacts': 2,
        'points': {'stalled_in_stage': 25, 'no_recent_activity': 25, 'close_date_passed': 30,
                   'single_threaded': 15, 'no_next_step': 10},
        'critical_from': 60,
        'at_risk_from': 30,
    }) }}
{%- endmacro %}

{% macro deal_stage_threshold_days(stage) -%}
    case {{ stage }}
    {%- for name, days in deal_risk_rule()['stage_threshold_days'].items() %}
        when '{{ name }}' then {{ days }}
    {%- endfor %}
    end
{%- endmacro %}
