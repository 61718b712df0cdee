"""Every query the dashboards run lives in this package (bound parameters, cached with a TTL)."""
