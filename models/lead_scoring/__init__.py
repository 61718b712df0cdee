"""Lead scoring: feature spec, training, metrics, registry, batch scoring, explanations, rules, BYOH.

Entry points for the platform (see README.md): `train.train`, `registry.ModelRegistry`,
`predict.score_frame`, `explain.explain`, `rules.score_with_rules`, `byoh.run_evaluate`.
"""
