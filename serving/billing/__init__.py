"""Plans, limits and Stripe billing (issue 18 §3)."""
