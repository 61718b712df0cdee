"""AI: the model layer (providers, routing, budgets), the e-mail writer and its checker, the playground."""
