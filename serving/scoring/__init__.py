"""Lead scoring in the operational app: model registry tables, predictions log, score history, team rules."""
