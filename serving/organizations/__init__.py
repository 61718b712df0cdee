"""Organizations (tenants) and their teams."""
