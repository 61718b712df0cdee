"""B2B accounts, their hierarchy and company profiles (seed 1.3)."""
