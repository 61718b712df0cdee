"""Machine learning for AIRevenueOrc: pure libraries, frames in and frames out (no HTTP, no Dagster)."""
